// Activation patching: a hook of block l (resid_pre by default; any of plan.ts's PATCH_HOOKS) of the
// corrupted row is replaced by the clean row's value — at one position p, or at every position
// (positions 'all'); for hook_z optionally one head's slice at a time (perHead) — and the log-softmax
// of the corrupted row's final-position logits is measured (only that position is unembedded).
// A patch at p changes positions p..T−1 from layer l on (later positions attend to p): strategy
// "suffix-cached" (suffix.ts, the default for one position at a time) re-runs just those rows,
// attending to the corrupted run's cached keys/values for positions < p; "batched-from-layer" (the
// default for every position at once) re-runs whole sequences, variants started from the corrupted
// run's cached resid_pre(l); "naive" runs one full forward per patch. The hook is overwritten when
// the forward reaches it; all three give the same numbers.
//
// Units, per layer, are (head h, position p) = h·P + p with H' = H heads (perHead) or 1 and P = T
// positions ('each') or 1 ('all'); output logprobs [L, (H,) (T,) V] — or [.., |tokens|] when only
// some vocabulary columns are kept (TransformerLens: get_act_patch_resid_pre / attn_head_out_by_pos /
// attn_head_out_all_pos, with the log-probs instead of a metric).
import type { HookSite } from '../model/forward.js';
import { CleanRun } from './clean-run.js';
import { logSoftmax, runVariantsFromLayer, runVariantsNaive, type VariantEditor } from './batched.js';
import { PATCH_HOOKS, planStrategy, type PatchPlan, type Strategy } from './plan.js';
import { runSuffixVariants, type SuffixEditor } from './suffix.js';
import { concat, type SweepContext, type SweepRunner } from './sweeps.js';

function rowOf(ctx: SweepContext, row: number, flag: string): Int32Array {
  if (!Number.isInteger(row) || row < 0 || row >= ctx.B) throw new Error(`${flag}: row ${row} is out of range (the ids have rows 0..${ctx.B - 1})`);
  return ctx.ids.slice(row * ctx.T, (row + 1) * ctx.T);
}

/** The columns `tokens` of each V-wide row of `rows` (all of them when `tokens` is undefined). */
function selectColumns(rows: Float32Array, V: number, tokens: number[] | undefined): Float32Array {
  if (!tokens) return rows;
  const n = rows.length / V;
  const out = new Float32Array(n * tokens.length);
  for (let r = 0; r < n; r++) for (const [j, id] of tokens.entries()) out[r * tokens.length + j] = rows[r * V + id];
  return out;
}

