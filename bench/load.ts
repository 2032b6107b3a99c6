// Weight loading: GB/s from a safetensors checkpoint on disk to GPU buffers through the real
// loader (loadModel: header parse, positional reads per tensor, f16 kept packed, chunked uploads),
// for a random GPT-2-small-shaped f32 and a Pythia-160M-shaped f16 checkpoint. The file was just
// written, so reads come from the page cache: this measures the loader and the upload path, not
// the disk. A raw read of the same file (fs read into one buffer) is timed as the ceiling.
//
//   npx tsx bench/load.ts [--layers 12] [--repeats 3] [--models gpt2,pythia]
//
// Defaults on a software adapter: 4 layers, 2 loads each. Prints one JSON object to stdout.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { installNavigatorGpu, isMain, isSoftwareAdapter, log, median, registerWgslLoader, round } from './matmul.js';
import { writeRandomModel, type RandomArch } from './forward.js';

async function rawRead(file: string): Promise<number> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const buf = Buffer.allocUnsafe(Math.min(size, 64 << 20));
    const t0 = performance.now();
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await handle.read(buf, 0, Math.min(buf.length, size - pos), pos);
      if (bytesRead === 0) break;
      pos += bytesRead;
    }
    return performance.now() - t0;
  } finally {
    await handle.close();
  }
}

export interface LoadBenchOptions {
  layers?: number;
  repeats?: number;
  models?: RandomArch[];
}

export async function runLoadBench(opts: LoadBenchOptions = {}): Promise<object> {
  registerWgslLoader();
  await installNavigatorGpu();
  const { Gpu } = await import('../src/gpu/device.js');
  const { loadModel } = await import('../src/model/load.js');
  const gpu = await Gpu.create();
  const software = isSoftwareAdapter(gpu);
  const layers = opts.layers ?? (software ? 4 : 12);
  const repeats = opts.repeats ?? (software ? 2 : 3);
  const models = opts.models ?? ['gpt2', 'pythia'];
  log(`adapter ${gpu.describe()}; ${layers} layers, ${repeats} loads each`);
  const rows = [];
  for (const arch of models) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `plateau-bench-load-${arch}-`));
    try {
      await writeRandomModel(dir, { arch, layers });
      const file = path.join(dir, 'model.safetensors');
      const fileBytes = statSync(file).size;
      const loads: number[] = [];
      let storage = '';
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        const model = await loadModel(gpu, dir);
        await gpu.sync(); // uploads have landed
        loads.push(performance.now() - t0);
        storage = model.weights.storage;
        model.destroy();
      }
      const raw = median([await rawRead(file), await rawRead(file)]);
      const ms = median(loads);
      const row = {
        model: arch === 'gpt2' ? 'gpt2-small-shaped' : 'pythia-160m-shaped',
        layers, fileBytes, storage,
        loadMs: round(ms, 1),
        loadGBps: round(fileBytes / (ms * 1e6), 3),
        rawReadGBps: round(fileBytes / (raw * 1e6), 3),
      };
      log(`${row.model}: ${(fileBytes / 1e6).toFixed(0)} MB in ${row.loadMs} ms = ${row.loadGBps} GB/s (raw read ${row.rawReadGBps} GB/s)`);
      rows.push(row);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const out = { bench: 'load', adapter: gpu.describe(), date: new Date().toISOString(), note: 'file freshly written: reads from the page cache', models: rows };
  gpu.destroy();
  return out;
}

if (isMain(import.meta.url, 'load')) {
  const { values } = parseArgs({ options: { layers: { type: 'string' }, repeats: { type: 'string' }, models: { type: 'string' } } });
  const result = await runLoadBench({
    layers: values.layers ? Number(values.layers) : undefined,
    repeats: values.repeats ? Number(values.repeats) : undefined,
    models: values.models?.split(',') as RandomArch[] | undefined,
  });
  console.log(JSON.stringify(result, null, 1));
  process.exit(0);
}
