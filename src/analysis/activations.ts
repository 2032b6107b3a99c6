// Final-layer MLP activations (hook_post) over token rows: streamed column means over a corpus
// sample (for mean ablation), and the full activation matrix of the analysed rows.
import type { Transformer } from '../model/forward.js';
import { sequencesPerBatch } from '../model/run.js';
import { flattenRows } from './corpus.js';

export function postHook(model: Transformer): string {
  return `blocks.${model.spec.nLayers - 1}.mlp.hook_post`;
}

/** Mean of every final-layer neuron's hook_post over all positions of all rows. */
export async function meanActivations(model: Transformer, rows: Int32Array[], onProgress?: (done: number, total: number) => void): Promise<Float32Array> {
  const hook = postHook(model);
  const m = model.spec.dMlp;
  const T = rows[0].length;
  const perBatch = sequencesPerBatch(model, T, false);
  const sums = new Float64Array(m);
  let count = 0;
  for (let b0 = 0; b0 < rows.length; b0 += perBatch) {
    const batch = rows.slice(b0, b0 + perBatch);
    const result = await model.forward({ ids: flattenRows(batch), batch: batch.length, seq: T, hooks: [hook], unembed: false });
    const post = result.hooks.get(hook)!.data;
    for (let r = 0; r < batch.length * T; r++) for (let i = 0; i < m; i++) sums[i] += post[r * m + i];
    count += batch.length * T;
    onProgress?.(Math.min(rows.length, b0 + perBatch), rows.length);
  }
  return Float32Array.from(sums, (s) => s / count);
}

/** Rows of a [rows × m] activation matrix at the given flat positions b·T + t. */
export function activationsAt(post: Float32Array, m: number, positions: ArrayLike<number>): Float32Array {
  const out = new Float32Array(positions.length * m);
  for (let j = 0; j < positions.length; j++) out.set(post.subarray(positions[j] * m, (positions[j] + 1) * m), j * m);
  return out;
}
