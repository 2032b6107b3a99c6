// Every fast strategy equals the naive one (one full forward pass per intervention) on random
// models of shapes the fixtures don't cover: sequential GPT-NeoX blocks, other rotary fractions,
// f16 storage, vocabularies split over several chunks.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu, maxAbsDiff, rng } from './helpers/gpu.js';
import { tempDir } from './helpers/cli.js';
import { writeRandomCheckpoint, type RandomModelShape } from '../src/model/random-checkpoint.js';
import { loadModel } from '../src/model/load.js';
import { concat, headAblationSweep, neuronSweep, type SweepContext } from '../src/interventions/sweeps.js';
import { PATCH_HOOKS, type PatchHook, type Strategy } from '../src/interventions/plan.js';
import { patchRunner, patchSweep } from '../src/interventions/patch.js';
import { logSoftmax } from '../src/interventions/batched.js';
import { CleanRun } from '../src/interventions/clean-run.js';
import { FinalLayerNeuronSweep, type ClosedFormOptions } from '../src/interventions/closed-form.js';
import { FinalLayerHeadSweep } from '../src/interventions/final-layer-heads.js';
import { populationMeans } from '../src/interventions/means.js';

const SHAPES: Record<string, RandomModelShape> = {
  'gpt2 f16': { arch: 'gpt2', dModel: 48, nLayers: 3, nHeads: 3, vocab: 301, nCtx: 24, dtype: 'F16', seed: 3 },
  'neox sequential rot 0.5': { arch: 'gpt_neox', dModel: 32, nLayers: 2, nHeads: 2, vocab: 257, nCtx: 24, parallelResidual: false, rotaryPct: 0.5, seed: 4 },
  'neox parallel f16': { arch: 'gpt_neox', dModel: 64, nLayers: 2, nHeads: 4, vocab: 263, nCtx: 24, dtype: 'F16', seed: 5 },
};

async function context(name: string): Promise<SweepContext> {
  const dir = path.join(tempDir(), 'model');
  await writeRandomCheckpoint(dir, SHAPES[name]);
  const model = await loadModel(await testGpu(), dir);
  model.vocabChunkCap = 64; // several vocabulary chunks per pass
  const B = 2, T = 11;
  const r = rng(7);
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(r() * SHAPES[name].vocab));
  return { model, ids, B, T };
}

async function outputs(ctx: SweepContext, make: (s: Strategy) => ReturnType<typeof neuronSweep>, strategy: Strategy): Promise<Float32Array[]> {
  const runner = await make(strategy);
  const out = await runner.compute(0, runner.units);
  runner.dispose();
  return out;
}

/**
 * The naive patch: one forward of the corrupted row (one sequence) that writes `slices` ([position,
 * col0, width]) of hook `name` from the clean run's `value` [T, width]; log-softmax at the last position.
 */
async function naivePatch(model: SweepContext['model'], corruptedIds: Int32Array, name: string, value: Float32Array, slices: [number, number, number][]): Promise<Float32Array> {
  const T = corruptedIds.length;
  const width = value.length / T;
  const result = await model.forward({
    ids: corruptedIds, batch: 1, seq: T, logits: [T - 1],
    onHook: (site) => {
      if (site.name !== name) return;
      model.gpu.flush(); // the writes must land after the kernels that produced the hook
      for (const [t, col0, w] of slices) model.gpu.write(site.buffer, value.subarray(t * width + col0, t * width + col0 + w), (t * width + col0) * 4);
    },
  });
  return logSoftmax(result.logits!, model.spec.vocab);
}

