// Bundles the CLI for Node (dist/plateau.mjs) and each benchmark (dist/bench/NAME.mjs).
// WGSL files are embedded as strings. `--device` also writes dist/device/*.mjs with every npm
// package inlined except `webgpu` (for running on a machine that has no node_modules).
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';

const common = {
  bundle: true,
  loader: { '.wgsl': 'text' },
  sourcemap: true,
  logLevel: 'warning',
};

await esbuild.build({
  ...common,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/plateau.mjs',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  banner: { js: '#!/usr/bin/env node' },
});

const benchEntries = readdirSync('bench').filter((f) => f.endsWith('.ts')).map((f) => `bench/${f}`);
const nodeBundle = { ...common, platform: 'node', format: 'esm', target: 'node20' };
await esbuild.build({
  ...nodeBundle,
  entryPoints: benchEntries,
  outdir: 'dist/bench',
  outExtension: { '.js': '.mjs' },
  packages: 'external',
});

if (process.argv.includes('--device')) {
  await esbuild.build({
    ...nodeBundle,
    entryPoints: [...benchEntries, 'src/cli/main.ts'],
    outdir: 'dist/device',
    entryNames: '[name]',
    outExtension: { '.js': '.mjs' },
    sourcemap: false,
    external: ['webgpu'],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
}
