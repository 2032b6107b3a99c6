// What `plateau profile` and the page's profiler time: a forward pass, a whole last-layer sweep
// (clean run included) or resid_pre patching of row 1 from row 0, on given token ids; the autotune
// of the kernels that work uses; and the profiled region itself (N runs under one Profiler).
// Shared by the CLI and the browser page.
import type { Gpu } from '../gpu/device.js';
import { Profiler, type ProfileMode, type ProfileReport } from '../gpu/profiler.js';
import { autotuneMatmul, recordMatmulShapes } from '../gpu/autotune.js';
import { isSoftwareAdapter } from '../gpu/kernels.js';
import { tuneStreamKGrids } from '../gpu/streamk-grid.js';
import type { Transformer } from '../model/forward.js';
import { autotuneAttention } from '../model/attention-autotune.js';
import { runSequences } from '../model/run.js';
import { autotunePairLoop } from './pair-autotune.js';
import { headAblationSweep, neuronSweep, type SweepContext } from './sweeps.js';
import { patchRunner } from './patch.js';

export const PROFILE_WORKLOADS = ['forward', 'neurons', 'heads', 'heads-bos', 'patch'] as const;
export type ProfileWorkload = (typeof PROFILE_WORKLOADS)[number];

/**
 * One run of the workload: 'forward'; 'neurons' (last layer, mean ablation, the closed form where
 * it applies); 'heads' / 'heads-bos' (last layer, mean ablation / BOS redirect); 'patch' (resid_pre
 * of row 1 from row 0 at every layer and position: needs two rows).
 */
export function profileWorkload(kind: ProfileWorkload, ctx: SweepContext): () => Promise<unknown> {
  const { model, ids, B, T } = ctx;
  const last = model.spec.nLayers - 1;
  if (kind === 'forward') return () => runSequences(model, ids, B, T);
  if (kind === 'patch' && B < 2) throw new Error('profiling patching: it patches row 1 from row 0, so the token ids need two or more rows');
  const make = kind === 'neurons'
    ? () => neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean' })
    : kind === 'patch'
      ? () => patchRunner(ctx, { kind: 'patch', hook: 'resid_pre', cleanRow: 0, corruptedRow: 1 })
      : () => headAblationSweep(ctx, { kind: 'heads', layers: [last], ablation: kind === 'heads' ? 'mean' : 'bos' });
  return async () => {
    const runner = await make();
    try {
      return await runner.compute(0, runner.units);
    } finally {
      runner.dispose();
    }
  };
}

/** `repeat` runs of `work` under a profiler (run the work once before, untimed, to keep pipeline compilation out). */
export async function profileRuns(gpu: Gpu, work: () => Promise<unknown>, repeat: number, options: { mode?: ProfileMode; onRun?: (done: number) => void } = {}): Promise<ProfileReport> {
  const profiler = Profiler.attach(gpu, { mode: options.mode });
  try {
    for (let i = 0; i < repeat; i++) {
      await work();
      options.onRun?.(i + 1);
    }
    return await profiler.collect();
  } finally {
    profiler.detach();
  }
}

/**
 * Tunes the kernels `work` uses on this adapter and records the choices in the autotune cache (a
 * file in Node, memory in the browser): runs `work` once listing its matmul shapes; on GPUs measures
 * the stream-K grid; times every matmul variant per shape; both attention kernels (unless one is
 * forced); with the neuron sweep, the closed form's pair-loop variants. Reports each step to `log`.
 */
export async function tuneForWorkload(model: Transformer, kind: ProfileWorkload, work: () => Promise<unknown>, batch: { ids: Int32Array; B: number; T: number }, log: (line: string) => void): Promise<void> {
  const { kernels, gpu } = model;
  if (kernels.forcedMatmul) throw new Error(`autotune: a matmul variant is forced (${kernels.forcedMatmul}, by --matmul or PLATEAU_MATMUL): drop it first`);
  const shapes = await recordMatmulShapes(kernels, work);
  if (!isSoftwareAdapter(gpu)) {
    for (const probe of await tuneStreamKGrids(kernels)) {
      log(`autotune: stream-K grid for 128×${probe.bn} matmul tiles: ${probe.grid} workgroups (tiles run at once, measured)`);
    }
  }
  log(`autotune: ${shapes.length} matmul shapes of this work on ${gpu.describe()}`);
  await autotuneMatmul(kernels, shapes, {
    repeats: 3,
    onResult: (r) => log(`  ${r.shape.M}×${r.shape.K}·${r.shape.K}×${r.shape.N} ${r.shape.dtype} ${r.shape.layout}: ${r.best} ` +
      `(${r.timings.map((t) => `${t.variant} ${t.gflops.toFixed(2)}`).join(', ')} GFLOP/s)`),
  });
  kernels.reloadAutotune();
  if (kernels.forcedAttention) {
    log(`autotune: attention kernel forced (${kernels.forcedAttention}), not tuned`);
  } else {
    const att = await autotuneAttention(model, batch.ids, batch.B, batch.T);
    log(`  attention (dh ${model.spec.dHead}): ${att.best} (${att.timings.map((t) => `${t.variant} ${t.medianMs.toFixed(2)} ms per forward`).join(', ')})`);
  }
  if (kind === 'neurons') {
    log('autotune: the closed form\'s pair-loop variants on these tokens');
    const tuned = await autotunePairLoop(model, batch.ids, batch.B, batch.T);
    log(`  pair loop: ${tuned.best} (${tuned.timings.map((t) => `${t.variant} ${t.glogitsPerS.toFixed(2)}`).join(', ')} G logits/s)`);
  }
}
