// Sweeps against the fixtures' reference tensors, every strategy (fast paths and the naive one).
import { describe, expect, it, onTestFinished } from 'vitest';
import { testGpu, maxAbsDiff } from './helpers/gpu.js';
import { fixtureDir, readReference, tolerance, type FixtureName } from './fixtures.js';
import { loadModel } from '../src/model/load.js';
import type { Transformer } from '../src/model/forward.js';
import { headAblationSweep, neuronSweep, type SweepRunner } from '../src/interventions/sweeps.js';
import { parseWatch, type Strategy } from '../src/interventions/plan.js';
import { patchSweep } from '../src/interventions/patch.js';
import { populationMeans } from '../src/interventions/means.js';

const models = new Map<FixtureName, Promise<Transformer>>();
function model(name: FixtureName): Promise<Transformer> {
  if (!models.has(name)) models.set(name, testGpu().then((gpu) => loadModel(gpu, fixtureDir(name))));
  return models.get(name)!;
}

async function runAll(runner: SweepRunner): Promise<Float32Array[]> {
  const out = await runner.compute(0, runner.units);
  runner.dispose();
  return out;
}

describe.each(['gpt2-tiny', 'pythia-tiny'] as const)('sweeps: %s', (name) => {
  for (const ablation of ['zero', 'mean'] as const) {
    for (const layer of [0, 2]) {
      const strategies: Strategy[] = layer === 2 ? ['final-layer-closed-form', 'batched-from-layer'] : ['batched-from-layer'];
      for (const strategy of strategies) {
        it(`neurons ${ablation} L${layer} (${strategy})`, async () => {
          const m = await model(name);
          const ref = await readReference(name);
          onTestFinished(() => ref.file.close());
          const [dnll] = await runAll(await neuronSweep({ model: m, ids: ref.ids, B: ref.B, T: ref.T }, { kind: 'neurons', layer, ablation }, strategy));
          const key = `sweep.neurons.${ablation}.L${layer}.dnll`;
          expect(maxAbsDiff(dnll, await ref.file.readF32(key))).toBeLessThan(tolerance(name, key));
        });
      }
    }
    for (const strategy of [undefined, 'batched-from-layer'] as const) {
      it(`heads ${ablation} (${strategy ?? 'planned: the final layer by closed form where exact'})`, async () => {
        const m = await model(name);
        const ref = await readReference(name);
        onTestFinished(() => ref.file.close());
        const runner = await headAblationSweep({ model: m, ids: ref.ids, B: ref.B, T: ref.T }, { kind: 'heads', layers: [0, 1, 2], ablation }, strategy);
        expect(runner.strategy).toBe(strategy ?? (m.spec.parallelResidual ? 'batched-from-layer+final-layer-closed-form' : 'batched-from-layer'));
        const [dnll] = await runAll(runner);
        const key = `sweep.heads.${ablation}.dnll`;
        expect(maxAbsDiff(dnll, await ref.file.readF32(key))).toBeLessThan(tolerance(name, key));
      });
    }
  }

  for (const strategy of ['single-position-cached', 'batched-from-layer'] as const) {
    it(`heads bos with watched neurons (${strategy})`, async () => {
      const m = await model(name);
      const ref = await readReference(name);
      onTestFinished(() => ref.file.close());
      const watch = parseWatch(m.spec, ref.file.metadata['sweep.heads.bos.watch']);
      const [dnll, dact] = await runAll(await headAblationSweep({ model: m, ids: ref.ids, B: ref.B, T: ref.T }, { kind: 'heads', layers: [0, 1, 2], ablation: 'bos', watch }, strategy));
      expect(maxAbsDiff(dnll, await ref.file.readF32('sweep.heads.bos.dnll'))).toBeLessThan(tolerance(name, 'sweep.heads.bos.dnll'));
      expect(maxAbsDiff(dact, await ref.file.readF32('sweep.heads.bos.dact'))).toBeLessThan(tolerance(name, 'sweep.heads.bos.dact'));
    });
  }

  it('population means (several batches, averaged on the GPU) = float64 means of the read-back hooks', async () => {
    const gpu = await testGpu();
    const m = await loadModel(gpu, fixtureDir(name)); // its own instance: maxRows is narrowed below
    const B = 5, T = 9;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 131 + 7) % m.spec.vocab);
    const hooks = ['blocks.1.mlp.hook_post', 'blocks.2.attn.hook_z'];
    m.maxRows = () => 2 * T; // two rows per batch: three batches, the last one short
    const means = await populationMeans(m, { ids, B, T }, hooks);
    const result = await m.forward({ ids, batch: B, seq: T, hooks, unembed: false });
    for (const hook of hooks) {
      const { data } = result.hooks.get(hook)!;
      const width = data.length / (B * T);
      const expected = new Float64Array(width);
      for (let r = 0; r < B * T; r++) for (let j = 0; j < width; j++) expected[j] += data[r * width + j] / (B * T);
      expect(maxAbsDiff(means.get(hook)!, Float32Array.from(expected)), hook).toBeLessThan(1e-6);
    }
    m.destroy();
  });

  it('patch resid_pre', async () => {
    const m = await model(name);
    const ref = await readReference(name);
    onTestFinished(() => ref.file.close());
    const logprobs = await patchSweep({ model: m, ids: ref.ids, B: ref.B, T: ref.T }, { kind: 'patch', hook: 'resid_pre', cleanRow: 0, corruptedRow: 1 });
    expect(maxAbsDiff(logprobs, await ref.file.readF32('patch.resid_pre.logprobs'))).toBeLessThan(tolerance(name, 'patch.resid_pre.logprobs'));
  });
});

