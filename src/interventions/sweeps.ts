// Sweeps over interventions, each computed for a range of units [start, end) so the scheduler can
// chunk, resume and shard them. Every strategy returns the same numbers as the naive one (tests).
import type { Transformer } from '../model/forward.js';
import { CleanRun } from './clean-run.js';
import { columnEditor, dnllFromRows, gatherWatched, logSoftmax, runVariantsFromLayer, runVariantsNaive, variantsPerBatch, watchHookName, type VariantEditor } from './batched.js';
import { FinalLayerNeuronSweep } from './closed-form.js';
import { BosRedirectSweep } from './single-position.js';
import { headLayerStrategy, planStrategy, resolvePositions, type HeadSweepPlan, type NeuronSweepPlan, type Strategy, type WatchedNeurons } from './plan.js';
import { FinalLayerHeadSweep } from './final-layer-heads.js';

export interface SweepContext {
  model: Transformer;
  ids: Int32Array;
  B: number;
  T: number;
}

/** The per-unit computation of a sweep, plus its output shapes. */
export interface SweepRunner {
  /** The strategy, or several joined by '+' when the units' layers are computed differently. */
  strategy: string;
  units: number;
  /** Units per scheduler chunk: a natural batch on this device. */
  chunkUnits: number;
  outputs: { name: string; unitShape: number[] }[];
  leadingShape: number[];
  /** Units [start, end); `onProgress` (if the strategy reports within a chunk) gets the fraction of it done. */
  compute(start: number, end: number, onProgress?: (fraction: number) => void): Promise<Float32Array[]>;
  dispose(): void;
}

/**
 * For resampling: a run on `resampleIds` (same B × T as the swept batch) keeping `hooks` on the GPU,
 * whose activations replace the ablated ones position by position.
 */
async function resampleSource(ctx: SweepContext, resampleIds: Int32Array | undefined, hooks: string[]): Promise<CleanRun> {
  const { model, B, T } = ctx;
  if (!resampleIds) throw new Error('resample ablation: give the token ids of the run to resample from (--resample-ids)');
  if (resampleIds.length !== B * T) throw new Error(`resample ablation: the run to resample from has ${resampleIds.length} tokens, the swept batch ${B}×${T} = ${B * T}: they must have the same shape`);
  return CleanRun.capture(model, resampleIds, B, T, { layers: [], keepHooks: hooks, unembed: false });
}

/** Neuron sweep at `plan.layer`: dnll [n, B, T−1] (n = d_mlp or the chosen neurons), and with `logprobsAt` logprobs [n, B, P, V]. */
export async function neuronSweep(ctx: SweepContext, plan: NeuronSweepPlan, force?: Strategy): Promise<SweepRunner> {
  const { model, ids, B, T } = ctx;
  const { spec } = model;
  const strategy = planStrategy(spec, plan, force);
  const postName = `blocks.${plan.layer}.mlp.hook_post`;
  const measured = measurements(ctx, plan);
  // First, so that a misshapen resample run fails before anything else is allocated.
  const source = plan.ablation === 'resample' ? await resampleSource(ctx, plan.resampleIds, [postName]) : null;
  const clean = await CleanRun.capture(model, ids, B, T, {
    layers: [plan.layer],
    readHooks: measured.cleanHooks,
    meanHooks: plan.ablation === 'mean' && !plan.means ? [postName] : [],
    // The closed form gets the clean nll from its own clean column (closed-form.ts).
    unembed: strategy !== 'final-layer-closed-form',
  });
  const means = plan.ablation === 'mean' ? plan.means ?? clean.means.get(postName)! : null;
  if (means && means.length !== spec.dMlp) throw new Error(`mean activations: expected ${spec.dMlp} values, got ${means.length}`);
  const sourcePost = source?.buffer(postName);
  const neurons = plan.neurons ?? Array.from({ length: spec.dMlp }, (_, i) => i);
  const base = {
    strategy, units: neurons.length, leadingShape: [neurons.length],
    outputs: [{ name: 'dnll', unitShape: [B, T - 1] }, ...measured.outputs],
    chunkUnits: variantsPerBatch(model, B * T, 256),
  };
  if (strategy === 'final-layer-closed-form') {
    if (plan.layer !== spec.nLayers - 1) throw new Error('the closed form applies to the final layer only');
    const fast = new FinalLayerNeuronSweep(model, clean);
    base.chunkUnits = Math.min(neurons.length, fast.neuronsPerTile());
    const contiguous = neurons.every((n, i) => n === neurons[0] + i);
    return {
      ...base,
      async compute(start, end, onProgress) {
        if (contiguous) return [await fast.run(neurons[0] + start, end - start, means, sourcePost, onProgress)];
        const parts: Float32Array[] = [];
        for (let u = start; u < end; u++) {
          parts.push(await fast.run(neurons[u], 1, means, sourcePost));
          onProgress?.((u + 1 - start) / (end - start));
        }
        return [concat(parts)];
      },
      dispose() { fast.destroy(); clean.destroy(); source?.destroy(); },
    };
  }
  const values = sourcePost ? { source: sourcePost, width: spec.dMlp } : means ?? new Float32Array(spec.dMlp);
  const editor = columnEditor(model, postName, values, (v) => ({ col0: neurons[v], width: 1, valueOffset: neurons[v] }));
  const runner = variantRunner(base, ctx, clean, plan.layer, strategy, editor, measured);
  return { ...runner, dispose() { runner.dispose(); source?.destroy(); } };
}

