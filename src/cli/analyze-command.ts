// `plateau analyze`: the rare-token analysis on one model and corpus (or a series of training
// checkpoints), writing results.json, CSV tables, the raw per-position influence matrices and a
// self-contained report.html into --out.
import { mkdir, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Analysis, type AnalyzeOptions, type Phase } from '../analysis/pipeline.js';
import type { SplitMethod } from '../analysis/frequency.js';
import { writeSafetensors } from '../io/safetensors.js';
import { renderReport, loadVegaBundles } from '../report/html.js';
import { headsCsv, neuronsCsv } from '../report/csv.js';
import { defaultModelDir, openGpu, type MemoryOptions } from './common.js';
import { progressBar, type Progress } from './progress.js';

export interface AnalyzeCommandOptions extends MemoryOptions {
  model?: string;
  corpus?: string[];
  out: string;
  rows: string;
  seq: string;
  meanRows: string;
  seed: string;
  counts?: string;
  split: SplitMethod;
  topPercent: string;
  by: 'target' | 'input';
  ablation: 'mean' | 'zero';
  plateauSize?: string;
  randomGroups: string;
  bootstrap: string;
  edgeThreshold: string;
  headLayers?: string;
  headIntervention: 'bos' | 'zero' | 'mean';
  permutations: string;
  checkpoints?: string;
  vocabScope?: 'all' | 'observed';
}

function integer(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: expected an integer ≥ ${min}, got "${value}"`);
  return n;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function modelFiles(dir: string): Promise<{ name: string; bytes: number; sha256: string }[]> {
  const names = (await readdir(dir)).filter((f) => /\.(safetensors|json)$/.test(f)).sort();
  return Promise.all(names.map(async (name) => ({ name, bytes: (await stat(path.join(dir, name))).size, sha256: await sha256(path.join(dir, name)) })));
}

function terminalPhase(): Phase {
  let bar: Progress | null = null;
  return {
    start(label, total, unit) { bar = progressBar(label, total, unit); },
    update(done, total) { bar?.update(done, total); },
    end() { bar?.stop(); bar = null; },
  };
}

export async function analyzeCommand(opts: AnalyzeCommandOptions): Promise<void> {
  const modelDir = opts.model ?? defaultModelDir();
  const corpus = opts.corpus?.length ? opts.corpus : [path.join(defaultModelDir(), 'brown-docs.jsonl')];
  const headLayers = opts.headLayers && opts.headLayers !== 'default' ? opts.headLayers.split(',').map((s) => integer(s.trim(), '--head-layers', 0)) : undefined;
  const options: AnalyzeOptions = {
    modelDir, corpus,
    rows: integer(opts.rows, '--rows', 1), seq: integer(opts.seq, '--seq', 8), meanRows: integer(opts.meanRows, '--mean-rows', 1),
    seed: integer(opts.seed, '--seed', 0), counts: opts.counts, split: opts.split, topPercent: Number(opts.topPercent), by: opts.by,
    ablation: opts.ablation, plateauSize: opts.plateauSize && opts.plateauSize !== 'auto' ? integer(opts.plateauSize, '--plateau-size', 3) : undefined,
    randomGroups: integer(opts.randomGroups, '--random-groups', 100), bootstrap: integer(opts.bootstrap, '--bootstrap', 10),
    edgeThreshold: Number(opts.edgeThreshold), headLayers, headIntervention: opts.headIntervention,
    permutations: integer(opts.permutations, '--permutations', 100),
    vocabScope: opts.vocabScope,
    checkpoints: opts.checkpoints ? opts.checkpoints.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
  };
  const gpu = await openGpu(opts);
  try {
    const { results, influence } = await new Analysis(gpu, options, terminalPhase()).run();
    results.model.files = await modelFiles(modelDir);
    await mkdir(opts.out, { recursive: true });
    const out = (name: string) => path.join(opts.out, name);
    await writeFile(out('results.json'), JSON.stringify(results, null, 1));
    await writeFile(out('neurons.csv'), neuronsCsv(results));
    await writeFile(out('heads.csv'), headsCsv(results));
    const m = results.model.dMlp;
    await writeSafetensors(out('influence.safetensors'), [
      { name: 'rare.dnll', dtype: 'F32', shape: [m, influence.rare.positions.length], data: influence.rare.deltas },
      { name: 'rare.positions', dtype: 'I32', shape: [influence.rare.positions.length], data: influence.rare.positions },
      { name: 'common.dnll', dtype: 'F32', shape: [m, influence.common.positions.length], data: influence.common.deltas },
      { name: 'common.positions', dtype: 'I32', shape: [influence.common.positions.length], data: influence.common.positions },
    ], {
      'plateau.description': 'Δℓ of ablating each final-layer neuron (rows) at each kept position (columns); positions are b·(T−1) + t over the analysed rows',
      'plateau.rows': String(results.corpus.rowsAnalysed), 'plateau.seq': String(results.corpus.seq),
    });
    await writeFile(out('report.html'), await renderReport(results, await loadVegaBundles()));
    const rare = results.sets.rare.regimes;
    console.log(JSON.stringify({
      out: opts.out, seconds: results.timings.total, plateau: results.groups.plateau.length, r1: rare.r1, r2: rare.r2, alpha: Number(rare.alpha.toFixed(3)),
      plateauExists: rare.plateauExists, modularity: Number(results.graph.plateau[0].modularity.toFixed(3)), pModularity: results.graph.vsRandom.modularity.pGreater,
      noRouting: results.heads.noRouting,
    }));
  } finally {
    gpu.destroy();
  }
}
