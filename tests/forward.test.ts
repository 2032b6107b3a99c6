// End-to-end forward pass against every fixture: logits, nll and every hook tensor in the reference.
import { describe, expect, it, onTestFinished } from 'vitest';
import { testGpu, maxAbsDiff } from './helpers/gpu.js';
import { FIXTURE_NAMES, fixtureDir, readReference, tolerance, type FixtureName } from './fixtures.js';
import { loadModel } from '../src/model/load.js';
import { runSequences } from '../src/model/run.js';
import { allHookNames } from '../src/model/hooks.js';
import { Transformer } from '../src/model/forward.js';
import { Kernels } from '../src/gpu/kernels.js';

const isPatternHook = (h: string) => h.endsWith('hook_pattern') || h.endsWith('hook_attn_scores');

/** Runs the fixture's ids through `model` and compares logits, nll and every reference hook kept by `keep`; returns how many hooks were compared. */
async function compareWithReference(model: Transformer, name: FixtureName, keep: (hook: string) => boolean): Promise<number> {
  const ref = await readReference(name);
  onTestFinished(() => ref.file.close());
  const result = await runSequences(model, ref.ids, ref.B, ref.T, { hooks: allHookNames(model.spec).filter(keep), logits: true });
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
    if ((!tensor.startsWith('blocks.') && !tensor.startsWith('ln_final.')) || !keep(tensor)) continue;
    const hook = result.hooks.get(tensor);
    expect(hook, tensor).toBeDefined();
    expect(hook!.shape, tensor).toEqual(ref.file.info(tensor).shape);
    expect(maxAbsDiff(hook!.data, await ref.file.readF32(tensor)), tensor).toBeLessThan(tolerance(name, tensor));
    compared++;
  }
  await ref.file.close();
  return compared;
}

describe.each(FIXTURE_NAMES)('forward pass: %s', (name) => {
  it('matches logits, nll and every reference hook', async () => {
    const model = await loadModel(await testGpu(), fixtureDir(name));
    expect(await compareWithReference(model, name, () => true)).toBe(3 * 6 + 1);
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
    expect(await compareWithReference(model, name, (h) => !isPatternHook(h))).toBeGreaterThan(0);
    loaded.destroy();
  });
});

describe('vocabulary chunking', () => {
  it('logits and nll are unchanged when the vocabulary is processed in many chunks', async () => {
    const gpu = await testGpu();
    const model = await loadModel(gpu, fixtureDir('gpt2-tiny'));
    model.vocabChunkCap = 97;
    const ref = await readReference('gpt2-tiny');
    onTestFinished(() => ref.file.close());
    const result = await runSequences(model, ref.ids, ref.B, ref.T, { logits: true });
    expect(maxAbsDiff(result.nll, await ref.file.readF32('nll'))).toBeLessThan(tolerance('gpt2-tiny', 'nll'));
    expect(maxAbsDiff(result.logits!, await ref.file.readF32('logits'))).toBeLessThan(2e-4);
    // nll: false unembeds only the chosen rows (over the same vocabulary chunks): the same logits, no loss.
    const rows = [ref.T - 1, 2, ref.B * ref.T - 1];
    const full = await model.forward({ ids: ref.ids, batch: ref.B, seq: ref.T, logits: rows });
    const picked = await model.forward({ ids: ref.ids, batch: ref.B, seq: ref.T, logits: rows, nll: false });
    expect(picked.nll.length).toBe(0);
    expect(maxAbsDiff(picked.logits!, full.logits!)).toBeLessThan(1e-5);
    model.destroy();
  });
});
