// Sweeps against the fixtures' reference tensors, every strategy (fast paths and the naive one).
import { describe, expect, it } from 'vitest';
import { testGpu, maxAbsDiff } from './helpers/gpu.js';
import { FIXTURE_NAMES, fixtureDir, readReference, tolerance, type FixtureName } from './fixtures.js';
import { loadModel } from '../src/model/load.js';
import type { Transformer } from '../src/model/forward.js';
import { headAblationSweep, neuronSweep, type SweepRunner } from '../src/interventions/sweeps.js';
import { parseWatch, type Strategy } from '../src/interventions/plan.js';
import { patchSweep } from '../src/interventions/patch.js';

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
          const [dnll] = await runAll(await neuronSweep({ model: m, ids: ref.ids, B: ref.B, T: ref.T }, { kind: 'neurons', layer, ablation }, strategy));
          const key = `sweep.neurons.${ablation}.L${layer}.dnll`;
          expect(maxAbsDiff(dnll, await ref.file.readF32(key))).toBeLessThan(tolerance(name, key));
        });
      }
    }
    it(`heads ${ablation} (batched-from-layer)`, async () => {
      const m = await model(name);
      const ref = await readReference(name);
      const [dnll] = await runAll(await headAblationSweep({ model: m, ids: ref.ids, B: ref.B, T: ref.T }, { kind: 'heads', layers: [0, 1, 2], ablation }));
      const key = `sweep.heads.${ablation}.dnll`;
      expect(maxAbsDiff(dnll, await ref.file.readF32(key))).toBeLessThan(tolerance(name, key));
    });
  }

  for (const strategy of ['single-position-cached', 'batched-from-layer'] as const) {
    it(`heads bos with watched neurons (${strategy})`, async () => {
      const m = await model(name);
      const ref = await readReference(name);
      const watch = parseWatch(m.spec, ref.file.metadata['sweep.heads.bos.watch']);
      const [dnll, dact] = await runAll(await headAblationSweep({ model: m, ids: ref.ids, B: ref.B, T: ref.T }, { kind: 'heads', layers: [0, 1, 2], ablation: 'bos', watch }, strategy));
      expect(maxAbsDiff(dnll, await ref.file.readF32('sweep.heads.bos.dnll'))).toBeLessThan(tolerance(name, 'sweep.heads.bos.dnll'));
      expect(maxAbsDiff(dact, await ref.file.readF32('sweep.heads.bos.dact'))).toBeLessThan(tolerance(name, 'sweep.heads.bos.dact'));
    });
  }

  it('patch resid_pre', async () => {
    const m = await model(name);
    const ref = await readReference(name);
    const logprobs = await patchSweep({ model: m, ids: ref.ids, B: ref.B, T: ref.T }, { kind: 'patch', hook: 'resid_pre', cleanRow: 0, corruptedRow: 1 });
    expect(maxAbsDiff(logprobs, await ref.file.readF32('patch.resid_pre.logprobs'))).toBeLessThan(tolerance(name, 'patch.resid_pre.logprobs'));
  });
});
