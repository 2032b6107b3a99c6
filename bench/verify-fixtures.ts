// Checks the engine against a golden fixture folder on whatever adapter this machine has (e.g. a
// real GPU, where the test suite does not run): prints the max abs error of every reference
// tensor (forward, hooks, every sweep, patching) as JSON, with the README's tolerance beside it.
//   node dist/bench/verify-fixtures.mjs DIR [DIR ...]
import path from 'node:path';
import { Gpu } from '../src/gpu/device.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { loadModel } from '../src/model/load.js';
import { allHookNames } from '../src/model/hooks.js';
import { runSequences } from '../src/model/run.js';
import { headAblationSweep, neuronSweep, type SweepContext, type SweepRunner } from '../src/interventions/sweeps.js';
import { parseWatch } from '../src/interventions/plan.js';
import { patchSweep } from '../src/interventions/patch.js';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function all(runner: SweepRunner): Promise<Float32Array[]> {
  const out = await runner.compute(0, runner.units);
  runner.dispose();
  return out;
}

const gpu = await Gpu.create();
for (const dir of process.argv.slice(2)) {
  const model = await loadModel(gpu, dir);
  const ref = await SafetensorsFile.openPath(path.join(dir, 'reference.safetensors'));
  const [B, T] = ref.info('input_ids').shape;
  const ids = await ref.readInt32('input_ids');
  const errors: Record<string, number> = {};
  const check = async (name: string, data: Float32Array) => { errors[name] = maxAbsDiff(data, await ref.readF32(name)); };
  const result = await runSequences(model, ids, B, T, { hooks: allHookNames(model.spec), logits: true });
  await check('logits', result.logits!);
  await check('nll', result.nll);
  let hookErr = 0;
  for (const name of ref.tensors.keys()) {
    const hook = result.hooks.get(name);
    if (hook) hookErr = Math.max(hookErr, maxAbsDiff(hook.data, await ref.readF32(name)));
  }
  errors['hooks (max over all)'] = hookErr;
  const ctx: SweepContext = { model, ids, B, T };
  const last = model.spec.nLayers - 1;
  for (const ablation of ['zero', 'mean'] as const) {
    for (const layer of [0, last]) {
      await check(`sweep.neurons.${ablation}.L${layer}.dnll`, (await all(await neuronSweep(ctx, { kind: 'neurons', layer, ablation })))[0]);
    }
    await check(`sweep.heads.${ablation}.dnll`, (await all(await headAblationSweep(ctx, { kind: 'heads', layers: [...Array(model.spec.nLayers).keys()], ablation })))[0]);
  }
  const watch = parseWatch(model.spec, ref.metadata['sweep.heads.bos.watch']);
  const [dnll, dact] = await all(await headAblationSweep(ctx, { kind: 'heads', layers: [...Array(model.spec.nLayers).keys()], ablation: 'bos', watch }));
  await check('sweep.heads.bos.dnll', dnll);
  await check('sweep.heads.bos.dact', dact);
  await check('patch.resid_pre.logprobs', await patchSweep(ctx, { kind: 'patch', hook: 'resid_pre', cleanRow: 0, corruptedRow: 1 }));
  console.log(JSON.stringify({ bench: 'verify-fixtures', fixture: path.basename(dir), adapter: gpu.describe(), matmul: model.kernels.forcedMatmul ?? (model.kernels.matmulChooser ? 'autotuned' : model.kernels.matmulVariant), weights: model.weights.storage, maxAbsError: errors }));
  await ref.close();
  model.destroy();
}
gpu.destroy();
