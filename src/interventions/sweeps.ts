// Sweeps over interventions, each computed for a range of units [start, end) so the scheduler can
// chunk, resume and shard them. Every strategy returns the same numbers as the naive one (tests).
import type { Transformer } from '../model/forward.js';
import { CleanRun } from './clean-run.js';
import { columnEditor, dnllFromRows, runVariantsFromLayer, runVariantsNaive, variantsPerBatch, type VariantEditor } from './batched.js';
import { FinalLayerNeuronSweep } from './closed-form.js';
import { BosRedirectSweep } from './single-position.js';
import { headLayerStrategy, planStrategy, type HeadSweepPlan, type NeuronSweepPlan, type Strategy } from './plan.js';
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
  compute(start: number, end: number): Promise<Float32Array[]>;
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

/** Neuron sweep at `plan.layer`: dnll [d_mlp, B, T−1]. */
export async function neuronSweep(ctx: SweepContext, plan: NeuronSweepPlan, force?: Strategy): Promise<SweepRunner> {
  const { model, ids, B, T } = ctx;
  const { spec } = model;
  const strategy = planStrategy(spec, plan, force);
  const postName = `blocks.${plan.layer}.mlp.hook_post`;
  // First, so that a misshapen resample run fails before anything else is allocated.
  const source = plan.ablation === 'resample' ? await resampleSource(ctx, plan.resampleIds, [postName]) : null;
  const clean = await CleanRun.capture(model, ids, B, T, {
    layers: [plan.layer],
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
    outputs: [{ name: 'dnll', unitShape: [B, T - 1] }],
    chunkUnits: variantsPerBatch(model, B * T, 256),
  };
  if (strategy === 'final-layer-closed-form') {
    if (plan.layer !== spec.nLayers - 1) throw new Error('the closed form applies to the final layer only');
    const fast = new FinalLayerNeuronSweep(model, clean);
    base.chunkUnits = Math.min(neurons.length, fast.neuronsPerTile());
    const contiguous = neurons.every((n, i) => n === neurons[0] + i);
    return {
      ...base,
      async compute(start, end) {
        if (contiguous) return [await fast.run(neurons[0] + start, end - start, means, sourcePost)];
        const parts: Float32Array[] = [];
        for (let u = start; u < end; u++) parts.push(await fast.run(neurons[u], 1, means, sourcePost));
        return [concat(parts)];
      },
      dispose() { fast.destroy(); clean.destroy(); source?.destroy(); },
    };
  }
  const values = sourcePost ? { source: sourcePost, width: spec.dMlp } : means ?? new Float32Array(spec.dMlp);
  const editor = columnEditor(model, postName, values, (v) => ({ col0: neurons[v], width: 1, valueOffset: neurons[v] }));
  const runner = variantRunner(base, ctx, clean, plan.layer, strategy, editor);
  return { ...runner, dispose() { runner.dispose(); source?.destroy(); } };
}

/** Zero / mean / resample head sweep (or BOS redirect): dnll [L_sel, H, B, T−1]. */
export async function headAblationSweep(ctx: SweepContext, plan: HeadSweepPlan, force?: Strategy): Promise<SweepRunner> {
  const { model, ids, B, T } = ctx;
  const { spec } = model;
  if (plan.ablation === 'bos') return bosSweep(ctx, plan, force);
  const H = spec.nHeads;
  const dh = spec.dHead;
  const last = spec.nLayers - 1;
  const strategies = plan.layers.map((l) => headLayerStrategy(spec, l, force));
  const zNames = plan.layers.map((l) => `blocks.${l}.attn.hook_z`);
  const closedFormAt = strategies.indexOf('final-layer-closed-form');
  if (plan.means && plan.means.length !== plan.layers.length) throw new Error(`head mean activations: expected one vector per layer (${plan.layers.length}), got ${plan.means.length}`);
  for (const m of plan.means ?? []) if (m.length !== spec.dModel) throw new Error(`head mean activations (hook_z): expected ${spec.dModel} values per layer, got ${m.length}`);
  const source = plan.ablation === 'resample' ? await resampleSource(ctx, plan.resampleIds, zNames) : null;
  const clean = await CleanRun.capture(model, ids, B, T, {
    layers: plan.layers,
    meanHooks: plan.ablation === 'mean' && !plan.means ? zNames : [],
    keepHooks: closedFormAt >= 0 ? [`blocks.${last}.attn.hook_z`] : [],
    // The closed form gets the clean nll from its own clean column.
    unembed: strategies.some((s) => s !== 'final-layer-closed-form'),
  });
  const base = {
    strategy: [...new Set(strategies)].join('+'), units: plan.layers.length * H, leadingShape: [plan.layers.length, H],
    outputs: [{ name: 'dnll', unitShape: [B, T - 1] }],
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
      const rows: Float32Array[] = [];
      for (let u = start; u < end;) {
        const j = Math.floor(u / H);
        const stop = Math.min(end, (j + 1) * H);
        const first = u - j * H;
        const edit = editors[j];
        if (!edit) {
          rows.push(await closedForm!.run(first, stop - u));
        } else {
          const editor: VariantEditor = (site, v0, count, rpv) => edit(site, v0, count, rpv);
          const res = strategies[j] === 'naive'
            ? await runVariantsNaive(model, clean, first, stop - u, editor)
            : await runVariantsFromLayer(model, clean, plan.layers[j], first, stop - u, editor);
          rows.push(dnllFromRows(res.nllRows, clean, stop - u));
        }
        u = stop;
      }
      return [concat(rows)];
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
): SweepRunner {
  return {
    ...base,
    async compute(start, end) {
      const res = strategy === 'naive'
        ? await runVariantsNaive(ctx.model, clean, start, end - start, editor)
        : await runVariantsFromLayer(ctx.model, clean, layer, start, end - start, editor);
      return [dnllFromRows(res.nllRows, clean, end - start)];
    },
    dispose() { editor.dispose(); clean.destroy(); },
  };
}

export function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
