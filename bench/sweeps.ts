// Sweep benchmark (JSON to stdout): on a random model of a real shape (default GPT-2 small) and
// one set of tokens, in the same run: one forward pass; the final-layer neuron sweep by the closed
// form vs naive re-forwards (a sample of neurons, extrapolated to all); the per-position BOS
// head sweep against cached keys/values vs naive re-forwards (a sample, extrapolated); on
// parallel-residual shapes (pythia-160m) also the final layer's zero-ablation head sweep by its
// closed form vs re-running the final layer (batched-from-layer).
//   node dist/bench/sweeps.mjs [--shape gpt2-small|pythia-160m|gpt2-xl] [--layers N] [--batch B]
//     [--seq T] [--naive-neurons K] [--naive-heads K (0: skip the BOS head sweep)] [--dtype F32|F16] [--model DIR]
//     [--repeats R] [--compare-bounds] [--profile] [--pair-variants tiled,tiled:mixed,tiled:factor,tiled:no-exp,direct]
// --repeats: the forward and the closed-form sweep are timed R times, medians reported (default 3
// on a GPU, 1 on a software adapter). --compare-bounds: also times the closed form with exact
// per-pair maxima (PLATEAU_PAIR_BOUNDS=exact, a second pass per chunk) in the same run.
// --profile: one more closed-form sweep under the profiler; its per-kernel GPU times go into
// `neurons_profile` (the untimed extra run does not change the figures above).
// --pair-variants: the closed form's compute (all neurons, one clean run shared) timed for each pair
// kernel variant KERNEL[:mixed][:factor] in the same run, as ratios to the first: KERNEL tiled|direct
// (PLATEAU_PAIR_KERNEL), mixed (PLATEAU_PAIR_EXP=mixed), factor (PLATEAU_PAIR_BIAS=factor), and a
// trailing :no-exp for the diagnostic (each exp2 of the loop replaced by a max: wrong numbers, but
// shows how much of the loop's time the exps take). The ratio to one forward is also given with the
// fastest real variant (setup of the default run + its compute): what autotuning would give.
import type { Gpu } from '../src/gpu/device.js';
import { isSoftwareAdapter } from '../src/gpu/kernels.js';
import { Profiler } from '../src/gpu/profiler.js';
import { CleanRun } from '../src/interventions/clean-run.js';
import { parsePairVariant, type ClosedFormOptions } from '../src/interventions/closed-form.js';
import { timePairVariants } from '../src/interventions/pair-autotune.js';
import { headAblationSweep, neuronSweep, type SweepContext, type SweepRunner } from '../src/interventions/sweeps.js';
import { finalHeadsHaveClosedForm, type Strategy } from '../src/interventions/plan.js';

import { flag, openBenchModel } from './lib/bench-model.js';

async function timed<T>(gpu: Gpu, body: () => Promise<T>): Promise<{ ms: number; value: T }> {
  await gpu.sync();
  const t0 = performance.now();
  const value = await body();
  await gpu.sync();
  return { ms: performance.now() - t0, value };
}

async function runAll(runner: SweepRunner, units?: number): Promise<void> {
  await runner.compute(0, units ?? runner.units);
  runner.dispose();
}

/** Times a sweep's setup (clean run, means, caches) and its computation separately. */
async function timedSweep(make: () => Promise<SweepRunner>, units?: number): Promise<{ setupMs: number; computeMs: number }> {
  const setup = await timed(gpu, make);
  const compute = await timed(gpu, () => setup.value.compute(0, units ?? setup.value.units));
  setup.value.dispose();
  return { setupMs: setup.ms, computeMs: compute.ms };
}

const B = Number(flag('batch', '1'));
const T = Number(flag('seq', '64'));
const naiveNeurons = Number(flag('naive-neurons', '2'));
const naiveHeads = Number(flag('naive-heads', '1'));

const bench = await openBenchModel();
const { gpu, model } = bench;
const { spec } = model;
const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919 + 13) % spec.vocab);
const ctx: SweepContext = { model, ids, B, T };
const tokens = B * T;
const last = spec.nLayers - 1;

