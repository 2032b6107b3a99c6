// `plateau sweep neurons|heads`, `plateau patch` and `plateau merge`: sweeps run through the
// scheduler (chunks on disk with a manifest, --resume, --shard i/n), and write the contract's
// safetensors outputs.
import { createHash } from 'node:crypto';
import { readFile, readdir, stat, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Transformer } from '../model/forward.js';
import { headAblationSweep, neuronSweep, type SweepContext, type SweepRunner } from '../interventions/sweeps.js';
import { patchRunner } from '../interventions/patch.js';
import { parseLayer, parseLayers, parseNeurons, parsePatchHook, parseTokenList, parseWatch, type Strategy } from '../interventions/plan.js';
import { assembleSweep, mergeShards, parseShard, runSweep, type SweepJob } from '../interventions/scheduler.js';
import { writeSafetensors } from '../io/safetensors.js';
import { checkOutputSize, openGpu, openModel, readInputs, type InputOptions } from './common.js';
import { readIdsFile, type TokenBatch } from './ids.js';
import { progressBar } from './progress.js';
import { populationMeans } from '../interventions/means.js';

export interface SweepCommonOptions extends InputOptions {
  model?: string;
  out: string;
  resume?: boolean;
  shard?: string;
  workDir?: string;
  strategy?: Strategy;
  chunk?: string;
  weights: 'auto' | 'f32';
}

const STRATEGIES: Strategy[] = ['final-layer-closed-form', 'batched-from-layer', 'single-position-cached', 'suffix-cached', 'naive'];

export function parseStrategy(value: string | undefined): Strategy | undefined {
  if (value === undefined) return undefined;
  if (!STRATEGIES.includes(value as Strategy)) throw new Error(`--strategy: expected one of ${STRATEGIES.join(', ')}, got "${value}"`);
  return value as Strategy;
}

/** What determines a model's numbers, cheaply: config.json's hash and the weight files' names and sizes. */
async function modelFingerprint(dir: string): Promise<string> {
  const hash = createHash('sha256');
  hash.update(await readFile(path.join(dir, 'config.json')));
  for (const f of (await readdir(dir)).filter((f) => f.endsWith('.safetensors') || f.endsWith('.index.json')).sort()) {
    hash.update(`${f}:${(await stat(path.join(dir, f))).size};`);
  }
  return hash.digest('hex').slice(0, 24);
}

function idsFingerprint(ids: Int32Array, B: number, T: number): string {
  return createHash('sha256').update(`${B}x${T}:`).update(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength)).digest('hex').slice(0, 24);
}

async function executeSweep(
  opts: SweepCommonOptions,
  kind: string,
  settings: Record<string, string>,
  build: (ctx: SweepContext, model: Transformer) => Promise<SweepRunner>,
): Promise<void> {
  const gpu = await openGpu(opts);
  try {
    const { model, dir } = await openModel(gpu, opts.model, opts.weights, opts);
    const batch = await readInputs(opts, dir, model);
    const ctx: SweepContext = { model, ids: batch.ids, B: batch.B, T: batch.T };
    const runner = await build(ctx, model);
    // The result is assembled in memory: refuse outputs that cannot be (e.g. --logprobs-at over every neuron).
    try {
      for (const o of runner.outputs) checkOutputSize(o.name, [...runner.leadingShape, ...o.unitShape], 'sweep fewer units (--neurons, --layers), rows or --logprobs-at positions');
    } catch (err) {
      runner.dispose();
      throw err;
    }
    const job: SweepJob = {
      kind, units: runner.units, leadingShape: runner.leadingShape, outputs: runner.outputs,
      fingerprint: {
        model: await modelFingerprint(dir), ids: idsFingerprint(batch.ids, batch.B, batch.T),
        strategy: runner.strategy, weights: model.weights.storage, ...settings,
      },
    };
    const workDir = opts.workDir ?? `${opts.out}.parts`;
    const chunkUnits = opts.chunk ? Number(opts.chunk) : runner.chunkUnits;
    if (!Number.isInteger(chunkUnits) || chunkUnits < 1) throw new Error(`--chunk: expected a positive integer, got "${opts.chunk}"`);
    const shard = opts.shard ? parseShard(opts.shard) : undefined;
    const started = performance.now();
    const result = await runSweep(job, { workDir, chunkUnits, resume: !!opts.resume, shard, progressLabel: kind }, (a, b, progress) => runner.compute(a, b, progress));
    runner.dispose();
    const seconds = (performance.now() - started) / 1000;
    const summary = { kind, strategy: runner.strategy, units: runner.units, computedChunks: result.computedChunks, reusedChunks: result.reusedChunks, seconds: Number(seconds.toFixed(3)), adapter: gpu.describe() };
    if (shard && shard.count > 1) {
      console.log(JSON.stringify({ ...summary, shard: opts.shard, workDir, next: `plateau merge --out ${opts.out} <work dirs of all ${shard.count} shards>` }));
      return;
    }
    const { tensors } = await assembleSweep([workDir]);
    await writeSafetensors(opts.out, tensors.map((t) => ({ name: t.name, dtype: 'F32' as const, shape: t.shape, data: t.data })), {
      'plateau.command': kind, 'plateau.model': dir, 'plateau.adapter': gpu.describe(), 'plateau.strategy': runner.strategy,
      ...Object.fromEntries(Object.entries(settings).map(([k, v]) => [`plateau.${k}`, v])),
    });
    await rm(workDir, { recursive: true, force: true });
    console.log(JSON.stringify({ ...summary, out: opts.out }));
    model.destroy();
  } finally {
    gpu.destroy();
  }
}