describe.each(Object.keys(SHAPES))('fast strategies equal the naive path: %s', (name) => {
  it.each(['tiled', 'direct'])('final-layer neurons (closed form, %s pair kernel), mean and zero', async (kernel) => {
    const ctx = await context(name);
    const last = ctx.model.spec.nLayers - 1;
    process.env.PLATEAU_PAIR_KERNEL = kernel;
    try {
      for (const ablation of ['mean', 'zero'] as const) {
        // 70 neurons: more than one 64-neuron workgroup tile, with a ragged edge
        const neurons = Array.from({ length: 70 }, (_, i) => (i * 7) % ctx.model.spec.dMlp);
        const make = (s: Strategy) => neuronSweep(ctx, { kind: 'neurons', layer: last, ablation, neurons: s === 'naive' ? neurons.slice(0, 6) : neurons }, s);
        const [fast] = await outputs(ctx, make, 'final-layer-closed-form');
        const [naive] = await outputs(ctx, make, 'naive');
        expect(maxAbsDiff(fast.subarray(0, naive.length), naive)).toBeLessThan(1e-4);
        expect(Math.max(...naive.map(Math.abs))).toBeGreaterThan(1e-3); // the ablations do something
      }
    } finally {
      delete process.env.PLATEAU_PAIR_KERNEL;
    }
  });

  it.each(['tiled', 'direct'] as const)('closed form (%s): loose bounds are caught and rerun exactly, never change the numbers', async (kernel) => {
    const ctx = await context(name);
    const { model, ids, B, T } = ctx;
    const last = model.spec.nLayers - 1;
    const neurons = Array.from({ length: 70 }, (_, i) => i);
    const [naive] = await outputs(ctx, (s) => neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean', neurons }, s), 'naive');
    const post = `blocks.${last}.mlp.hook_post`;
    const clean = await CleanRun.capture(model, ids, B, T, { readHooks: [post], meanHooks: [post] });
    const means = clean.means.get(post)!;
    // The GPU's column means against a float64 mean of the read-back activation.
    const data = clean.hooks.get(post)!.data;
    const m = model.spec.dMlp;
    const reference = Array.from({ length: m }, (_, j) => {
      let sum = 0;
      for (let r = 0; r < B * T; r++) sum += data[r * m + j];
      return sum / (B * T);
    });
    expect(maxAbsDiff(means, Float32Array.from(reference))).toBeLessThan(1e-6);
    const cases: [ClosedFormOptions, boolean][] = [
      [{}, false], // the bound as computed: no rerun on a random model
      [{ slack: 60 }, false], // 60 log2 units too high: still safe in f32, no rerun
      [{ slack: 200 }, true], // everything underflows: flagged, rerun with exact maxima
      [{ bounds: 'exact' }, false],
      [{ exp: 'mixed' }, false], // a quarter of the exps from the FMA polynomial
      [{ exp: 'mixed', slack: 200 }, true],
      [{ bias: 'factor' }, false], // e as a per-column factor
      [{ bias: 'factor', exp: 'mixed' }, false],
      [{ bias: 'factor', slack: 200 }, true], // the exact rerun takes the plain form
    ];
    try {
      // The clean nll comes from the same arithmetic (the clean column): ablating to the value a
      // neuron already has (row r's activations as the "means") changes row r's nll by exactly 0;
      // with mixed exps row 3 is one whose terms come from the FMA polynomial.
      for (const [exp, row, bias] of [['hardware', 0, 'in-exp'], ['mixed', 3, 'in-exp'], ['hardware', 1, 'factor']] as const) {
        const noOp = new FinalLayerNeuronSweep(model, clean, { kernel, exp, bias });
        const atRow = await noOp.run(0, neurons.length, data.subarray(row * m, (row + 1) * m));
        noOp.destroy();
        for (let i = 0; i < neurons.length; i++) expect(atRow[i * B * (T - 1) + row], `${exp}: neuron ${i}`).toBe(0);
        expect(maxAbsDiff(atRow, new Float32Array(atRow.length))).toBeGreaterThan(1e-3); // other rows do change
      }
      for (const [options, rerun] of cases) {
        const sweep = new FinalLayerNeuronSweep(model, clean, { kernel, ...options });
        const fractions: number[] = [];
        const fast = await sweep.run(0, neurons.length, means, undefined, (f) => fractions.push(f));
        sweep.destroy();
        // Progress by vocabulary chunk (a rerun restarts its tile's share), ending at 1.
        expect(fractions.length).toBeGreaterThanOrEqual(Math.ceil(model.spec.vocab / 64));
        expect(fractions[fractions.length - 1]).toBeCloseTo(1, 12);
        if (!rerun) for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThan(fractions[i - 1]);
        expect(sweep.exactReruns > 0, JSON.stringify(options)).toBe(rerun);
        expect(maxAbsDiff(fast, naive), JSON.stringify(options)).toBeLessThan(1e-4);
        // dnll is a difference, blind to errors common to every column: the clean column's own nll
        // against the forward pass's checks the log-sum-exp itself.
        expect(maxAbsDiff(sweep.cleanNll, clean.nll), JSON.stringify(options)).toBeLessThan(1e-5);
      }
    } finally {
      clean.destroy();
    }
  });

  it('middle-layer neurons and heads (batched from the layer)', async () => {
    const ctx = await context(name);
    const n = (s: Strategy) => neuronSweep(ctx, { kind: 'neurons', layer: 0, ablation: 'mean', neurons: [1, 2, 30] }, s);
    expect(maxAbsDiff((await outputs(ctx, n, 'batched-from-layer'))[0], (await outputs(ctx, n, 'naive'))[0])).toBeLessThan(1e-4);
    const h = (s: Strategy) => headAblationSweep(ctx, { kind: 'heads', layers: [1], ablation: 'zero' }, s);
    expect(maxAbsDiff((await outputs(ctx, h, 'batched-from-layer'))[0], (await outputs(ctx, h, 'naive'))[0])).toBeLessThan(1e-4);
  });

  it('heads, zero and mean at every layer: the final layer by its closed form where exact (parallel residual)', async () => {
    const ctx = await context(name);
    const { spec } = ctx.model;
    const last = spec.nLayers - 1;
    for (const ablation of ['zero', 'mean'] as const) {
      const h = (s?: Strategy) => headAblationSweep(ctx, { kind: 'heads', layers: [0, last], ablation }, s);
      const runner = await h();
      const [fast] = await runner.compute(0, runner.units);
      runner.dispose();
      expect(runner.strategy).toBe(spec.parallelResidual ? 'batched-from-layer+final-layer-closed-form' : 'batched-from-layer');
      const [naive] = await outputs(ctx, h, 'naive');
      expect(maxAbsDiff(fast, naive), ablation).toBeLessThan(1e-4);
      const finalPart = naive.subarray(naive.length / 2);
      expect(Math.max(...finalPart.map(Math.abs))).toBeGreaterThan(1e-3); // the final layer's ablations do something
    }
    if (!spec.parallelResidual) {
      await expect(headAblationSweep(ctx, { kind: 'heads', layers: [last], ablation: 'zero' }, 'final-layer-closed-form')).rejects.toThrow(/no closed form/);
      return;
    }
    // Both ways of forming a head's logit shift (δ·F_h, or the unembedded shifted residual) against
    // naive zero ablation; and a no-op ablation (every head set to row 0's own z) changes row 0's nll
    // by exactly 0.
    const z = `blocks.${last}.attn.hook_z`;
    const [naive] = await outputs(ctx, (s) => headAblationSweep(ctx, { kind: 'heads', layers: [last], ablation: 'zero' }, s), 'naive');
    const clean = await CleanRun.capture(ctx.model, ctx.ids, ctx.B, ctx.T, { layers: [last], readHooks: [z], keepHooks: [z], unembed: false });
    const cleanNll = (await ctx.model.forward({ ids: ctx.ids, batch: ctx.B, seq: ctx.T })).nll;
    for (const mode of ['factor', 'direct'] as const) {
      const zero = new FinalLayerHeadSweep(ctx.model, clean, null, mode);
      // heads 1.. then head 0: a run may start at any head
      const parts = [await zero.run(1, spec.nHeads - 1), await zero.run(0, 1)];
      zero.destroy();
      expect(maxAbsDiff(zero.cleanNll, cleanNll), mode).toBeLessThan(1e-5); // the log-sum-exp itself, not only differences
      expect(maxAbsDiff(concat([parts[1], parts[0]]), naive), mode).toBeLessThan(1e-4);
      const sweep = new FinalLayerHeadSweep(ctx.model, clean, clean.hooks.get(z)!.data.slice(0, spec.dModel), mode);
      const noOp = await sweep.run(0, spec.nHeads);
      sweep.destroy();
      for (let h = 0; h < spec.nHeads; h++) expect(noOp[h * ctx.B * (ctx.T - 1)], `${mode}: head ${h}`).toBe(0);
      expect(maxAbsDiff(noOp, new Float32Array(noOp.length))).toBeGreaterThan(1e-3);
    }
    clean.destroy();
  });

  it('mean ablation over a named population (populationMeans of other rows): heads and neurons, every strategy = naive', async () => {
    const ctx = await context(name);
    const { model } = ctx;
    const { spec } = model;
    const last = spec.nLayers - 1;
    const r = rng(12);
    const population = { ids: Int32Array.from({ length: 3 * 7 }, () => Math.floor(r() * spec.vocab)), B: 3, T: 7 };
    const zNames = [0, last].map((l) => `blocks.${l}.attn.hook_z`);
    const post = `blocks.${last}.mlp.hook_post`;
    const means = await populationMeans(model, population, [...zNames, post]);
    const heads = (s?: Strategy) => headAblationSweep(ctx, { kind: 'heads', layers: [0, last], ablation: 'mean', means: zNames.map((z) => means.get(z)!) }, s);
    const runner = await heads();
    const [fast] = await runner.compute(0, runner.units);
    runner.dispose();
    const [naive] = await outputs(ctx, heads, 'naive');
    expect(maxAbsDiff(fast, naive), runner.strategy).toBeLessThan(1e-4);
    const [batchMeans] = await outputs(ctx, (s) => headAblationSweep(ctx, { kind: 'heads', layers: [0, last], ablation: 'mean' }, s), 'naive');
    expect(maxAbsDiff(naive, batchMeans)).toBeGreaterThan(1e-3); // the population matters
    const neurons = (s: Strategy) => neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean', neurons: [0, 3, 8], means: means.get(post)! }, s);
    expect(maxAbsDiff((await outputs(ctx, neurons, 'final-layer-closed-form'))[0], (await outputs(ctx, neurons, 'naive'))[0])).toBeLessThan(1e-4);
  });

  it('resample ablation (activations from another run, position by position): neurons and heads, every strategy = naive', async () => {
    const ctx = await context(name);
    const { spec } = ctx.model;
    const last = spec.nLayers - 1;
    const r = rng(11);
    const resampleIds = Int32Array.from(ctx.ids, () => Math.floor(r() * spec.vocab));
    const neurons = [0, 5, 17];
    for (const layer of [0, last]) {
      const make = (s: Strategy) => neuronSweep(ctx, { kind: 'neurons', layer, ablation: 'resample', neurons, resampleIds }, s);
      const [naive] = await outputs(ctx, make, 'naive');
      const fast = layer === last ? 'final-layer-closed-form' : 'batched-from-layer';
      expect(maxAbsDiff((await outputs(ctx, make, fast))[0], naive), `neurons L${layer}`).toBeLessThan(1e-4);
      expect(Math.max(...naive.map(Math.abs))).toBeGreaterThan(1e-3);
    }
    const heads = (s?: Strategy) => headAblationSweep(ctx, { kind: 'heads', layers: [0, last], ablation: 'resample', resampleIds }, s);
    const runner = await heads();
    const [fast] = await runner.compute(0, runner.units);
    runner.dispose();
    const [naive] = await outputs(ctx, heads, 'naive');
    expect(maxAbsDiff(fast, naive), runner.strategy).toBeLessThan(1e-4);
    // Resampling from the swept batch itself changes nothing.
    const same = await headAblationSweep(ctx, { kind: 'heads', layers: [0, last], ablation: 'resample', resampleIds: ctx.ids });
    expect(maxAbsDiff((await same.compute(0, same.units))[0], new Float32Array(naive.length))).toBe(0);
    same.dispose();
    // Wrong shape: a clear error.
    await expect(neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'resample', resampleIds: resampleIds.subarray(1) })).rejects.toThrow(/same shape/);
  });

  it('activation patching of every patchable hook = one forward per patch writing the clean value', async () => {
    const ctx = await context(name);
    const { model, ids, T } = ctx;
    const { spec } = model;
    const V = spec.vocab;
    const hooks = (Object.keys(PATCH_HOOKS) as PatchHook[]).filter((h) => h !== 'resid_mid' || !spec.parallelResidual);
    const cleanIds = ids.subarray(0, T);
    const corruptedIds = ids.subarray(T, 2 * T);
    const names = hooks.flatMap((h) => Array.from({ length: spec.nLayers }, (_, l) => `blocks.${l}.${PATCH_HOOKS[h]}`));
    const cleanHooks = (await model.forward({ ids: cleanIds, batch: 1, seq: T, hooks: names, unembed: false })).hooks;
    for (const hook of hooks) {
      const logprobs = await patchSweep(ctx, { kind: 'patch', hook, cleanRow: 0, corruptedRow: 1 }); // suffix-cached
      expect(logprobs.length).toBe(spec.nLayers * T * V);
      const whole = await patchSweep(ctx, { kind: 'patch', hook, cleanRow: 0, corruptedRow: 1 }, 'batched-from-layer');
      expect(maxAbsDiff(logprobs, whole), `${hook}: suffix-cached vs batched-from-layer`).toBeLessThan(1e-4);
      for (const [l, p] of [[0, 2], [spec.nLayers - 1, T - 2]]) {
        const name = `blocks.${l}.${PATCH_HOOKS[hook]}`;
        const value = cleanHooks.get(name)!.data;
        const expected = await naivePatch(model, corruptedIds, name, value, [[p, 0, value.length / T]]);
        const got = logprobs.subarray((l * T + p) * V, (l * T + p + 1) * V);
        expect(maxAbsDiff(got, expected), `${hook} at (${l}, ${p})`).toBeLessThan(1e-4);
      }
    }
    const unpatched = logSoftmax((await model.forward({ ids: corruptedIds, batch: 1, seq: T, logits: [T - 1] })).logits!, V);
    const patched = await patchSweep(ctx, { kind: 'patch', hook: 'post', cleanRow: 0, corruptedRow: 1 });
    expect(maxAbsDiff(patched.subarray(0, V), unpatched)).toBeGreaterThan(1e-4); // patching changes something
  });

  it('patching per head and at every position at once (hook_z slices, any hook) = one forward per patch; --tokens keeps columns', async () => {
    const ctx = await context(name);
    const { model, ids, T } = ctx;
    const { spec } = model;
    const V = spec.vocab;
    const H = spec.nHeads;
    const dh = spec.dHead;
    const cleanIds = ids.subarray(0, T);
    const corruptedIds = ids.subarray(T, 2 * T);
    const names = Array.from({ length: spec.nLayers }, (_, l) => [`blocks.${l}.attn.hook_z`, `blocks.${l}.hook_mlp_out`]).flat();
    const cleanHooks = (await model.forward({ ids: cleanIds, batch: 1, seq: T, hooks: names, unembed: false })).hooks;
    const naive = (name: string, slices: [number, number, number][]) => naivePatch(model, corruptedIds, name, cleanHooks.get(name)!.data, slices);
    const all = (col0: number, w: number) => Array.from({ length: T }, (_, t) => [t, col0, w] as [number, number, number]);
    const last = spec.nLayers - 1;
    const z = (l: number) => `blocks.${l}.attn.hook_z`;
    // Per head, position by position: [L, H, T, V] — only the suffix from each position is re-run.
    const runner = await patchRunner(ctx, { kind: 'patch', hook: 'z', cleanRow: 0, corruptedRow: 1, perHead: true });
    expect(runner.strategy).toBe('suffix-cached');
    runner.dispose();
    const byPos = await patchSweep(ctx, { kind: 'patch', hook: 'z', cleanRow: 0, corruptedRow: 1, perHead: true });
    expect(byPos.length).toBe(spec.nLayers * H * T * V);
    const byPosNaive = await patchSweep(ctx, { kind: 'patch', hook: 'z', cleanRow: 0, corruptedRow: 1, perHead: true }, 'naive');
    expect(maxAbsDiff(byPos, byPosNaive)).toBeLessThan(1e-4);
    for (const [l, h, p] of [[0, 1, 3], [last, H - 1, T - 2], [last, 0, 0]]) {
      const got = byPos.subarray(((l * H + h) * T + p) * V, ((l * H + h) * T + p + 1) * V);
      expect(maxAbsDiff(got, await naive(z(l), [[p, h * dh, dh]])), `z head ${h} at (${l}, ${p})`).toBeLessThan(1e-4);
    }
    // Per head, every position at once: [L, H, V].
    const allPos = await patchSweep(ctx, { kind: 'patch', hook: 'z', cleanRow: 0, corruptedRow: 1, perHead: true, positions: 'all' });
    expect(allPos.length).toBe(spec.nLayers * H * V);
    for (const [l, h] of [[0, H - 1], [last, 1]]) {
      const got = allPos.subarray((l * H + h) * V, (l * H + h + 1) * V);
      expect(maxAbsDiff(got, await naive(z(l), all(h * dh, dh))), `z head ${h}, layer ${l}, all positions`).toBeLessThan(1e-4);
    }
    // A whole hook at every position: [L, V]; patching all of resid_pre at layer 0 gives the clean run's log-probs.
    const mlpOut = await patchSweep(ctx, { kind: 'patch', hook: 'mlp_out', cleanRow: 0, corruptedRow: 1, positions: 'all' });
    expect(mlpOut.length).toBe(spec.nLayers * V);
    const mlpName = `blocks.${last - 1}.hook_mlp_out`;
    expect(maxAbsDiff(mlpOut.subarray((last - 1) * V, last * V), await naive(mlpName, all(0, spec.dModel)))).toBeLessThan(1e-4);
    const residAll = await patchSweep(ctx, { kind: 'patch', hook: 'resid_pre', cleanRow: 0, corruptedRow: 1, positions: 'all' });
    const cleanLogprobs = logSoftmax((await model.forward({ ids: cleanIds, batch: 1, seq: T, logits: [T - 1] })).logits!, V);
    expect(maxAbsDiff(residAll.subarray(0, V), cleanLogprobs)).toBeLessThan(1e-4);
    // --tokens: the same numbers, only the chosen columns.
    const tokens = [V - 1, 0, 5];
    const picked = await patchSweep(ctx, { kind: 'patch', hook: 'z', cleanRow: 0, corruptedRow: 1, perHead: true, positions: 'all', tokens });
    expect(picked.length).toBe(spec.nLayers * H * tokens.length);
    for (let u = 0; u < spec.nLayers * H; u++) {
      for (const [j, id] of tokens.entries()) expect(picked[u * tokens.length + j]).toBe(allPos[u * V + id]);
    }
    // Bad plans: clear errors.
    await expect(patchSweep(ctx, { kind: 'patch', hook: 'z', cleanRow: 0, corruptedRow: 1, positions: 'all' }, 'suffix-cached')).rejects.toThrow(/changes the whole sequence/);
    await expect(patchSweep(ctx, { kind: 'patch', hook: 'z', cleanRow: 0, corruptedRow: 1 }, 'final-layer-closed-form')).rejects.toThrow(/patching runs as suffix-cached, batched-from-layer or naive/);
    await expect(patchSweep(ctx, { kind: 'patch', hook: 'resid_pre', cleanRow: 0, corruptedRow: 1, perHead: true })).rejects.toThrow(/per-head patching applies to hook z/);
    await expect(patchSweep(ctx, { kind: 'patch', hook: 'z', cleanRow: 0, corruptedRow: 1, tokens: [V] })).rejects.toThrow(/not a token id/);
  });

  it('log-probabilities at chosen positions (re-run strategies; the closed forms measure the loss only) = naive and consistent with dnll', async () => {
    const ctx = await context(name);
    const { model, ids, B, T } = ctx;
    const { spec } = model;
    const V = spec.vocab;
    const last = spec.nLayers - 1;
    const positions = [-1, 2];
    const cleanNll = (await model.forward({ ids, batch: B, seq: T })).nll;
    const check = (dnll: Float32Array, logprobs: Float32Array, units: number) => {
      expect(logprobs.length).toBe(units * B * positions.length * V);
      for (let u = 0; u < units; u++) for (let b = 0; b < B; b++) {
        // position 2 (index 1 of the list): log p(next token) = −(clean nll + dnll)
        const target = ids[b * T + 3];
        const lp = logprobs[((u * B + b) * positions.length + 1) * V + target];
        expect(lp).toBeCloseTo(-(cleanNll[b * (T - 1) + 2] + dnll[(u * B + b) * (T - 1) + 2]), 4);
      }
    };
    for (const layer of [0, last]) {
      const make = (s?: Strategy) => neuronSweep(ctx, { kind: 'neurons', layer, ablation: 'mean', neurons: [1, 4, 9], logprobsAt: positions }, s);
      const runner = await make();
      expect(runner.strategy).toBe('batched-from-layer');
      expect(runner.outputs.map((o) => o.name)).toEqual(['dnll', 'logprobs']);
      const fast = await runner.compute(0, runner.units);
      runner.dispose();
      const naive = await outputs(ctx, make, 'naive');
      expect(maxAbsDiff(fast[0], naive[0])).toBeLessThan(1e-4);
      expect(maxAbsDiff(fast[1], naive[1])).toBeLessThan(1e-4);
      check(fast[0], fast[1], 3);
    }
    const heads = (s?: Strategy) => headAblationSweep(ctx, { kind: 'heads', layers: [0, last], ablation: 'zero', logprobsAt: positions }, s);
    const runner = await heads();
    expect(runner.strategy).toBe('batched-from-layer');
    const fast = await runner.compute(0, runner.units);
    runner.dispose();
    const naive = await outputs(ctx, heads, 'naive');
    expect(maxAbsDiff(fast[1], naive[1])).toBeLessThan(1e-4);
    check(fast[0], fast[1], 2 * spec.nHeads);
    await expect(neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'zero', logprobsAt: [-1] }, 'final-layer-closed-form')).rejects.toThrow(/loss only/);
    await expect(neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'zero', logprobsAt: [T] })).rejects.toThrow(/outside the sequences/);
  });

  it('watched activations of zero / mean / resample sweeps (re-run strategies) = naive; before the intervention they do not change', async () => {
    const ctx = await context(name);
    const { model, ids, B, T } = ctx;
    const { spec } = model;
    const last = spec.nLayers - 1;
    const neurons = [1, 4, 9];
    const watchSame = { layer: 0, neurons: [4, 0, 9] };
    // Neurons of layer 0, watched in layer 0 (the ablated neuron's own change, nothing else) and in the last layer.
    for (const watch of [watchSame, { layer: last, neurons: [2, 7] }]) {
      const make = (s?: Strategy) => neuronSweep(ctx, { kind: 'neurons', layer: 0, ablation: 'zero', neurons, watch }, s);
      const runner = await make();
      expect(runner.outputs.map((o) => o.name)).toEqual(['dnll', 'dact']);
      expect(runner.outputs[1].unitShape).toEqual([B, T, watch.neurons.length]);
      const fast = await runner.compute(0, runner.units);
      runner.dispose();
      const naive = await outputs(ctx, make, 'naive');
      expect(maxAbsDiff(fast[0], naive[0])).toBeLessThan(1e-4);
      expect(maxAbsDiff(fast[1], naive[1])).toBeLessThan(1e-4);
      expect(Math.max(...fast[1].map(Math.abs))).toBeGreaterThan(1e-3);
      if (watch === watchSame) {
        const post = (await model.forward({ ids, batch: B, seq: T, hooks: ['blocks.0.mlp.hook_post'], unembed: false })).hooks.get('blocks.0.mlp.hook_post')!.data;
        for (const [u, n] of neurons.entries()) {
          for (let r = 0; r < B * T; r++) {
            for (const [w, m] of watch.neurons.entries()) {
              const got = fast[1][(u * B * T + r) * watch.neurons.length + w];
              if (m === n) expect(got).toBeCloseTo(-post[r * spec.dMlp + n], 5); // zeroed: its change is −a
              else expect(got).toBe(0);
            }
          }
        }
      }
    }
    // The final layer: watching moves the plan off the closed form; forcing it is an error.
    const finalRunner = await neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean', neurons, watch: { layer: last, neurons: [1] } });
    expect(finalRunner.strategy).toBe('batched-from-layer');
    finalRunner.dispose();
    await expect(neuronSweep(ctx, { kind: 'neurons', layer: last, ablation: 'mean', watch: { layer: last, neurons: [1] } }, 'final-layer-closed-form')).rejects.toThrow(/watched activations/);
    // Heads of layers 0 and last, watched in the last layer; in parallel-residual blocks a layer's heads do not reach its own MLP.
    const resampleIds = ids.map((_, i) => ids[(i + T) % ids.length]);
    for (const ablation of ['mean', 'resample'] as const) {
      const make = (s?: Strategy) => headAblationSweep(ctx, { kind: 'heads', layers: [0, last], ablation, resampleIds, watch: { layer: last, neurons: [0, 5] } }, s);
      const runner = await make();
      // Parallel residual: the last layer's heads keep their closed form (nothing watched can change).
      expect(runner.strategy).toBe(spec.parallelResidual ? 'batched-from-layer+final-layer-closed-form' : 'batched-from-layer');
      const fast = await runner.compute(0, runner.units);
      runner.dispose();
      const naive = await outputs(ctx, make, 'naive');
      expect(maxAbsDiff(fast[0], naive[0]), ablation).toBeLessThan(1e-4);
      expect(maxAbsDiff(fast[1], naive[1]), ablation).toBeLessThan(1e-4);
      const perLayer = spec.nHeads * B * T * 2;
      expect(Math.max(...fast[1].subarray(0, perLayer).map(Math.abs)), ablation).toBeGreaterThan(1e-4);
      const lastLayerChange = Math.max(...fast[1].subarray(perLayer).map(Math.abs));
      if (spec.parallelResidual) expect(lastLayerChange, ablation).toBe(0);
      else expect(lastLayerChange, ablation).toBeGreaterThan(1e-4);
    }
    // Watched before the intervention: exactly unchanged, by either strategy.
    const before = (s?: Strategy) => headAblationSweep(ctx, { kind: 'heads', layers: [last], ablation: 'zero', watch: { layer: 0, neurons: [3] } }, s);
    for (const s of ['batched-from-layer', 'naive'] as const) expect(Math.max(...(await outputs(ctx, before, s))[1].map(Math.abs)), s).toBe(0);
  });

  it('BOS redirect with watched neurons (single position against cached keys/values)', async () => {
    const ctx = await context(name);
    const last = ctx.model.spec.nLayers - 1;
    const make = (s: Strategy) => headAblationSweep(ctx, { kind: 'heads', layers: [0, last], ablation: 'bos', watch: { layer: last, neurons: [3, 9] } }, s);
    const fast = await outputs(ctx, make, 'single-position-cached');
    const naive = await outputs(ctx, make, 'naive');
    expect(maxAbsDiff(fast[0], naive[0])).toBeLessThan(1e-4);
    expect(maxAbsDiff(fast[1], naive[1])).toBeLessThan(1e-4);
  });
});
