// End-to-end forward pass against every fixture: logits, nll and every hook tensor in the reference.
import { afterAll, describe, expect, it } from 'vitest';
import { testGpu, maxAbsDiff } from './helpers/gpu.js';
import { FIXTURE_NAMES, fixtureDir, readReference, tolerance } from './fixtures.js';
import { loadModel } from '../src/model/load.js';
import { runSequences } from '../src/model/run.js';
import { allHookNames } from '../src/model/hooks.js';
import { Transformer } from '../src/model/forward.js';
import { Kernels } from '../src/gpu/kernels.js';

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

// hook_pattern / hook_attn_scores force the simple attention kernel, so the test above runs it in
// every layer; without them each attention kernel, forced, must reproduce every other hook.
describe.each(['tiled', 'simple'] as const)('forward pass with %s attention forced', (attention) => {
  it.each(FIXTURE_NAMES)('%s: logits, nll and the hooks other than pattern / scores', async (name) => {
    const gpu = await testGpu();
    const loaded = await loadModel(gpu, fixtureDir(name));
    const model = new Transformer(gpu, loaded.spec, loaded.weights, new Kernels(gpu, { attention }));
    const ref = await readReference(name);
    const hookNames = allHookNames(model.spec).filter((h) => !h.endsWith('hook_pattern') && !h.endsWith('hook_attn_scores'));
    const result = await runSequences(model, ref.ids, ref.B, ref.T, { hooks: hookNames, logits: true });
    const logitsRef = await ref.file.readF32('logits');
    let worst = 0;
    for (let i = 0; i < logitsRef.length; i++) {
      worst = Math.max(worst, Math.abs(result.logits![i] - logitsRef[i]) - 1e-4 * Math.abs(logitsRef[i]));
    }
    expect(worst).toBeLessThan(tolerance(name, 'logits'));
    expect(maxAbsDiff(result.nll, await ref.file.readF32('nll'))).toBeLessThan(tolerance(name, 'nll'));
    let compared = 0;
    for (const tensor of ref.file.tensors.keys()) {
      if (!tensor.startsWith('blocks.') && !tensor.startsWith('ln_final.')) continue;
      if (tensor.endsWith('hook_pattern') || tensor.endsWith('hook_attn_scores')) continue;
      const hook = result.hooks.get(tensor);
      expect(hook, tensor).toBeDefined();
      expect(maxAbsDiff(hook!.data, await ref.file.readF32(tensor)), tensor).toBeLessThan(tolerance(name, tensor));
      compared++;
    }
    expect(compared).toBeGreaterThan(0);
    await ref.file.close();
    loaded.destroy();
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