/** Where ablated values come from: --mean-ids (a population for the means) and --resample-ids (a run to resample from). */
interface AblationSourceOptions { ablation: string; meanIds?: string; resampleIds?: string }

/** Reads --mean-ids / --resample-ids after checking they fit --ablation; their fingerprints go into the sweep's settings. */
async function readAblationSources(opts: AblationSourceOptions): Promise<{ mean?: TokenBatch; resample?: TokenBatch; settings: Record<string, string> }> {
  if (opts.meanIds && opts.ablation !== 'mean') throw new Error(`--mean-ids applies to --ablation mean only (got --ablation ${opts.ablation})`);
  if (opts.resampleIds && opts.ablation !== 'resample') throw new Error(`--resample-ids applies to --ablation resample only (got --ablation ${opts.ablation})`);
  if (opts.ablation === 'resample' && !opts.resampleIds) throw new Error('--ablation resample needs --resample-ids FILE: token rows of the same shape as --ids to take the activations from');
  const mean = opts.meanIds ? await readIdsFile(opts.meanIds, '--mean-ids') : undefined;
  const resample = opts.resampleIds ? await readIdsFile(opts.resampleIds, '--resample-ids') : undefined;
  const settings: Record<string, string> = {};
  if (mean) settings.meanIds = idsFingerprint(mean.ids, mean.B, mean.T);
  if (resample) settings.resampleIds = idsFingerprint(resample.ids, resample.B, resample.T);
  return { mean, resample, settings };
}

/** The resample run must match the swept batch position by position. */
function resampleIdsFor(ctx: SweepContext, resample: TokenBatch | undefined): Int32Array | undefined {
  if (!resample) return undefined;
  if (resample.B !== ctx.B || resample.T !== ctx.T) throw new Error(`--resample-ids: ${resample.B}×${resample.T} token rows, but the swept batch is ${ctx.B}×${ctx.T}; they must have the same shape`);
  return resample.ids;
}

async function meansOver(model: Transformer, population: TokenBatch, hooks: string[]): Promise<Float32Array[]> {
  const bar = progressBar('mean activations (--mean-ids)', population.B, 'rows');
  const means = await populationMeans(model, population, hooks, (done) => bar.update(done, population.B));
  bar.stop();
  return hooks.map((h) => means.get(h)!);
}

/** --logprobs-at: comma-separated integer positions (range-checked against the sequences later). */
function parsePositionList(value: string | undefined): number[] | undefined {
  if (value === undefined) return undefined;
  const positions = value.split(',').map((v) => v.trim());
  if (!positions.every((v) => /^-?\d+$/.test(v))) throw new Error(`--logprobs-at: expected comma-separated integer positions (negative from the end), got "${value}"`);
  return positions.map(Number);
}

export interface NeuronSweepOptions extends SweepCommonOptions, AblationSourceOptions { layer: string; ablation: 'zero' | 'mean' | 'resample'; neurons?: string; logprobsAt?: string; watch?: string }