describe('head routing (analysis) measures the plateau neurons for every intervention', () => {
  it.each(['zero', 'mean', 'bos'] as const)('%s: effects = Σ|Δa| of the plateau neurons from a naive watched sweep, averaged over rare / other contexts', async (intervention) => {
    const { headRouting } = await import('../src/analysis/routing.js');
    const { POSITION_RARE, POSITION_COMMON } = await import('../src/analysis/frequency.js');
    const m = await model('gpt2-tiny');
    const ref = await readReference('gpt2-tiny');
    onTestFinished(() => ref.file.close());
    const { ids, B, T } = ref;
    const last = m.spec.nLayers - 1;
    const plateau = [3, 17, 40];
    // Every third position is a rare context, the rest common.
    const labels = Array.from({ length: B }, () => Uint8Array.from({ length: T }, (_, t) => (t % 3 === 0 ? POSITION_RARE : POSITION_COMMON)));
    const result = await headRouting(m, ids, B, T, labels, plateau, { layers: [last], intervention, permutations: 100, seed: 1 });
    const [, dact] = await runAll(await headAblationSweep({ model: m, ids, B, T }, { kind: 'heads', layers: [last], ablation: intervention, watch: { layer: last, neurons: plateau } }, 'naive'));
    for (let h = 0; h < m.spec.nHeads; h++) {
      const sums = { rare: [] as number[], other: [] as number[] };
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T - 1; t++) {
          let s = 0;
          for (let w = 0; w < plateau.length; w++) s += Math.abs(dact[((h * B + b) * T + t) * plateau.length + w]);
          (t % 3 === 0 ? sums.rare : sums.other).push(s);
        }
      }
      const avg = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
      expect(result.routing[h].effectRare).toBeCloseTo(avg(sums.rare), 5);
      expect(result.routing[h].effectOther).toBeCloseTo(avg(sums.other), 5);
      expect(result.routing[h].effectRare + result.routing[h].effectOther).toBeGreaterThan(0);
    }
  });
});

describe('memory budget', () => {
  it('a tight budget splits the closed form into small neuron tiles and the batched path into small batches: the same numbers', async () => {
    const m = await model('gpt2-tiny');
    const ref = await readReference('gpt2-tiny');
    onTestFinished(() => ref.file.close());
    const ctx = { model: m, ids: ref.ids, B: ref.B, T: ref.T };
    const roomy = await neuronSweep(ctx, { kind: 'neurons', layer: 2, ablation: 'mean' });
    const roomyTile = roomy.chunkUnits;
    const [a] = await runAll(roomy);
    const budget = m.gpu.memoryBudget;
    m.gpu.memoryBudget = 32 * ref.B * ref.T * 9; // 8 neurons per closed-form tile
    try {
      const tight = await neuronSweep(ctx, { kind: 'neurons', layer: 2, ablation: 'mean' });
      expect(tight.chunkUnits).toBe(8);
      expect(roomyTile).toBeGreaterThan(8);
      const [b] = await runAll(tight);
      expect(maxAbsDiff(a, b)).toBeLessThan(1e-5); // smaller vocabulary chunks too: another summation order
      expect(m.maxRows()).toBeLessThan(ref.B * ref.T); // one sequence at a time (above the budget: one variant always runs)
      const [c] = await runAll(await neuronSweep(ctx, { kind: 'neurons', layer: 1, ablation: 'mean', neurons: [0, 1, 2] }));
      m.gpu.memoryBudget = budget;
      const [d] = await runAll(await neuronSweep(ctx, { kind: 'neurons', layer: 1, ablation: 'mean', neurons: [0, 1, 2] }));
      expect(maxAbsDiff(c, d)).toBeLessThan(1e-5);
    } finally {
      m.gpu.memoryBudget = budget;
    }
    expect(maxAbsDiff(a, await ref.file.readF32('sweep.neurons.mean.L2.dnll'))).toBeLessThan(tolerance('gpt2-tiny', 'sweep.neurons.mean.L2.dnll'));
  });
});