/** Units are (layer l, head h, position p), see the header; output logprobs [L, (H,) (T,) V | |tokens|]. */
export async function patchRunner(ctx: SweepContext, plan: PatchPlan, force?: Strategy): Promise<SweepRunner> {
  const { model, T } = ctx;
  const { spec, gpu, kernels } = model;
  const positions = plan.positions ?? 'each';
  if (positions !== 'each' && positions !== 'all') throw new Error(`patch positions: expected "each" or "all", got "${String(positions)}"`);
  if (plan.perHead && plan.hook !== 'z') throw new Error(`per-head patching applies to hook z (each head's slice of hook_z), not ${plan.hook}`);
  for (const id of plan.tokens ?? []) {
    if (!Number.isInteger(id) || id < 0 || id >= spec.vocab) throw new Error(`patch tokens: ${id} is not a token id in [0, ${spec.vocab})`);
  }
  if (plan.tokens && !plan.tokens.length) throw new Error('patch tokens: give at least one token id (or none, to keep the whole vocabulary)');
  const strategy = planStrategy(spec, plan, force);
  const cleanIds = rowOf(ctx, plan.cleanRow, '--clean-row');
  const corruptedIds = rowOf(ctx, plan.corruptedRow, '--corrupted-row');
  const hookName = (layer: number) => `blocks.${layer}.${PATCH_HOOKS[plan.hook]}`;
  const layers = Array.from({ length: spec.nLayers }, (_, l) => l);
  const clean = await CleanRun.capture(model, cleanIds, 1, T, { keepHooks: plan.hook === 'resid_pre' ? [] : layers.map(hookName) });
  const corrupted = await CleanRun.capture(model, corruptedIds, 1, T, { keepAttention: strategy === 'suffix-cached' });
  const H = plan.perHead ? spec.nHeads : 1;
  const P = positions === 'each' ? T : 1;
  const perLayer = H * P;
  const sliceBuffers: GPUBuffer[] = [];
  /** Overwrites, at hook `layer`, the patched slice of `rows` ([batch row, position, unit within the layer]) with the clean run's. */
  const writeClean = (site: HookSite, rows: [number, number, number][]) => {
    const width = plan.perHead ? spec.dHead : site.width;
    const slices = new Uint32Array(rows.length * 4);
    rows.forEach(([row, t, k], j) => slices.set([row, t, plan.perHead ? Math.floor(k / P) * spec.dHead : 0, width], 4 * j));
    // Each call gets its own table: edits recorded for several batches may be in flight at once.
    const buf = gpu.upload('patch-slices', slices);
    sliceBuffers.push(buf);
    kernels.copyRowSlices(site.buffer, clean.buffer(site.name), buf, rows.length, site.width, width);
  };
  // Whole sequences (batched-from-layer, naive): variant v's rows start at v·rowsPerVariant.
  const patchAt = (layer: number): VariantEditor => (site, v0, count, rowsPerVariant) => {
    if (site.name !== hookName(layer)) return;
    const rows: [number, number, number][] = [];
    for (let v = 0; v < count; v++) {
      const k = v0 + v;
      if (positions === 'each') rows.push([v * rowsPerVariant + (k % P), k % P, k]);
      else for (let t = 0; t < T; t++) rows.push([v * rowsPerVariant + t, t, k]);
    }
    writeClean(site, rows);
  };
  // Suffixes: a variant's first row is its patched position.
  const patchSuffixAt = (layer: number): SuffixEditor => (site, variants) => {
    if (site.name === hookName(layer)) writeClean(site, variants.map(({ unit, p, row0 }) => [row0, p, unit]));
  };
  /** Last-position logits [count, V] of the patches first..first+count−1 of `layer`. */
  const logitsOf = async (layer: number, first: number, count: number, onProgress?: (done: number) => void): Promise<Float32Array> => {
    if (strategy === 'suffix-cached') {
      const units = Array.from({ length: count }, (_, i) => first + i);
      return runSuffixVariants(model, corrupted, layer, units, (k) => k % P, patchSuffixAt(layer), onProgress);
    }
    const res = strategy === 'naive'
      ? await runVariantsNaive(model, corrupted, first, count, patchAt(layer), { logitRows: [T - 1], noLoss: true })
      : await runVariantsFromLayer(model, corrupted, layer, first, count, patchAt(layer), { logitRows: [T - 1], noLoss: true, onProgress });
    return res.logits!;
  };
  return {
    strategy,
    units: spec.nLayers * perLayer,
    // A layer's patches per chunk, or one head's positions when patching heads position by position.
    chunkUnits: plan.perHead && positions === 'each' ? P : perLayer,
    leadingShape: [spec.nLayers, ...(plan.perHead ? [H] : []), ...(positions === 'each' ? [T] : [])],
    outputs: [{ name: 'logprobs', unitShape: [plan.tokens?.length ?? spec.vocab] }],
    async compute(start, end, onProgress) {
      const parts: Float32Array[] = [];
      for (let u = start; u < end;) {
        const layer = Math.floor(u / perLayer);
        const stop = Math.min(end, (layer + 1) * perLayer);
        const done = u - start;
        const logits = await logitsOf(layer, u - layer * perLayer, stop - u, onProgress && ((n) => onProgress((done + n) / (end - start))));
        parts.push(selectColumns(logSoftmax(logits, spec.vocab), spec.vocab, plan.tokens));
        u = stop;
      }
      for (const b of sliceBuffers.splice(0)) b.destroy(); // the runs above have been read back
      return [concat(parts)];
    },
    dispose() {
      for (const b of sliceBuffers) b.destroy();
      clean.destroy();
      corrupted.destroy();
    },
  };
}

/** All patches at once: logprobs [L, (H,) (T,) V | |tokens|]. */
export async function patchSweep(ctx: SweepContext, plan: PatchPlan, force?: Strategy): Promise<Float32Array> {
  const runner = await patchRunner(ctx, plan, force);
  try {
    return (await runner.compute(0, runner.units))[0];
  } finally {
    runner.dispose();
  }
}