export async function sweepNeuronsCommand(opts: NeuronSweepOptions): Promise<void> {
  const strategy = parseStrategy(opts.strategy);
  const sources = await readAblationSources(opts);
  const logprobsAt = parsePositionList(opts.logprobsAt);
  const settings = { layer: opts.layer, ablation: opts.ablation, neurons: opts.neurons ?? 'all', logprobsAt: opts.logprobsAt ?? '', watch: opts.watch ?? '', ...sources.settings };
  await executeSweep(opts, 'sweep-neurons', settings, async (ctx, model) => {
    const layer = parseLayer(model.spec, opts.layer);
    const neurons = opts.neurons ? parseNeurons(model.spec, opts.neurons) : undefined;
    const means = sources.mean ? (await meansOver(model, sources.mean, [`blocks.${layer}.mlp.hook_post`]))[0] : undefined;
    const watch = opts.watch ? parseWatch(model.spec, opts.watch) : undefined;
    return neuronSweep(ctx, { kind: 'neurons', layer, ablation: opts.ablation, neurons, means, resampleIds: resampleIdsFor(ctx, sources.resample), logprobsAt, watch }, strategy);
  });
}

export interface HeadSweepOptions extends SweepCommonOptions, AblationSourceOptions { layers?: string; ablation: 'zero' | 'mean' | 'resample' | 'bos'; watch?: string; logprobsAt?: string }

export async function sweepHeadsCommand(opts: HeadSweepOptions): Promise<void> {
  const strategy = parseStrategy(opts.strategy);
  if (opts.logprobsAt && opts.ablation === 'bos') throw new Error('--logprobs-at applies to --ablation zero, mean or resample (a BOS redirect measures the loss at the redirected position)');
  const sources = await readAblationSources(opts);
  const logprobsAt = parsePositionList(opts.logprobsAt);
  const settings = { layers: opts.layers ?? 'all', ablation: opts.ablation, watch: opts.watch ?? '', logprobsAt: opts.logprobsAt ?? '', ...sources.settings };
  await executeSweep(opts, 'sweep-heads', settings, async (ctx, model) => {
    const layers = parseLayers(model.spec, opts.layers);
    const means = sources.mean ? await meansOver(model, sources.mean, layers.map((l) => `blocks.${l}.attn.hook_z`)) : undefined;
    return headAblationSweep(ctx, {
      kind: 'heads', layers, ablation: opts.ablation, means, resampleIds: resampleIdsFor(ctx, sources.resample), logprobsAt,
      watch: opts.watch ? parseWatch(model.spec, opts.watch) : undefined,
    }, strategy);
  });
}

export interface PatchOptions extends SweepCommonOptions {
  cleanRow: string;
  corruptedRow: string;
  hook: string;
  positions: 'each' | 'all';
  perHead?: boolean;
  tokens?: string;
}

export async function patchCommand(opts: PatchOptions): Promise<void> {
  const settings = {
    hook: opts.hook, cleanRow: opts.cleanRow, corruptedRow: opts.corruptedRow, positions: opts.positions,
    ...(opts.perHead ? { perHead: 'true' } : {}), ...(opts.tokens !== undefined ? { tokens: opts.tokens } : {}),
  };
  const strategy = parseStrategy(opts.strategy);
  await executeSweep(opts, 'patch', settings, (ctx, model) => {
    const hook = parsePatchHook(model.spec, opts.hook);
    if (opts.perHead && hook !== 'z') throw new Error(`--per-head: applies to --hook z (each head's slice of hook_z), not --hook ${hook}`);
    return patchRunner(ctx, {
      kind: 'patch', hook, cleanRow: Number(opts.cleanRow), corruptedRow: Number(opts.corruptedRow),
      positions: opts.positions, perHead: !!opts.perHead, tokens: opts.tokens !== undefined ? parseTokenList(model.spec, opts.tokens) : undefined,
    }, strategy);
  });
}

export async function mergeCommand(dirs: string[], opts: { out: string }): Promise<void> {
  if (!dirs.length) throw new Error('merge: give the work dirs of every shard');
  await mergeShards(dirs, opts.out);
  console.log(JSON.stringify({ out: opts.out, merged: dirs.length }));
}
