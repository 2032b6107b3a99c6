// Shared by the benchmarks: command-line flags and the model they run on — a random checkpoint of
// a named real shape written to a temporary folder (--shape, --layers, --dtype), or --model DIR.
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { Gpu } from '../../src/gpu/device.js';
import { loadModel } from '../../src/model/load.js';
import type { Transformer } from '../../src/model/forward.js';
import { SHAPES, writeRandomCheckpoint, type RandomModelShape } from '../../src/model/random-checkpoint.js';

/** `--name value` from the command line, or `fallback`. */
export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

export interface BenchModel {
  gpu: Gpu;
  model: Transformer;
  /** What the JSON output records about the model. */
  shapeInfo: Record<string, unknown>;
  /** Destroys the model and device and removes the temporary checkpoint. */
  close(): void;
}

export async function openBenchModel(): Promise<BenchModel> {
  const shapeName = flag('shape', 'gpt2-small') as keyof typeof SHAPES;
  const shape: RandomModelShape = {
    ...SHAPES[shapeName], nLayers: Number(flag('layers', String(SHAPES[shapeName].nLayers))), dtype: flag('dtype', 'F32') as 'F32' | 'F16',
  };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'plateau-bench-'));
  const given = flag('model', '');
  const modelDir = given || path.join(tmp, 'model');
  if (!given) await writeRandomCheckpoint(modelDir, shape);
  const gpu = await Gpu.create();
  const model = await loadModel(gpu, modelDir);
  const { spec } = model;
  const shapeInfo = given
    ? { model: given, arch: spec.arch, dModel: spec.dModel, nLayers: spec.nLayers, nHeads: spec.nHeads, vocab: spec.vocab, dMlp: spec.dMlp }
    : { name: shapeName, ...shape, dMlp: spec.dMlp };
  return {
    gpu, model, shapeInfo,
    close() {
      model.destroy();
      gpu.destroy();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}
