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

// ---- Web page (src/web) -------------------------------------------------------------------------
// dist/web/: main.js (the engine for the browser, vega/vega-lite/vega-embed included), index.html,
// and vendor/*.min.js (the UMD builds that the page inlines into a downloaded report.html).
// Node built-ins that shared modules import for their Node-only paths (e.g. readCorpus) resolve to
// an empty stub: the page never calls those paths. `--no-web` skips this block.
if (!process.argv.includes('--no-web')) {
  const { copyFileSync, mkdirSync } = await import('node:fs');
  const { createRequire } = await import('node:module');
  const { dirname, join } = await import('node:path');
  const nodeBuiltinsStub = {
    name: 'node-builtins-stub',
    setup(build) {
      build.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path, namespace: 'node-stub' }));
      build.onLoad({ filter: /.*/, namespace: 'node-stub' }, () => ({ contents: 'module.exports = {};', loader: 'js' }));
    },
  };
  await esbuild.build({
    ...common,
    entryPoints: ['src/web/main.ts'],
    outfile: 'dist/web/main.js',
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    plugins: [nodeBuiltinsStub],
  });
  mkdirSync('dist/web/vendor', { recursive: true });
  copyFileSync('src/web/index.html', 'dist/web/index.html');
  const require = createRequire(import.meta.url);
  for (const [pkg, file] of [['vega', 'vega.min.js'], ['vega-lite', 'vega-lite.min.js'], ['vega-embed', 'vega-embed.min.js']]) {
    copyFileSync(join(dirname(require.resolve(pkg)), file), join('dist/web/vendor', file));
  }
}
