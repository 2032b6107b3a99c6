// `plateau profile`: per-kernel GPU times of N forward passes (or, with --sweep, N sweeps). One untimed warm-up forward first
// (pipeline compilation stays outside the profiled region), then N profiled forwards; prints the
// per-kernel table and how the sum of pass durations compares with the GPU span and the wall clock,
// and optionally writes a Chrome trace (Perfetto / chrome://tracing).
import { writeFile } from 'node:fs/promises';
import { toChromeTrace, toTable } from '../gpu/profiler.js';
import { autotuneCachePath } from '../gpu/autotune.js';
import { openGpu, openModel, readInputs, type InputOptions } from './common.js';
import { profileRuns, profileWorkload, tuneForWorkload } from '../interventions/profile-workload.js';
import { formatPairVariant, pairVariantFor } from '../interventions/closed-form.js';

export interface ProfileCommandOptions extends InputOptions {
  model?: string;
  repeat: string;
  trace?: string;
  json?: string;
  timer: 'auto' | 'cpu';
  weights: 'auto' | 'f32';
  autotune?: boolean;
  sweep?: 'neurons' | 'heads' | 'heads-bos' | 'patch';
}

export async function profileCommand(opts: ProfileCommandOptions): Promise<void> {
  const repeat = Number(opts.repeat);
  if (!Number.isInteger(repeat) || repeat < 1) throw new Error(`--repeat ${opts.repeat}: expected a positive integer`);
  const gpu = await openGpu(opts, true);
  try {
    const { model, dir } = await openModel(gpu, opts.model, opts.weights, opts);
    const batch = await readInputs(opts, dir, model);
    if (opts.sweep === 'patch' && batch.B < 2) throw new Error('--sweep patch: patches row 1 from row 0, so --ids needs two or more rows (or repeat --text)');
    const work = profileWorkload(opts.sweep ?? 'forward', { model, ids: batch.ids, B: batch.B, T: batch.T });
    // Warm-up: compiles every pipeline this work uses (with --autotune, tunes its kernels first).
    if (opts.autotune) {
      await tuneForWorkload(model, opts.sweep ?? 'forward', work, { ids: batch.ids, B: batch.B, T: batch.T }, (line) => console.log(line));
      console.log(`autotune: choices saved to ${autotuneCachePath() ?? 'memory'}`);
    }
    await work(); // compile (the chosen variants) outside the region
    const report = await profileRuns(gpu, work, repeat, { mode: opts.timer === 'cpu' ? 'cpu' : undefined });
    const tokens = batch.B * batch.T * repeat;
    const what = opts.sweep ? `${opts.sweep} sweep` : 'forward';
    const pairLoop = opts.sweep === 'neurons' ? `, pair loop ${formatPairVariant(pairVariantFor(gpu))}` : '';
    console.log(`plateau profile: ${dir}, ${repeat} ${what}${repeat > 1 ? 's' : ''} of ${batch.B}×${batch.T} tokens, weights ${model.weights.storage}, matmul default ${model.kernels.matmulVariant}${model.kernels.forcedMatmul ? ` (forced ${model.kernels.forcedMatmul})` : model.kernels.matmulChooser ? ' (autotune cache in use)' : ''}${pairLoop}`);
    console.log('');
    console.log(toTable(report));
    const within = (a: number, b: number) => (b > 0 ? Math.abs(a - b) / b <= 0.1 : false);
    if (report.mode === 'timestamp') {
      console.log(`agreement: sum vs GPU span ${within(report.gpuSumMs, report.gpuSpanMs) ? 'within' : 'NOT within'} 10%, ` +
        `sum vs wall clock ${within(report.gpuSumMs, report.wallMs) ? 'within' : 'NOT within'} 10% ` +
        '(gaps are CPU work between submissions: reading results back, scheduling)');
    }
    console.log(`throughput: ${(tokens / (report.wallMs / 1000)).toFixed(1)} tokens/s (wall clock), ${(tokens / (report.gpuSumMs / 1000)).toFixed(1)} tokens/s (GPU time)`);
    if (opts.trace) {
      await writeFile(opts.trace, toChromeTrace(report));
      console.log(`trace: ${opts.trace} (${report.dispatches.length} events; open in https://ui.perfetto.dev or chrome://tracing)`);
    }
    if (opts.json) {
      const { dispatches, ...summary } = report;
      await writeFile(opts.json, JSON.stringify({ ...summary, dispatchCount: dispatches.length, repeat, batch: batch.B, seq: batch.T }, null, 1));
    }
    model.destroy();
  } finally {
    gpu.destroy();
  }
}
