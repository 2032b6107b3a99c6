// Loading a Hugging Face model folder (config.json + safetensors, single or sharded) onto the GPU.
import type { Gpu } from '../gpu/device.js';
import { Checkpoint } from '../io/checkpoint.js';
import { importNodeFs, importNodePath } from '../io/byte-source.js';
import { specFromConfig } from './spec.js';
import { loadWeights, type LoadOptions } from './weights.js';
import { Transformer } from './forward.js';
import type { KernelsOptions } from '../gpu/kernels.js';

export interface ModelLoadOptions extends LoadOptions {
  /** Kernel choices of the model's Kernels (forced matmul / attention variants, autotune on or off). */
  kernels?: KernelsOptions;
}

export async function readConfig(dir: string): Promise<unknown> {
  const fs = await importNodeFs();
  const path = await importNodePath();
  const file = path.join(dir, 'config.json');
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch {
    throw new Error(`${dir}: no config.json (a model folder needs config.json and model.safetensors or its shards)`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
}

/** Loads a model folder in Node. */
export async function loadModel(gpu: Gpu, dir: string, options: ModelLoadOptions = {}): Promise<Transformer> {
  const config = await readConfig(dir);
  const spec = specFromConfig(config, `${dir}/config.json`);
  const ckpt = await Checkpoint.openDir(dir);
  try {
    const weights = await loadWeights(gpu, spec, ckpt, dir, options);
    return new Transformer(gpu, spec, weights, options.kernels);
  } finally {
    await ckpt.close();
  }
}

/** Loads from already-opened sources (the browser's file picker path). */
export async function loadModelFromCheckpoint(gpu: Gpu, config: unknown, ckpt: Checkpoint, where: string, options: ModelLoadOptions = {}): Promise<Transformer> {
  const spec = specFromConfig(config, `${where}/config.json`);
  const weights = await loadWeights(gpu, spec, ckpt, where, options);
  return new Transformer(gpu, spec, weights, options.kernels);
}
