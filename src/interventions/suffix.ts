// Strategy "suffix-cached": an intervention at position p of one sequence changes positions p..T−1
// only (attention is causal), so each variant re-runs just that suffix from layer l on, its rows
// attending to the cached run's keys / values for positions < p and to their own new ones from p on
// (Transformer.forward's `cache` rows; shaders/single-position.wgsl cached_attention). Variants of
// different p are packed into one batch of rows up to the device's row limit. Per patch at p this
// recomputes T − p positions instead of T: about half the work of re-running whole sequences.
// forwardCachedRows, the one forward over rows that continue a cached run, also serves the BOS
// sweep's single positions (single-position.ts).
import type { ForwardRequest, ForwardResult, HookSite, Transformer } from '../model/forward.js';
import type { CleanRun } from './clean-run.js';

/** Rows re-run against a cached run (see Transformer.forward's `cache`). */
export interface CachedRows {
  ids: Int32Array;
  /** Per row (cache row of position 0, t, prefix, batch row of position `prefix`): keys < prefix come from the cache. */
  rowInfo4: Uint32Array;
  /** Per row, the cached run's row whose resid_pre(layer) it starts from. */
  sources: Uint32Array;
}

/**
 * One forward of `rows` from `layer` on, continuing the sequences of `cached` (captured with
 * `keepAttention`): each row starts from its source row's resid_pre(layer) and attends to the cached
 * keys/values before its prefix. Shared by suffix re-runs (patching) and single positions (BOS).
 */
export async function forwardCachedRows(
  model: Transformer,
  cached: CleanRun,
  layer: number,
  rows: CachedRows,
  request: Omit<ForwardRequest, 'ids' | 'batch' | 'seq' | 'positions' | 'start' | 'cache'>,
): Promise<ForwardResult> {
  const { gpu, kernels, spec } = model;
  const R = rows.ids.length;
  const positions = new Uint32Array(R);
  const pairs = new Uint32Array(2 * R);
  let keys = 0;
  for (let r = 0; r < R; r++) {
    positions[r] = rows.rowInfo4[4 * r + 1];
    pairs.set([r, rows.sources[r]], 2 * r);
    keys += positions[r] + 1;
  }
  const start = gpu.createBuffer('cached-rows:resid', R * spec.dModel * 4);
  const pairsBuf = gpu.upload('cached-rows:sources', pairs);
  try {
    kernels.copyRows(start, cached.buffer(`blocks.${layer}.hook_resid_pre`), pairsBuf, R, spec.dModel);
    return await model.forward({
      ...request, ids: rows.ids, batch: R, seq: 1, positions, start: { layer, resid: start },
      cache: { rowInfo4: rows.rowInfo4, keys, qk: (l) => cached.buffer(`blocks.${l}.qk_attn`), v: (l) => cached.buffer(`blocks.${l}.qkv`) },
    });
  } finally {
    start.destroy();
    pairsBuf.destroy();
  }
}

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
  const T = cached.T;
  if (cached.B !== 1) throw new Error('suffix re-runs continue one cached sequence (B = 1)');
  const V = model.spec.vocab;
  const maxRows = model.maxRows();
  const out = new Float32Array(units.length * V);
  for (let k = 0; k < units.length;) {
    const batch: SuffixVariant[] = [];
    let R = 0;
    for (; k < units.length; k++) {
      const p = startOf(units[k]);
      if (batch.length && R + (T - p) > maxRows) break;
      batch.push({ unit: units[k], p, row0: R });
      R += T - p;
    }
    const rows: CachedRows = { ids: new Int32Array(R), rowInfo4: new Uint32Array(4 * R), sources: new Uint32Array(R) };
    for (const { p, row0 } of batch) {
      for (let t = p; t < T; t++) {
        const r = row0 + t - p;
        rows.ids[r] = cached.ids[t];
        rows.rowInfo4.set([0, t, p, row0], 4 * r);
        rows.sources[r] = t;
      }
    }
    const result = await forwardCachedRows(model, cached, layer, rows, {
      onHook: (site) => edit(site, batch),
      logits: batch.map(({ p, row0 }) => row0 + T - 1 - p), nll: false,
    });
    out.set(result.logits!, (k - batch.length) * V);
    onProgress?.(k);
  }
  return out;
}
