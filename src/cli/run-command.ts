// `plateau run`: one forward pass over a batch, writing logits, nll and the requested hooks.
import { writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { hookShape, resolveHooks } from '../model/hooks.js';
import type { ModelSpec } from '../model/spec.js';
import { runSequences } from '../model/run.js';
import { checkOutputSize, openGpu, openModel, readInputs, type InputOptions } from './common.js';
import { progressBar } from './progress.js';

export interface RunCommandOptions extends InputOptions {
  model?: string;
  hooks?: string;
  out: string;
  logits: boolean;
  weights: 'auto' | 'f32';
}

/** Refuses, before any work, logits or hooks that cannot be held in memory. */
function checkOutputSizes(spec: ModelSpec, B: number, T: number, logits: boolean, hooks: string[]): void {
  if (logits) checkOutputSize('logits', [B, T, spec.vocab], 'pass --no-logits (nll is still written) or fewer rows');
  for (const h of hooks) checkOutputSize(h, hookShape(spec, h, B, T), 'request fewer hooks or fewer rows');
}

export async function runCommand(opts: RunCommandOptions): Promise<void> {
  const gpu = await openGpu(opts);
  try {
    const { model, dir } = await openModel(gpu, opts.model, opts.weights, opts);
    const hooks = resolveHooks(model.spec, opts.hooks);
    const batch = await readInputs(opts, dir, model);
    checkOutputSizes(model.spec, batch.B, batch.T, opts.logits, hooks);
    const bar = progressBar('forward', batch.B, 'seqs');
    const result = await runSequences(model, batch.ids, batch.B, batch.T, { hooks, logits: opts.logits, onProgress: (done) => bar.update(done) });
    bar.stop();
    const tensors: TensorToWrite[] = [];
    if (result.logits) tensors.push({ name: 'logits', dtype: 'F32', shape: [batch.B, batch.T, model.spec.vocab], data: result.logits });
    tensors.push({ name: 'nll', dtype: 'F32', shape: [batch.B, batch.T - 1], data: result.nll });
    tensors.push({ name: 'input_ids', dtype: 'I64', shape: [batch.B, batch.T], data: batch.ids });
    for (const [name, hook] of result.hooks) tensors.push({ name, dtype: 'F32', shape: hook.shape, data: hook.data });
    await writeSafetensors(opts.out, tensors, {
      'plateau.command': 'run',
      'plateau.model': dir,
      'plateau.adapter': gpu.describe(),
      'plateau.weights': model.weights.storage,
    });
    let mean = 0;
    for (const v of result.nll) mean += v;
    mean /= Math.max(1, result.nll.length);
    console.log(JSON.stringify({ out: opts.out, batch: batch.B, seq: batch.T, meanNll: Number(mean.toFixed(6)), hooks: [...result.hooks.keys()].length, adapter: gpu.describe() }));
    model.destroy();
  } finally {
    gpu.destroy();
  }
}
