// Strategy "suffix-cached": an intervention at position p of one sequence changes positions p..T−1
// only (attention is causal), so each variant re-runs just that suffix from layer l on, its rows
// attending to the cached run's keys / values for positions < p and to their own new ones from p on
// (Transformer.forward's `cache` rows; shaders/single-position.wgsl cached_attention). Variants of
// different p are packed into one batch of rows up to the device's row limit. Per patch at p this
// recomputes T − p positions instead of T: about half the work of re-running whole sequences.
import type { HookSite, Transformer } from '../model/forward.js';
import type { CleanRun } from './clean-run.js';

/** One variant of a batch: the unit it computes, its first re-run position p and the batch row holding p. */
export interface SuffixVariant { unit: number; p: number; row0: number }

/** Records GPU edits at a hook site for the variants of one batch (rows laid out variant after variant, T − p each). */
export type SuffixEditor = (site: HookSite, variants: SuffixVariant[]) => void;

/**
 * Runs units `units` (each starting at position `startOf(unit)`) of the one-sequence run `cached`
 * (captured with `keepAttention`) from `layer` on; returns the logits of each unit's last position
 * [units.length, V] in order.
 */
export async function runSuffixVariants(
  model: Transformer,
  cached: CleanRun,
  layer: number,
  units: number[],
  startOf: (unit: number) => number,
  edit: SuffixEditor,
  onProgress?: (done: number) => void,
): Promise<Float32Array> {
  const { gpu, kernels, spec } = model;
  const T = cached.T;
  if (cached.B !== 1) throw new Error('suffix re-runs continue one cached sequence (B = 1)');
  const d = spec.dModel;
  const V = spec.vocab;
  const maxRows = model.maxRows();
  const out = new Float32Array(units.length * V);
  const resid = cached.buffer(`blocks.${layer}.hook_resid_pre`);
  for (let k = 0; k < units.length;) {
    const batch: SuffixVariant[] = [];
    let R = 0;
    for (; k < units.length; k++) {
      const p = startOf(units[k]);
      if (batch.length && R + (T - p) > maxRows) break;
      batch.push({ unit: units[k], p, row0: R });
      R += T - p;
    }
    const ids = new Int32Array(R);
    const positions = new Uint32Array(R);
    const rowInfo4 = new Uint32Array(4 * R);
    const pairs = new Uint32Array(2 * R);
    let keys = 0;
    for (const { p, row0 } of batch) {
      for (let t = p; t < T; t++) {
        const r = row0 + t - p;
        ids[r] = cached.ids[t];
        positions[r] = t;
        rowInfo4.set([0, t, p, row0], 4 * r);
        pairs.set([r, t], 2 * r);
        keys += t + 1;
      }
    }
    const start = gpu.createBuffer('suffix:resid', R * d * 4);
    const pairsBuf = gpu.upload('suffix:rows', pairs);
    kernels.copyRows(start, resid, pairsBuf, R, d);
    const result = await model.forward({
      ids, batch: R, seq: 1, positions, start: { layer, resid: start },
      cache: { rowInfo4, keys, qk: (l) => cached.buffer(`blocks.${l}.qk_attn`), v: (l) => cached.buffer(`blocks.${l}.qkv`) },
      onHook: (site) => edit(site, batch),
      logits: batch.map(({ p, row0 }) => row0 + T - 1 - p), nll: false,
    });
    start.destroy();
    pairsBuf.destroy();
    out.set(result.logits!, (k - batch.length) * V);
    onProgress?.(k);
  }
  return out;
}
