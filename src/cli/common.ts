// Shared CLI plumbing: the embedded default model, opening the GPU and a model, reading inputs.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gpu } from '../gpu/device.js';
import { loadModel } from '../model/load.js';
import type { AttentionVariant, MatmulVariant } from '../gpu/kernels.js';
import type { Transformer } from '../model/forward.js';
import { progressBar } from './progress.js';
import { readIdsFile, type TokenBatch } from './ids.js';
import { loadTokenizer } from '../io/tokenizer.js';
import { parseByteSize } from '../gpu/memory-budget.js';

export const DEFAULT_MODEL_NAME = 'gpt2-brown';

/** weights/gpt2-brown beside the bundle (dist/) or the sources (src/cli/). */
export function defaultModelDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ['..', '../..']) {
    const dir = path.resolve(here, up, 'weights', DEFAULT_MODEL_NAME);
    if (existsSync(path.join(dir, 'config.json'))) return dir;
  }
  throw new Error(`the embedded model weights/${DEFAULT_MODEL_NAME} was not found; pass --model DIR`);
}

/** Largest tensor a command writes: each is assembled in memory first. */
const MAX_OUTPUT_BYTES = 2 ** 31;

/** Refuses, before any work, an output tensor that cannot be held in memory, naming it and what to change. */
export function checkOutputSize(name: string, shape: number[], hint: string): void {
  const bytes = 4 * shape.reduce((a, b) => a * b, 1);
  if (bytes > MAX_OUTPUT_BYTES) {
    throw new Error(`output ${name} [${shape.join(', ')}] would take ${(bytes / 1e9).toFixed(1)} GB (limit ${MAX_OUTPUT_BYTES / 2 ** 30} GiB per tensor): ${hint}`);
  }
}

/** --memory-budget (bytes a batch's working buffers may take; default PLATEAU_MEMORY_BUDGET, else 4 GiB). */
export interface MemoryOptions { memoryBudget?: string }

/** --matmul / --attention: one kernel variant forced for the whole command (commander checks the names). */
export interface KernelChoiceOptions {
  matmul?: MatmulVariant;
  attention?: AttentionVariant;
}

export async function openGpu(opts: MemoryOptions = {}, profiling = false): Promise<Gpu> {
  return Gpu.create({
    ...(profiling ? { dawnFlags: ['disable-dawn-features=timestamp_quantization'] } : {}),
    ...(opts.memoryBudget !== undefined ? { memoryBudget: parseByteSize(opts.memoryBudget, '--memory-budget') } : {}),
  });
}

export async function openModel(gpu: Gpu, dir: string | undefined, storage: 'auto' | 'f32' = 'auto', kernels: KernelChoiceOptions = {}): Promise<{ model: Transformer; dir: string }> {
  const modelDir = dir ?? defaultModelDir();
  const bar = progressBar('loading weights', 1, 'tensors');
  const model = await loadModel(gpu, modelDir, {
    storage,
    onProgress: (done, total) => bar.update(done, total),
    kernels: { matmul: kernels.matmul, attention: kernels.attention },
  });
  bar.stop();
  return { model, dir: modelDir };
}

export interface InputOptions extends MemoryOptions, KernelChoiceOptions {
  ids?: string;
  /** One row per --text (equal token lengths). */
  text?: string[];
  bos?: boolean;
}

/** Token ids from --ids FILE or --text (each tokenized with the model folder's tokenizer.json, one row per text). */
export async function readInputs(opts: InputOptions, modelDir: string, model: Transformer): Promise<TokenBatch> {
  if (opts.ids && opts.text) throw new Error('give either --ids or --text, not both');
  if (opts.ids) return readIdsFile(opts.ids);
  if (opts.text?.length) {
    const tokenizer = await loadTokenizer(modelDir);
    const bos = tokenizer.bosId ?? tokenizer.eosId;
    if (opts.bos && bos === null) throw new Error(`--bos: the tokenizer in ${modelDir} defines no BOS/EOS token`);
    const rows = opts.text.map((text, i) => {
      const ids = tokenizer.encode(text);
      if (opts.bos) ids.unshift(bos!);
      const which = opts.text!.length > 1 ? `--text #${i + 1}` : '--text';
      if (ids.length === 0) throw new Error(`${which}: the text encodes to no tokens`);
      if (ids.length > model.spec.nCtx) throw new Error(`${which}: ${ids.length} tokens exceed the model's context length ${model.spec.nCtx}`);
      return ids;
    });
    const T = rows[0].length;
    const other = rows.findIndex((r) => r.length !== T);
    if (other >= 0) {
      throw new Error(`--text: every text must encode to the same number of tokens (rows of one batch): #1 has ${T}, #${other + 1} has ${rows[other].length} (${JSON.stringify(opts.text[other])})`);
    }
    return { ids: Int32Array.from(rows.flat()), B: rows.length, T };
  }
  throw new Error('missing input: pass --ids FILE (JSON or safetensors with input_ids) or --text "..."');
}

/** Runs a command body, printing errors as one clear line and exiting non-zero. */
export function action<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (e) {
      const err = e as Error;
      console.error(`plateau: ${err.message}`);
      if (process.env.PLATEAU_DEBUG) console.error(err.stack);
      process.exitCode = 1;
    }
  };
}