/** Zero / mean / resample head sweep (or BOS redirect): dnll [L_sel, H, B, T−1], and with `logprobsAt` logprobs [L_sel, H, B, P, V]. */
export async function headAblationSweep(ctx: SweepContext, plan: HeadSweepPlan, force?: Strategy): Promise<SweepRunner> {
  const { model, ids, B, T } = ctx;
  const { spec } = model;
  if (plan.ablation === 'bos') {
    if (plan.logprobsAt?.length) throw new Error('logprobsAt applies to zero / mean / resample head sweeps (a BOS redirect measures the loss at the redirected position)');
    return bosSweep(ctx, plan, force);
  }
  const H = spec.nHeads;
  const dh = spec.dHead;
  const last = spec.nLayers - 1;
  const measured = measurements(ctx, plan);
  // Watching needs no re-run of the final layer's heads where they have the closed form: in
  // parallel-residual blocks nothing after them reads their output but the unembedding, so every
  // watched activation is unchanged (dact = 0, checked against naive).
  const strategies = plan.layers.map((l) => headLayerStrategy(spec, l, force, !!plan.logprobsAt?.length));
  const zNames = plan.layers.map((l) => `blocks.${l}.attn.hook_z`);
  const closedFormAt = strategies.indexOf('final-layer-closed-form');
  if (plan.means && plan.means.length !== plan.layers.length) throw new Error(`head mean activations: expected one vector per layer (${plan.layers.length}), got ${plan.means.length}`);
  for (const m of plan.means ?? []) if (m.length !== spec.dModel) throw new Error(`head mean activations (hook_z): expected ${spec.dModel} values per layer, got ${m.length}`);
  const source = plan.ablation === 'resample' ? await resampleSource(ctx, plan.resampleIds, zNames) : null;
  const clean = await CleanRun.capture(model, ids, B, T, {
    layers: plan.layers,
    readHooks: measured.cleanHooks,
    meanHooks: plan.ablation === 'mean' && !plan.means ? zNames : [],
    keepHooks: closedFormAt >= 0 ? [`blocks.${last}.attn.hook_z`] : [],
    // The closed form gets the clean nll from its own clean column.
    unembed: strategies.some((s) => s !== 'final-layer-closed-form'),
  });
  const base = {
    strategy: [...new Set(strategies)].join('+'), units: plan.layers.length * H, leadingShape: [plan.layers.length, H],
    outputs: [{ name: 'dnll', unitShape: [B, T - 1] }, ...measured.outputs],
    chunkUnits: H,
  };
  const meansAt = (j: number) => plan.means?.[j] ?? clean.means.get(zNames[j])!;
  const closedForm = closedFormAt >= 0
    ? new FinalLayerHeadSweep(model, clean, plan.ablation === 'mean' ? meansAt(closedFormAt) : null, undefined, source?.buffer(zNames[closedFormAt]))
    : null;
  const editors = plan.layers.map((l, j) => {
    if (strategies[j] === 'final-layer-closed-form') return null;
    const values = source ? { source: source.buffer(zNames[j]), width: spec.dModel }
      : plan.ablation === 'mean' ? meansAt(j) : new Float32Array(spec.dModel);
    return columnEditor(model, zNames[j], values, (v) => ({ col0: (v % H) * dh, width: dh, valueOffset: (v % H) * dh }));
  });
  return {
    ...base,
    async compute(start, end) {
      // Units are (layer j, head h) = j·H + h; variants of one layer share a batch.
      const parts: Float32Array[][] = base.outputs.map(() => []);
      for (let u = start; u < end;) {
        const j = Math.floor(u / H);
        const stop = Math.min(end, (j + 1) * H);
        const first = u - j * H;
        const edit = editors[j];
        const outs = edit
          ? await runEdited(ctx, clean, plan.layers[j], strategies[j], edit, first, stop - u, measured)
          : [await closedForm!.run(first, stop - u), ...(plan.watch ? [new Float32Array((stop - u) * B * T * plan.watch.neurons.length)] : [])];
        outs.forEach((o, k) => parts[k].push(o));
        u = stop;
      }
      return parts.map(concat);
    },
    dispose() { editors.forEach((e) => e?.dispose()); closedForm?.destroy(); clean.destroy(); source?.destroy(); },
  };
}