// Warm-up: compile every pipeline outside the timed regions.
await model.forward({ ids, batch: B, seq: T });
await runAll(await neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean', neurons: [0] }, 'final-layer-closed-form'));
await runAll(await headAblationSweep(ctx, { kind: 'heads', layers: [last], ablation: 'bos' }, 'single-position-cached'), 1);

const repeats = Number(flag('repeats', isSoftwareAdapter(gpu) ? '1' : '3'));
/** The run with the median total time of `repeats` runs. */
async function median<T>(run: () => Promise<T>, total: (r: T) => number): Promise<T> {
  const runs: T[] = [];
  for (let i = 0; i < repeats; i++) runs.push(await run());
  return runs.sort((a, b) => total(a) - total(b))[Math.floor(runs.length / 2)];
}
const forward = await median(() => timed(gpu, () => model.forward({ ids, batch: B, seq: T })), (r) => r.ms);
const closedForm = () => timedSweep(() => neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean' }, 'final-layer-closed-form'));
const sweepTotal = (r: { setupMs: number; computeMs: number }) => r.setupMs + r.computeMs;
const fastNeuronRun = await median(closedForm, sweepTotal);
const fastNeurons = { ms: sweepTotal(fastNeuronRun) };
let exactBoundsRun: { setupMs: number; computeMs: number } | null = null;
if (process.argv.includes('--compare-bounds')) {
  process.env.PLATEAU_PAIR_BOUNDS = 'exact';
  exactBoundsRun = await median(closedForm, sweepTotal);
  delete process.env.PLATEAU_PAIR_BOUNDS;
}
let neuronsProfile: object | null = null;
if (process.argv.includes('--profile')) {
  const profiler = Profiler.attach(gpu);
  await closedForm();
  const report = await profiler.collect();
  profiler.detach();
  neuronsProfile = {
    mode: report.mode, gpuSumMs: Number(report.gpuSumMs.toFixed(2)), wallMs: Number(report.wallMs.toFixed(2)),
    kernels: report.kernels.slice(0, 12).map((k) => ({ kernel: k.kernel, calls: k.calls, ms: Number(k.totalMs.toFixed(2)), share: Number(k.share.toFixed(3)), gflops: Number(k.gflops.toFixed(1)) })),
  };
}
/** Diagnostic: the pair loop's exp2 calls replaced by max(x, 1) (keeps every Σ ≥ 1, so nothing is rerun). */
const NO_EXP_EDIT = {
  name: 'no-exp',
  apply(code: string): string {
    const edited = code.replace(/(\+= |= fma\()exp2(_row3)?\(/g, '$1exp2_diag_off(');
    if (edited.split('exp2_diag_off(').length !== 9) throw new Error('no-exp edit: expected the 4 exp2 calls of add_column and the 4 of add_column_scaled');
    return `${edited}\nfn exp2_diag_off(x: vec4<f32>) -> vec4<f32> { return max(x, vec4<f32>(1.0)); }\n`;
  },
};

/** Closed-form compute (all neurons) per pair-kernel variant, one shared clean run, medians of `repeats`. */
async function pairVariants(names: string[]): Promise<Record<string, { computeMs: number; overFirst: number }>> {
  const post = `blocks.${last}.mlp.hook_post`;
  const clean = await CleanRun.capture(model, ids, B, T, { layers: [last], meanHooks: [post], unembed: false });
  const variants = names.map((name) => {
    const diagnostic = name.endsWith(':no-exp');
    const options: ClosedFormOptions = parsePairVariant(diagnostic ? name.slice(0, -':no-exp'.length) : name, '--pair-variants');
    if (diagnostic) options.sourceEdit = NO_EXP_EDIT;
    return { name, options };
  });
  const timings = await timePairVariants(model, clean, clean.means.get(post)!, variants, spec.dMlp, repeats);
  clean.destroy();
  const firstMs = timings[0].medianMs;
  return Object.fromEntries(timings.map((t) => [t.variant, { computeMs: Number(t.medianMs.toFixed(2)), overFirst: Number((t.medianMs / firstMs).toFixed(3)) }]));
}
const pairVariantNames = flag('pair-variants', '').split(',').filter(Boolean);
const pairVariantTimes = pairVariantNames.length ? await pairVariants(pairVariantNames) : null;
// The fastest real variant (not the diagnostic): what `plateau profile --autotune` would pick.
const bestPair = pairVariantTimes
  ? Object.entries(pairVariantTimes).filter(([n]) => !n.endsWith(':no-exp')).map(([name, t]) => ({ name, computeMs: t.computeMs }))
    .reduce((a, b) => (b.computeMs < a.computeMs ? b : a), { name: '', computeMs: Infinity })
  : null;

const sample = Array.from({ length: naiveNeurons }, (_, k) => Math.floor((k * spec.dMlp) / naiveNeurons));
const naiveNeuronRun = await timedSweep(() => neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean', neurons: sample }, 'naive'));
// The naive path pays its setup (clean run, means) once and one forward per neuron.
const naiveNeuronMs = naiveNeuronRun.setupMs + (naiveNeuronRun.computeMs / naiveNeurons) * spec.dMlp;

// Per-position head sweep: every head of the last layer, every position (BOS redirect); --naive-heads 0
// skips it (its naive sample is one forward per position: too slow for many tokens on a CPU adapter).
const headPlan = { kind: 'heads' as const, layers: [last], ablation: 'bos' as const };
let bosHeads: { fastRun: { setupMs: number; computeMs: number }; fastMs: number; naiveRun: { setupMs: number; computeMs: number }; naiveMs: number } | null = null;
if (naiveHeads > 0) {
  const fastRun = await timedSweep(() => headAblationSweep(ctx, headPlan, 'single-position-cached'));
  // naive: one forward per (head, position); time `naiveHeads` heads' worth of positions.
  const naiveRun = await timedSweep(() => headAblationSweep(ctx, headPlan, 'naive' as Strategy), naiveHeads);
  bosHeads = { fastRun, fastMs: fastRun.setupMs + fastRun.computeMs, naiveRun, naiveMs: naiveRun.setupMs + (naiveRun.computeMs / naiveHeads) * spec.nHeads };
}

// Final-layer zero ablation of every head: the closed form (parallel-residual models only) against
// re-running the final layer for a batch of variants (the strategy every other layer uses).
let finalHeads: { closedForm: { setupMs: number; computeMs: number }; batched: { setupMs: number; computeMs: number } } | null = null;
if (finalHeadsHaveClosedForm(spec)) {
  const plan = { kind: 'heads' as const, layers: [last], ablation: 'zero' as const };
  await runAll(await headAblationSweep(ctx, plan)); // compiles the pipelines
  finalHeads = {
    closedForm: await median(() => timedSweep(() => headAblationSweep(ctx, plan)), sweepTotal),
    batched: await median(() => timedSweep(() => headAblationSweep(ctx, plan, 'batched-from-layer')), sweepTotal),
  };
}

const perToken = (ms: number) => Number((ms / tokens).toFixed(4));
console.log(JSON.stringify({
  bench: 'sweeps',
  date: new Date().toISOString(),
  adapter: gpu.describe(),
  shape: bench.shapeInfo,
  tokens, batch: B, seq: T,
  ms_per_token: {
    forward: perToken(forward.ms),
    neurons_closed_form: perToken(fastNeurons.ms),
    ...(exactBoundsRun ? { neurons_closed_form_exact_bounds: perToken(sweepTotal(exactBoundsRun)) } : {}),
    neurons_naive_extrapolated: perToken(naiveNeuronMs),
    ...(bosHeads ? { heads_bos_single_position: perToken(bosHeads.fastMs), heads_bos_naive_extrapolated: perToken(bosHeads.naiveMs) } : {}),
    ...(finalHeads ? { heads_final_zero_closed_form: perToken(sweepTotal(finalHeads.closedForm)), heads_final_zero_batched: perToken(sweepTotal(finalHeads.batched)) } : {}),
  },
  naive_sample: { neurons: naiveNeurons, heads: naiveHeads },
  repeats,
  phases_ms: { ...(finalHeads ? { heads_final_closed_form: finalHeads.closedForm, heads_final_batched: finalHeads.batched } : {}), neurons_fast: fastNeuronRun, ...(exactBoundsRun ? { neurons_exact_bounds: exactBoundsRun } : {}), neurons_naive_sample: naiveNeuronRun, ...(bosHeads ? { heads_fast: bosHeads.fastRun, heads_naive_sample: bosHeads.naiveRun } : {}) },
  ...(neuronsProfile ? { neurons_profile: neuronsProfile } : {}),
  ...(pairVariantTimes ? { pair_variants: pairVariantTimes } : {}),
  ratios: {
    neurons_speedup_vs_naive: Number((naiveNeuronMs / fastNeurons.ms).toFixed(1)),
    neurons_sweep_over_one_forward: Number((fastNeurons.ms / forward.ms).toFixed(2)),
    ...(exactBoundsRun ? { pair_compute_exact_fallback_over_fast_bounds: Number((exactBoundsRun.computeMs / fastNeuronRun.computeMs).toFixed(2)) } : {}),
    ...(bestPair ? { neurons_sweep_over_one_forward_best_pair_variant: Number(((fastNeuronRun.setupMs + bestPair.computeMs) / forward.ms).toFixed(2)), best_pair_variant: bestPair.name } : {}),
    ...(bosHeads ? { heads_bos_speedup_vs_naive: Number((bosHeads.naiveMs / bosHeads.fastMs).toFixed(1)) } : {}),
    ...(finalHeads ? { heads_final_closed_form_speedup_vs_batched: Number((sweepTotal(finalHeads.batched) / sweepTotal(finalHeads.closedForm)).toFixed(2)) } : {}),
  },
}));
bench.close();
