// What `plateau profile` and the page's profiler time: a forward pass, a whole last-layer sweep
// (clean run included) or resid_pre patching of row 1 from row 0, on given token ids; and the
// profiled region itself (N runs under one Profiler). Shared by the CLI and the browser page.
import type { Gpu } from '../gpu/device.js';
import { Profiler, type ProfileMode, type ProfileReport } from '../gpu/profiler.js';
import { runSequences } from '../model/run.js';
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
