import { defineConfig } from 'vitest/config';

// WGSL sources are imported as strings, as esbuild's text loader does for the bundles.
const wgslAsText = {
  name: 'wgsl-as-text',
  transform(code: string, id: string) {
    if (id.endsWith('.wgsl')) return { code: `export default ${JSON.stringify(code)};`, map: null };
    return undefined;
  },
};

export default defineConfig({
  plugins: [wgslAsText],
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    // GPU tests share one software adapter on 2 cores: run files one after another.
    fileParallelism: false,
    testTimeout: 0,
    hookTimeout: 0,
  },
});
