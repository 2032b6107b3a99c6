// The stream-K grid probe (src/gpu/streamk-grid.ts) on this adapter: the time of n equal 128 × bn
// tiles for a ladder of n (the "waves" curve) and the grid the probe's search picks, per tile width.
//
//   npx tsx bench/streamk-probe.ts [--counts 1,2,4,...] [--depth 2048] [--repeats 3]
//
// Prints one JSON object to stdout; progress goes to stderr.
import { parseArgs } from 'node:util';
import { installNavigatorGpu, isMain, log, registerWgslLoader, round } from './matmul.js';

export async function runStreamKProbeBench(opts: { counts?: number[]; depth?: number; repeats?: number } = {}): Promise<object> {
  registerWgslLoader();
  await installNavigatorGpu();
  const { Gpu } = await import('../src/gpu/device.js');
  const { Kernels } = await import('../src/gpu/kernels.js');
  const { probeStreamKGrid, tileConcurrencyCurve } = await import('../src/gpu/streamk-grid.js');
  const gpu = await Gpu.create();
  const kernels = new Kernels(gpu, { autotune: false });
  const counts = opts.counts ?? [1, 2, 4, 8, 16, 32, 64, 96, 128, 132, 133, 160, 192, 256, 264, 265, 300, 396, 397, 512, 528, 529, 660, 792, 1024];
  const byWidth = [];
  for (const bn of [128, 64] as const) {
    const curve = await tileConcurrencyCurve(kernels, bn, counts, { depth: opts.depth, repeats: opts.repeats });
    const probe = await probeStreamKGrid(kernels, bn, { depth: opts.depth, repeats: opts.repeats });
    log(`128×${bn}: grid ${probe.grid}; curve ${curve.points.map((p) => `${p.tiles}: ${p.medianMs.toFixed(3)}`).join(', ')} ms`);
    byWidth.push({
      bn,
      grid: probe.grid,
      timer: curve.timer,
      curve: curve.points.map((p) => ({ tiles: p.tiles, ms: round(p.medianMs, 4) })),
      search: probe.points.map((p) => ({ tiles: p.tiles, ms: round(p.medianMs, 4) })),
    });
  }
  const result = { bench: 'streamk-probe', adapter: gpu.describe(), date: new Date().toISOString(), depth: opts.depth ?? 2048, widths: byWidth };
  gpu.destroy();
  return result;
}

if (isMain(import.meta.url, 'streamk-probe')) {
  const { values } = parseArgs({ options: { counts: { type: 'string' }, depth: { type: 'string' }, repeats: { type: 'string' } } });
  const result = await runStreamKProbeBench({
    counts: values.counts?.split(',').map(Number),
    depth: values.depth ? Number(values.depth) : undefined,
    repeats: values.repeats ? Number(values.repeats) : undefined,
  });
  console.log(JSON.stringify(result, null, 1));
  process.exit(0);
}
