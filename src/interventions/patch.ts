// Activation patching: a hook of block l (resid_pre by default; any of plan.ts's PATCH_HOOKS) at
// position p of the corrupted row is replaced by the clean row's value; log-softmax of the corrupted
// row's final-position logits is measured. Every position changes from l on (later positions attend
// to p), so this runs as "batched-from-layer": the T patches of one layer are variants started from
// the corrupted run's cached resid_pre(l), the hook overwritten at row p when the forward reaches it.
import { CleanRun } from './clean-run.js';
import { logSoftmax, runVariantsFromLayer, type VariantEditor } from './batched.js';
import { PATCH_HOOKS, type PatchPlan } from './plan.js';
import type { SweepContext, SweepRunner } from './sweeps.js';

function rowOf(ctx: SweepContext, row: number, flag: string): Int32Array {
  if (!Number.isInteger(row) || row < 0 || row >= ctx.B) throw new Error(`${flag}: row ${row} is out of range (the ids have rows 0..${ctx.B - 1})`);
  return ctx.ids.slice(row * ctx.T, (row + 1) * ctx.T);
}

/** Units are (layer l, position p) = l·T + p; output logprobs [L, T, V]. */
export async function patchRunner(ctx: SweepContext, plan: PatchPlan): Promise<SweepRunner> {
  const { model, T } = ctx;
  const { spec, gpu, kernels } = model;
  const cleanIds = rowOf(ctx, plan.cleanRow, '--clean-row');
  const corruptedIds = rowOf(ctx, plan.corruptedRow, '--corrupted-row');
  const hookName = (layer: number) => `blocks.${layer}.${PATCH_HOOKS[plan.hook]}`;
  const layers = Array.from({ length: spec.nLayers }, (_, l) => l);
  const clean = await CleanRun.capture(model, cleanIds, 1, T, { keepHooks: plan.hook === 'resid_pre' ? [] : layers.map(hookName) });
  const corrupted = await CleanRun.capture(model, corruptedIds, 1, T);
  const pairBuffers: GPUBuffer[] = [];
  const patchAt = (layer: number): VariantEditor => (site, v0, count, rowsPerVariant) => {
    if (site.name !== hookName(layer)) return;
    const pairs = new Uint32Array(count * 2);
    for (let v = 0; v < count; v++) pairs.set([v * rowsPerVariant + (v0 + v), v0 + v], 2 * v);
    const buf = gpu.upload('patch-pairs', pairs);
    pairBuffers.push(buf);
    kernels.copyRows(site.buffer, clean.buffer(site.name), buf, count, site.width);
  };
  return {
    strategy: 'batched-from-layer',
    units: spec.nLayers * T,
    chunkUnits: T,
    leadingShape: [spec.nLayers, T],
    outputs: [{ name: 'logprobs', unitShape: [spec.vocab] }],
    async compute(start, end) {
      const parts: Float32Array[] = [];
      for (let u = start; u < end;) {
        const layer = Math.floor(u / T);
        const stop = Math.min(end, (layer + 1) * T);
        const res = await runVariantsFromLayer(model, corrupted, layer, u - layer * T, stop - u, patchAt(layer), { logitRows: [T - 1] });
        parts.push(logSoftmax(res.logits!, spec.vocab));
        u = stop;
      }
      const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let off = 0;
      for (const p of parts) { out.set(p, off); off += p.length; }
      return [out];
    },
    dispose() {
      for (const b of pairBuffers) b.destroy();
      clean.destroy();
      corrupted.destroy();
    },
  };
}

/** All patches at once: logprobs [L, T, V]. */
export async function patchSweep(ctx: SweepContext, plan: PatchPlan): Promise<Float32Array> {
  const runner = await patchRunner(ctx, plan);
  try {
    return (await runner.compute(0, runner.units))[0];
  } finally {
    runner.dispose();
  }
}
