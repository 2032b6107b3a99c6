// Where the closed-form neuron sweep's wall time goes (JSON to stdout), on a random model of a real
// shape: the whole compute of all final-layer neurons (median of runs), then the same with a GPU
// sync after every vocabulary chunk (per-chunk wall times), the tail after the last chunk (finalize,
// read-back, CPU checks), and the CPU cost of a finite check on a result-sized array (every vs loop).
//   node dist/bench/closed-form-breakdown.mjs [--shape gpt2-small] [--batch 4] [--seq 256] [--repeats 3]
import { openBenchModel, flag } from './lib/bench-model.js';
import { CleanRun } from '../src/interventions/clean-run.js';
import { FinalLayerNeuronSweep } from '../src/interventions/closed-form.js';
import { allFinite } from '../src/interventions/finite.js';

const bench = await openBenchModel();
const { gpu, model } = bench;
const { spec } = model;
const B = Number(flag('batch', '4'));
const T = Number(flag('seq', '256'));
const repeats = Number(flag('repeats', '3'));
const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7919 + 13) % spec.vocab);
const last = spec.nLayers - 1;
const post = `blocks.${last}.mlp.hook_post`;
const clean = await CleanRun.capture(model, ids, B, T, { layers: [last], meanHooks: [post], unembed: false });
const means = clean.means.get(post)!;
const fast = new FinalLayerNeuronSweep(model, clean);
await fast.run(0, spec.dMlp, means); // compiles everything

const plain: number[] = [];
for (let r = 0; r < repeats; r++) {
  await gpu.sync();
  const t0 = performance.now();
  await fast.run(0, spec.dMlp, means);
  plain.push(performance.now() - t0);
}
const chunked: { total: number; chunks: number[]; tail: number }[] = [];
for (let r = 0; r < repeats; r++) {
  await gpu.sync();
  const t0 = performance.now();
  const marks: number[] = [];
  await fast.run(0, spec.dMlp, means, undefined, () => marks.push(performance.now()));
  const t1 = performance.now();
  chunked.push({ total: t1 - t0, chunks: marks.map((m, i) => m - (i ? marks[i - 1] : t0)), tail: t1 - marks[marks.length - 1] });
}
const result = new Float32Array(spec.dMlp * B * (T - 1)).fill(1);
const c0 = performance.now();
const finite = result.every(Number.isFinite);
const everyMs = performance.now() - c0;
allFinite(result); // optimised
const c1 = performance.now();
const finiteLoop = allFinite(result);
const loopMs = performance.now() - c1;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(JSON.stringify({
  bench: 'closed-form-breakdown', adapter: gpu.describe(), shape: bench.shapeInfo, tokens: B * T, neuronsPerTile: fast.neuronsPerTile(),
  maxBinding: gpu.maxBinding, memoryBudget: gpu.memoryBudget,
  ms: { plainMedian: median(plain), plain, chunked, finiteCheckEvery: everyMs, finiteCheckLoop: loopMs, finite: finite && finiteLoop },
}));
fast.destroy();
clean.destroy();
bench.close();