async function bosSweep(ctx: SweepContext, plan: HeadSweepPlan, force?: Strategy): Promise<SweepRunner> {
  const { model, B, T } = ctx;
  const { spec } = model;
  const strategy = planStrategy(spec, plan, force);
  const sweep = await BosRedirectSweep.create(ctx, plan, strategy);
  const outputs = [{ name: 'dnll', unitShape: [B, T - 1] }];
  if (plan.watch) outputs.push({ name: 'dact', unitShape: [B, T, plan.watch.neurons.length] });
  return {
    strategy, units: plan.layers.length * spec.nHeads, leadingShape: [plan.layers.length, spec.nHeads], outputs,
    chunkUnits: spec.nHeads,
    compute: (start, end) => sweep.compute(start, end),
    dispose: () => sweep.destroy(),
  };
}

function variantRunner(
  base: Omit<SweepRunner, 'compute' | 'dispose'>,
  ctx: SweepContext,
  clean: CleanRun,
  layer: number,
  strategy: Strategy,
  editor: VariantEditor & { dispose(): void },
  measured: Measurements,
): SweepRunner {
  return {
    ...base,
    compute: (start, end) => runEdited(ctx, clean, layer, strategy, editor, start, end - start, measured),
    dispose() { editor.dispose(); clean.destroy(); },
  };
}

/** Variants [first, first + count) re-run (batched from `layer`, or naive): dnll, then log-probabilities at the measured rows and the watched neurons' change, if asked for. */
async function runEdited(ctx: SweepContext, clean: CleanRun, layer: number, strategy: Strategy, editor: VariantEditor, first: number, count: number, measured: Measurements): Promise<Float32Array[]> {
  const options = { logitRows: measured.rows, watch: measured.watch };
  const res = strategy === 'naive'
    ? await runVariantsNaive(ctx.model, clean, first, count, editor, options)
    : await runVariantsFromLayer(ctx.model, clean, layer, first, count, editor, options);
  const out = [dnllFromRows(res.nllRows, clean, count)];
  if (res.logits) out.push(logSoftmax(res.logits, ctx.model.spec.vocab));
  if (measured.watch) {
    // dact = watched − clean; a run that started after the watched layer left it as in the clean run.
    const cleanWatched = measured.cleanWatched(clean);
    const dact = new Float32Array(count * cleanWatched.length);
    if (res.watched) for (let i = 0; i < dact.length; i++) dact[i] = res.watched[i] - cleanWatched[i % cleanWatched.length];
    out.push(dact);
  }
  return out;
}

/** What a zero / mean / resample sweep measures besides dnll: log-probabilities at some rows, and watched neurons. */
interface Measurements {
  /** Rows (b·T + t) whose logits are read back for `logprobsAt`. */
  rows: number[];
  watch?: WatchedNeurons;
  /** Hooks the clean run reads back (the watched layer's hook_post). */
  cleanHooks: string[];
  /** The clean run's watched activations [B·T, W]. */
  cleanWatched(clean: CleanRun): Float32Array;
  /** Extra outputs after dnll: logprobs [B, P, V], dact [B, T, W]. */
  outputs: { name: string; unitShape: number[] }[];
}

function measurements(ctx: SweepContext, plan: NeuronSweepPlan | HeadSweepPlan): Measurements {
  const { B, T, model } = ctx;
  const outputs: { name: string; unitShape: number[] }[] = [];
  let rows: number[] = [];
  if (plan.logprobsAt?.length) {
    const positions = resolvePositions(plan.logprobsAt, T);
    rows = Array.from({ length: B }, (_, b) => positions.map((t) => b * T + t)).flat();
    outputs.push({ name: 'logprobs', unitShape: [B, positions.length, model.spec.vocab] });
  }
  const { watch } = plan;
  if (watch) outputs.push({ name: 'dact', unitShape: [B, T, watch.neurons.length] });
  let cleanWatched: Float32Array | null = null;
  return {
    rows, watch, outputs,
    cleanHooks: watch ? [watchHookName(watch)] : [],
    cleanWatched(clean) {
      if (!watch) return new Float32Array(0);
      if (!cleanWatched) {
        cleanWatched = new Float32Array(B * T * watch.neurons.length);
        gatherWatched(clean.hooks.get(watchHookName(watch))!.data, model.spec.dMlp, watch.neurons, cleanWatched, 0);
      }
      return cleanWatched;
    },
  };
}

export function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
