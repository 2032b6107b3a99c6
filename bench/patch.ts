// Activation-patching benchmark (JSON to stdout): on a random model of a real shape (default GPT-2
// small, or --model DIR) and one clean / corrupted pair, in the same run, the (layer, position)
// patching of a hook (default resid_pre; --per-head for hook z) by each strategy: suffix-cached
// (only positions ≥ p re-run against cached keys/values), batched-from-layer (whole sequences from
// layer l), and naive (one full forward per patch) on a sample of patches, extrapolated.
//   node dist/bench/patch.mjs [--shape gpt2-small|pythia-160m|gpt2-xl] [--layers N] [--dtype F32|F16] [--seq T]
//     [--hook resid_pre] [--per-head] [--naive-patches K] [--model DIR] [--repeats R]
import { isSoftwareAdapter } from '../src/gpu/kernels.js';
import { patchRunner } from '../src/interventions/patch.js';
import { parsePatchHook, type PatchPlan, type Strategy } from '../src/interventions/plan.js';

import { flag, openBenchModel } from './lib/bench-model.js';

const bench = await openBenchModel();
const { gpu, model } = bench;
const { spec } = model;
const software = isSoftwareAdapter(gpu);
const T = Number(flag('seq', software ? '32' : '128'));
const repeats = Number(flag('repeats', software ? '1' : '3'));
const naivePatches = Number(flag('naive-patches', '4'));
const ids = Int32Array.from({ length: 2 * T }, (_, i) => (i * 7919 + 13) % spec.vocab);
const ctx = { model, ids, B: 2, T };
const plan: PatchPlan = { kind: 'patch', hook: parsePatchHook(spec, flag('hook', process.argv.includes('--per-head') ? 'z' : 'resid_pre')), cleanRow: 0, corruptedRow: 1, perHead: process.argv.includes('--per-head') };

/** Setup (clean and corrupted runs) and compute of `units` patches (all by default), ms. */
async function timePatches(strategy: Strategy, units?: number): Promise<{ setupMs: number; computeMs: number; units: number }> {
  await gpu.sync();
  const t0 = performance.now();
  const runner = await patchRunner(ctx, plan, strategy);
  await gpu.sync();
  const t1 = performance.now();
  const n = units ?? runner.units;
  await runner.compute(0, n);
  await gpu.sync();
  const t2 = performance.now();
  runner.dispose();
  return { setupMs: t1 - t0, computeMs: t2 - t1, units: n };
}

async function median(strategy: Strategy): Promise<{ setupMs: number; computeMs: number; units: number }> {
  const runs = [];
  for (let r = 0; r < repeats; r++) runs.push(await timePatches(strategy));
  runs.sort((a, b) => a.computeMs - b.computeMs);
  return runs[Math.floor(runs.length / 2)];
}

// Warm-up: every pipeline compiled outside the timed runs.
await timePatches('suffix-cached', 1);
await timePatches('batched-from-layer', 1);
const suffix = await median('suffix-cached');
const batched = await median('batched-from-layer');
// naive: the first `naivePatches` patches (layer 0: full forwards either way), extrapolated.
const naiveSample = await timePatches('naive', naivePatches);
const naiveMs = naiveSample.setupMs + (naiveSample.computeMs / naivePatches) * suffix.units;

const total = (r: { setupMs: number; computeMs: number }) => r.setupMs + r.computeMs;
console.log(JSON.stringify({
  bench: 'patch',
  date: new Date().toISOString(),
  adapter: gpu.describe(),
  shape: bench.shapeInfo,
  seq: T, hook: plan.hook, perHead: plan.perHead, patches: suffix.units, repeats,
  ms: { suffix_cached: suffix, batched_from_layer: batched, naive_sample: naiveSample, naive_extrapolated: Number(naiveMs.toFixed(1)) },
  ratios: {
    batched_over_suffix_compute: Number((batched.computeMs / suffix.computeMs).toFixed(2)),
    batched_over_suffix_total: Number((total(batched) / total(suffix)).toFixed(2)),
    naive_over_suffix_total: Number((naiveMs / total(suffix)).toFixed(1)),
  },
}));
bench.close();
