// Sweep benchmark (JSON to stdout): on a random model of a real shape (default GPT-2 small) and
// one set of tokens, in the same run: one forward pass; the final-layer neuron sweep by the closed
// form vs naive re-forwards (a sample of neurons, extrapolated to all); the per-position BOS
// head sweep against cached keys/values vs naive re-forwards (a sample, extrapolated).
//   node dist/bench/sweeps.mjs [--shape gpt2-small|pythia-160m|gpt2-xl] [--layers N] [--batch B]
//     [--seq T] [--naive-neurons K] [--naive-heads K] [--dtype F32|F16] [--model DIR]
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { Gpu } from '../src/gpu/device.js';
import { loadModel } from '../src/model/load.js';
import { SHAPES, writeRandomCheckpoint, type RandomModelShape } from '../src/model/random-checkpoint.js';
import { headAblationSweep, neuronSweep, type SweepContext, type SweepRunner } from '../src/interventions/sweeps.js';
import type { Strategy } from '../src/interventions/plan.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

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

const shapeName = flag('shape', 'gpt2-small') as keyof typeof SHAPES;
const shape: RandomModelShape = { ...SHAPES[shapeName], nLayers: Number(flag('layers', String(SHAPES[shapeName].nLayers))), dtype: flag('dtype', 'F32') as 'F32' | 'F16' };
const B = Number(flag('batch', '1'));
const T = Number(flag('seq', '64'));
const naiveNeurons = Number(flag('naive-neurons', '2'));
const naiveHeads = Number(flag('naive-heads', '1'));

const tmp = mkdtempSync(path.join(os.tmpdir(), 'plateau-bench-'));
const modelDir = flag('model', '') || path.join(tmp, 'model');
if (!flag('model', '')) await writeRandomCheckpoint(modelDir, shape);
const gpu = await Gpu.create();
const model = await loadModel(gpu, modelDir);
const { spec } = model;
const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919 + 13) % spec.vocab);
const ctx: SweepContext = { model, ids, B, T };
const tokens = B * T;
const last = spec.nLayers - 1;

// Warm-up: compile every pipeline outside the timed regions.
await model.forward({ ids, batch: B, seq: T });
await runAll(await neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean', neurons: [0] }, 'final-layer-closed-form'));
await runAll(await headAblationSweep(ctx, { kind: 'heads', layers: [last], ablation: 'bos' }, 'single-position-cached'), 1);

const forward = await timed(gpu, () => model.forward({ ids, batch: B, seq: T }));
const fastNeuronRun = await timedSweep(() => neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean' }, 'final-layer-closed-form'));
const fastNeurons = { ms: fastNeuronRun.setupMs + fastNeuronRun.computeMs };
const sample = Array.from({ length: naiveNeurons }, (_, k) => Math.floor((k * spec.dMlp) / naiveNeurons));
const naiveNeuronRun = await timedSweep(() => neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean', neurons: sample }, 'naive'));
// The naive path pays its setup (clean run, means) once and one forward per neuron.
const naiveNeuronMs = naiveNeuronRun.setupMs + (naiveNeuronRun.computeMs / naiveNeurons) * spec.dMlp;

// Per-position head sweep: every head of the last layer, every position (BOS redirect).
const headPlan = { kind: 'heads' as const, layers: [last], ablation: 'bos' as const };
const fastHeadRun = await timedSweep(() => headAblationSweep(ctx, headPlan, 'single-position-cached'));
const fastHeads = { ms: fastHeadRun.setupMs + fastHeadRun.computeMs };
// naive: one forward per (head, position); time `naiveHeads` heads' worth of positions.
const naiveHeadRun = await timedSweep(() => headAblationSweep(ctx, headPlan, 'naive' as Strategy), naiveHeads);
const naiveHeadMs = naiveHeadRun.setupMs + (naiveHeadRun.computeMs / naiveHeads) * spec.nHeads;

const perToken = (ms: number) => Number((ms / tokens).toFixed(4));
console.log(JSON.stringify({
  bench: 'sweeps',
  date: new Date().toISOString(),
  adapter: gpu.describe(),
  shape: { name: shapeName, ...shape, dMlp: spec.dMlp },
  tokens, batch: B, seq: T,
  ms_per_token: {
    forward: perToken(forward.ms),
    neurons_closed_form: perToken(fastNeurons.ms),
    neurons_naive_extrapolated: perToken(naiveNeuronMs),
    heads_bos_single_position: perToken(fastHeads.ms),
    heads_bos_naive_extrapolated: perToken(naiveHeadMs),
  },
  naive_sample: { neurons: naiveNeurons, heads: naiveHeads },
  phases_ms: { neurons_fast: fastNeuronRun, neurons_naive_sample: naiveNeuronRun, heads_fast: fastHeadRun, heads_naive_sample: naiveHeadRun },
  ratios: {
    neurons_speedup_vs_naive: Number((naiveNeuronMs / fastNeurons.ms).toFixed(1)),
    neurons_sweep_over_one_forward: Number((fastNeurons.ms / forward.ms).toFixed(2)),
    heads_bos_speedup_vs_naive: Number((naiveHeadMs / fastHeads.ms).toFixed(1)),
  },
}));
model.destroy();
gpu.destroy();
rmSync(tmp, { recursive: true, force: true });
