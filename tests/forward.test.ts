// End-to-end forward pass against every fixture: logits, nll and every hook tensor in the reference.
import { afterAll, describe, expect, it } from 'vitest';
import { testGpu, maxAbsDiff } from './helpers/gpu.js';
import { FIXTURE_NAMES, fixtureDir, readReference, tolerance } from './fixtures.js';
import { loadModel } from '../src/model/load.js';
import { runSequences } from '../src/model/run.js';
import { allHookNames } from '../src/model/hooks.js';

describe.each(FIXTURE_NAMES)('forward pass: %s', (name) => {
  it('matches logits, nll and every reference hook', async () => {
    const gpu = await testGpu();
    const model = await loadModel(gpu, fixtureDir(name));
    const ref = await readReference(name);
    const hookNames = allHookNames(model.spec);
    const result = await runSequences(model, ref.ids, ref.B, ref.T, { hooks: hookNames, logits: true });
    const logitsRef = await ref.file.readF32('logits');
    // logits: atol + 1e-4·|ref|
    let worst = 0;
    for (let i = 0; i < logitsRef.length; i++) {
      worst = Math.max(worst, Math.abs(result.logits![i] - logitsRef[i]) - 1e-4 * Math.abs(logitsRef[i]));
    }
    expect(worst).toBeLessThan(tolerance(name, 'logits'));
    expect(maxAbsDiff(result.nll, await ref.file.readF32('nll'))).toBeLessThan(tolerance(name, 'nll'));
    let compared = 0;
    for (const tensor of ref.file.tensors.keys()) {
      if (!tensor.startsWith('blocks.') && !tensor.startsWith('ln_final.')) continue;
      const hook = result.hooks.get(tensor);
      expect(hook, tensor).toBeDefined();
      expect(hook!.shape, tensor).toEqual(ref.file.info(tensor).shape);
      const err = maxAbsDiff(hook!.data, await ref.file.readF32(tensor));
      expect(err, tensor).toBeLessThan(tolerance(name, tensor));
      compared++;
    }
    expect(compared).toBe(3 * 6 + 1);
    await ref.file.close();
    model.destroy();
  });
});

describe('vocabulary chunking', () => {
  it('logits and nll are unchanged when the vocabulary is processed in many chunks', async () => {
    const gpu = await testGpu();
    const model = await loadModel(gpu, fixtureDir('gpt2-tiny'));
    model.vocabChunkCap = 97;
    const ref = await readReference('gpt2-tiny');
    const result = await runSequences(model, ref.ids, ref.B, ref.T, { logits: true });
    expect(maxAbsDiff(result.nll, await ref.file.readF32('nll'))).toBeLessThan(tolerance('gpt2-tiny', 'nll'));
    expect(maxAbsDiff(result.logits!, await ref.file.readF32('logits'))).toBeLessThan(2e-4);
    model.destroy();
  });
});
