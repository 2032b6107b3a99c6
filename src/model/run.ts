// Whole-batch forward passes split into micro-batches that fit the adapter's binding limits,
// with results concatenated along the batch axis (the first axis of every output).
import type { Transformer, CapturedHook } from './forward.js';

export interface RunOptions {
  hooks?: string[];
  logits?: boolean;
  /** false: skip the unembedding (nll is then all zeros) — for collecting activations only. */
  unembed?: boolean;
  onProgress?: (doneSequences: number, totalSequences: number) => void;
}

export interface RunResult {
  nll: Float32Array; // [B, T−1]
  logits: Float32Array | null; // [B, T, V]
  hooks: Map<string, CapturedHook>;
}

/** Sequences per micro-batch for sequences of length T (activations and attention maps must fit). */
export function sequencesPerBatch(model: Transformer, T: number, wantsPattern: boolean): number {
  let perBatch = Math.max(1, Math.floor(model.maxRows() / T));
  if (wantsPattern) {
    const patternBytesPerSeq = 4 * model.spec.nHeads * T * T;
    perBatch = Math.min(perBatch, Math.max(1, Math.floor(model.gpu.maxBinding / patternBytesPerSeq)));
  }
  return perBatch;
}

export async function runSequences(model: Transformer, ids: ArrayLike<number>, B: number, T: number, options: RunOptions = {}): Promise<RunResult> {
  const hooks = options.hooks ?? [];
  const perBatch = sequencesPerBatch(model, T, hooks.some((h) => /hook_(pattern|attn_scores)$/.test(h)));
  const V = model.spec.vocab;
  const nll = new Float32Array(B * (T - 1));
  const logits = options.logits ? new Float32Array(B * T * V) : null;
  const out = new Map<string, CapturedHook>();
  for (let b0 = 0; b0 < B; b0 += perBatch) {
    const nb = Math.min(perBatch, B - b0);
    const slice = Array.prototype.slice.call(ids, b0 * T, (b0 + nb) * T) as number[];
    const result = await model.forward({ ids: slice, batch: nb, seq: T, hooks, logits: logits ? 'all' : 'none', unembed: options.unembed });
    if (result.nll.length) nll.set(result.nll, b0 * (T - 1));
    if (logits && result.logits) logits.set(result.logits, b0 * T * V);
    for (const [name, hook] of result.hooks) {
      let target = out.get(name);
      if (!target) {
        const shape = [B, ...hook.shape.slice(1)];
        target = { shape, data: new Float32Array(shape.reduce((a, c) => a * c, 1)) };
        out.set(name, target);
      }
      target.data.set(hook.data, b0 * (hook.data.length / nb));
    }
    options.onProgress?.(b0 + nb, B);
  }
  return { nll, logits, hooks: out };
}
