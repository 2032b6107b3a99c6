// Scale check (not run in CI): a random GPT-2 XL-shaped checkpoint (1.56B parameters, f16 = 3.1 GB)
// written to a temporary folder, loaded tensor by tensor, and one forward pass on a short batch —
// on whatever adapter this machine has (lavapipe on a GPU-less box). Prints JSON: write and load
// GB/s, forward time, peak RSS.
//   node dist/bench/scale-check.mjs [--shape gpt2-xl] [--tokens 8]        (write, load, forward, delete)
//   node dist/bench/scale-check.mjs --write-only --keep DIR; node dist/bench/scale-check.mjs --model DIR
//     (two processes, so that the loader's peak RSS is measured without the writer's arrays)
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { Gpu } from '../src/gpu/device.js';
import { loadModel } from '../src/model/load.js';
import { SHAPES, writeRandomCheckpoint } from '../src/model/random-checkpoint.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const shapeName = flag('shape', 'gpt2-xl') as keyof typeof SHAPES;
const tokens = Number(flag('tokens', '8'));
const existing = flag('model', '');
const dir = existing || flag('keep', '') || path.join(mkdtempSync(path.join(os.tmpdir(), 'plateau-scale-')), 'model');
let peakRss = 0;
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage().rss); }, 50);

let t = performance.now();
if (!existing) await writeRandomCheckpoint(dir, { ...SHAPES[shapeName], dtype: 'F16', seed: 7 });
const writeSeconds = existing ? null : (performance.now() - t) / 1000;
if (process.argv.includes('--write-only')) {
  console.log(JSON.stringify({ bench: 'scale-check', wrote: dir, writeSeconds, peakRssGB: Number((process.memoryUsage().rss / 1e9).toFixed(2)) }));
  process.exit(0);
}
const bytes = statSync(path.join(dir, 'model.safetensors')).size;
const rssAfterWrite = process.memoryUsage().rss;

const gpu = await Gpu.create();
t = performance.now();
const model = await loadModel(gpu, dir);
await gpu.sync();
const loadSeconds = (performance.now() - t) / 1000;
const params = model.spec.nLayers * (12 * model.spec.dModel ** 2) + model.spec.vocab * model.spec.dModel;

const ids = Int32Array.from({ length: tokens }, (_, i) => (i * 7919 + 11) % model.spec.vocab);
await model.forward({ ids, batch: 1, seq: tokens }); // compiles the pipelines
t = performance.now();
const result = await model.forward({ ids, batch: 1, seq: tokens });
const forwardSeconds = (performance.now() - t) / 1000;
clearInterval(sampler);
peakRss = Math.max(peakRss, process.memoryUsage().rss);

console.log(JSON.stringify({
  bench: 'scale-check',
  date: new Date().toISOString(),
  adapter: gpu.describe(),
  shape: shapeName,
  parameters: params,
  checkpointBytes: bytes,
  weightsOnGpu: model.weights.storage,
  writeSeconds: writeSeconds === null ? null : Number(writeSeconds.toFixed(2)),
  loadSeconds: Number(loadSeconds.toFixed(2)),
  loadGBps: Number((bytes / 1e9 / loadSeconds).toFixed(3)),
  forwardTokens: tokens,
  forwardSeconds: Number(forwardSeconds.toFixed(2)),
  meanNll: result.nll.reduce((a, b) => a + b, 0) / Math.max(1, result.nll.length),
  peakRssGB: Number((peakRss / 1e9).toFixed(2)),
  rssAfterWriteGB: Number((rssAfterWrite / 1e9).toFixed(2)),
}));
model.destroy();
gpu.destroy();
if (!flag('keep', '') && !existing) rmSync(path.dirname(dir), { recursive: true, force: true });
