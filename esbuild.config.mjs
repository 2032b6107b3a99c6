// Bundles the CLI for Node (dist/plateau.mjs). WGSL files are embedded as strings.
import * as esbuild from 'esbuild';

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
