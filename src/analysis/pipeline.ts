// `plateau analyze`: every analysis of the rare-token papers on one model and corpus
// (../shared/docs/rare-token-analysis.md), producing an AnalysisResults object. Each phase is a
// module of its own; this file only orders them and records options, timings and provenance.
import type { Gpu } from '../gpu/device.js';
import type { Transformer } from '../model/forward.js';
import { loadModel } from '../model/load.js';
import { runSequences } from '../model/run.js';
import { loadTokenizer, type TextTokenizer } from '../io/tokenizer.js';
import { buildRows, flattenRows, readCorpus, shuffleRows } from './corpus.js';
import { classifyPositions, countUnigrams, defaultExcludedTokenIds, POSITION_RARE, rareCommonSplit, readCountsFile, smoothedProbabilities, type SplitMethod } from './frequency.js';
import { activationsAt, meanActivations, postHook } from './activations.js';
import { neuronInfluence, type InfluenceResult, type PositionSet } from './influence.js';
import { bootstrapRegimes, fitRegimes, type RegimeBootstrap } from './regimes.js';
import { coactivation, effectiveDimensionality } from './geometry.js';
import { clusterActivations } from './graph.js';
import { compareToRandom, otherNeurons, randomGroups, selectColumns, selectRows } from './groups.js';
import { bootstrapSpectrum, weightSpectrum } from './spectra.js';
import { defaultHeadLayers, headRouting } from './routing.js';
import { populationMeans } from '../interventions/means.js';
import { finalLayerNeuronWeights } from './neuron-weights.js';
import type { AnalysisResults, GroupGeometry, GroupGraph, GroupSpectrum, RegimeSummary } from './results.js';

export interface AnalyzeOptions {
  modelDir: string;
  corpus: string[];
  rows: number;
  seq: number;
  meanRows: number;
  seed: number;
  counts?: string;
  split: SplitMethod;
  topPercent: number;
  by: 'target' | 'input';
  ablation: 'mean' | 'zero';
  plateauSize?: number;
  randomGroups: number;
  bootstrap: number;
  edgeThreshold: number;
  headLayers?: number[];
  headIntervention: 'bos' | 'zero' | 'mean';
  permutations: number;
  checkpoints?: string[];
  /**
   * Which tokens the rare/common split ranks: 'all' (the spec, right for training-corpus counts
   * such as the Pile's) or 'observed' (tokens with a non-zero count: with counts from a small
   * corpus most of the vocabulary is unseen, the median falls on the add-one floor and "rare"
   * would be tokens that never occur). Default: observed when counting over --corpus, else all.
   */
  vocabScope?: 'all' | 'observed';
}

export interface Phase {
  start(label: string, total: number, unit: string): void;
  update(done: number, total?: number): void;
  end(): void;
}

const SILENT: Phase = { start() {}, update() {}, end() {} };

function groupGeometry(A: Float32Array, contexts: number, group: number[], m: number): GroupGeometry {
  const X = selectColumns(A, contexts, m, group);
  const eff = effectiveDimensionality(X, contexts, group.length);
  const co = coactivation(X, contexts, group.length);
  return {
    size: group.length, effectiveDim: eff.k, effectiveDimRatio: eff.kOverN, participationRatio: eff.participationRatio,
    pearson: { mean: co.pearson.mean, median: co.pearson.median, sharePositive: co.pearson.sharePositive, shareAbsAbove05: co.pearson.shareAbsAbove },
    cosine: { mean: co.cosine.mean, median: co.cosine.median },
  };
}

function groupGraph(A: Float32Array, contexts: number, group: number[], m: number, threshold: number | null, seed: number): GroupGraph {
  const g = clusterActivations(selectColumns(A, contexts, m, group), contexts, group.length, { threshold, seed });
  return { threshold, modularity: g.modularity, signedModularity: g.signedModularity, communities: g.count, sizes: g.sizes, modular: g.modular, edges: g.edges };
}

function groupSpectrum(W: Float32Array, d: number, group: number[], which: 'W_in' | 'W_out', bootstrap: number, seed: number): GroupSpectrum {
  const rows = selectRows(W, d, group);
  const s = weightSpectrum(rows, group.length, d);
  const ci = bootstrapSpectrum(rows, group.length, d, { replicates: bootstrap, seed });
  const interval = (i: { low: number; high: number }) => ({ low: i.low, high: i.high, level: ci.level });
  return {
    which, hillAlpha: s.hill.alpha, hillTail: s.hill.tailSize, powerLawAlpha: s.powerLaw.alpha, lambdaMin: s.powerLaw.lambdaMin,
    stableRank: s.stableRank, spectralEntropy: s.spectralEntropy, eigenvalues: Array.from(s.eigenvalues),
    ci: { hillAlpha: interval(ci.hillAlpha), powerLawAlpha: interval(ci.powerLawAlpha), stableRank: interval(ci.stableRank), spectralEntropy: interval(ci.spectralEntropy) },
  };
}

/** Boost neurons (D > 0) of a set, ranked by influence I, descending. */
export function rankBoost(set: PositionSet): number[] {
  const boost: number[] = [];
  for (let i = 0; i < set.D.length; i++) if (set.D[i] > 0 && set.I[i] > 0) boost.push(i);
  return boost.sort((a, b) => set.I[b] - set.I[a] || a - b);
}

function regimeSummary(set: PositionSet, neurons: number, options: AnalyzeOptions): { summary: RegimeSummary; boot: RegimeBootstrap; ranked: number[] } {
  const ranked = rankBoost(set);
  if (ranked.length < 8) throw new Error(`only ${ranked.length} boost neurons on this token set: too few to fit regimes (use more rows)`);
  const boot = bootstrapRegimes({ deltas: set.deltas, nNeurons: neurons, nPositions: set.positions.length, neurons: ranked }, { B: options.bootstrap, seed: options.seed });
  const f = boot.fit;
  // Without a plateau the three-piece fit is degenerate (its plateau line absorbs part of the power
  // law): the exponent then comes from the two-regime fit (power law from rank 1, then decay).
  const alpha = !boot.plateauExists && f.twoRegime ? f.twoRegime.alpha : f.alpha;
  const iv = (k: keyof RegimeBootstrap['ci']) => ({ low: boot.ci[k][0], high: boot.ci[k][1], level: boot.level });
  const fixedSizes = [10, 50, 100, ...(options.plateauSize ? [options.plateauSize] : [])]
    .filter((k) => k < ranked.length - 3)
    .map((size) => ({ size, alpha: fitRegimes(ranked.map((i) => set.I[i]), { plateauSize: size }).alpha }));
  return {
    ranked,
    boot,
    summary: {
      n: f.n, r1: f.r1, r2: f.r2, alpha,
      plateau: f.plateau, powerLaw: f.power, decay: f.decay ?? { a: NaN, delta: NaN },
      shares: { plateau: f.shares.plateau, powerLaw: f.shares.power, decay: f.shares.decay },
      plateauExcess: f.plateauExcess, plateauExists: boot.plateauExists, loss: f.loss,
      ci: { r1: iv('r1'), r2: iv('r2'), alpha: iv('alpha'), plateauExcess: iv('plateauExcess'), sharePlateau: iv('plateauShare'), sharePowerLaw: iv('powerShare'), shareDecay: iv('decayShare') },
      curve: ranked.map((i) => set.I[i]), neurons: ranked, fixedSizes,
    },
  };
}

interface CoreResult {
  influence: InfluenceResult;
  rare: ReturnType<typeof regimeSummary>;
  common: ReturnType<typeof regimeSummary>;
  plateau: number[];
  plateauSource: string;
  means: Float32Array;
}

/** Plateau neurons: boost neurons ranked above r1 on rare tokens (or a manual size); at least 3. */
function choosePlateau(rare: ReturnType<typeof regimeSummary>, manual?: number): { plateau: number[]; source: string } {
  if (manual) return { plateau: rare.ranked.slice(0, manual), source: `manual size ${manual}` };
  const fitted = rare.summary.r1 - 1;
  if (fitted >= 3) return { plateau: rare.ranked.slice(0, fitted), source: `fit: ranks 1..${fitted} (r1 = ${rare.summary.r1})` };
  const k = Math.min(10, rare.ranked.length);
  return { plateau: rare.ranked.slice(0, k), source: `fixed size ${k}: the fit's plateau has ${Math.max(0, fitted)} neurons, too few for group statistics` };
}

/**
 * Already-loaded inputs (the browser page, which has no file system): each one given replaces
 * reading the corresponding files named by the options (modelDir, corpus).
 */
export interface AnalysisInputs {
  /** Used as is and left alive (the caller destroys it). */
  model?: Transformer;
  tokenizer?: TextTokenizer;
  /** Corpus documents; `options.corpus` then only names them in the results. */
  documents?: string[];
  /** Final-layer per-neuron weights, each [d_mlp × d] (as finalLayerNeuronWeights returns). */
  neuronWeights?: { Win: Float32Array; Wout: Float32Array };
}

export class Analysis {
  readonly timings: Record<string, number> = {};
  constructor(private gpu: Gpu, private options: AnalyzeOptions, private phase: Phase = SILENT, private inputs: AnalysisInputs = {}) {}

  private async timed<T>(name: string, body: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await body();
    } finally {
      this.timings[name] = Number(((performance.now() - t0) / 1000).toFixed(3));
    }
  }

  /** Influence, regimes and the plateau group for one model (also used per training checkpoint). */
  private async core(model: Transformer, meanRowsList: Int32Array[], ids: Int32Array, R: number, T: number, labels: Uint8Array[], tag: string): Promise<CoreResult> {
    const o = this.options;
    const means = await this.timed(`${tag}means`, async () => {
      this.phase.start('mean activations', meanRowsList.length, 'rows');
      const m = await meanActivations(model, meanRowsList, (d) => this.phase.update(d));
      this.phase.end();
      return m;
    });
    const influence = await this.timed(`${tag}influence`, async () => {
      this.phase.start('neuron influence', model.spec.dMlp, 'neurons');
      const r = await neuronInfluence(model, ids, R, T, labels, { ablation: o.ablation, means: o.ablation === 'mean' ? means : undefined, onProgress: (d) => this.phase.update(d) });
      this.phase.end();
      return r;
    });
    const [rare, common] = await this.timed(`${tag}regimes`, () => [regimeSummary(influence.rare, influence.neurons, o), regimeSummary(influence.common, influence.neurons, o)]);
    const { plateau, source } = choosePlateau(rare, o.plateauSize);
    return { influence, rare, common, plateau, plateauSource: source, means };
  }

  async run(): Promise<{ results: AnalysisResults; influence: InfluenceResult }> {
    const o = this.options;
    const t0 = performance.now();
    const model = this.inputs.model ?? await this.timed('load', () => loadModel(this.gpu, o.modelDir));
    const { spec } = model;
    const tokenizer = this.inputs.tokenizer ?? await loadTokenizer(o.modelDir);
    const { bos, eos } = specialIds(tokenizer, spec.arch);
    const seq = Math.min(o.seq, spec.nCtx);
    const corpus = this.inputs.documents ? { files: o.corpus, documents: this.inputs.documents.filter((d) => d.trim().length > 0) } : await readCorpus(o.corpus);
    const built = await this.timed('tokenize', () => buildRows(corpus.documents, tokenizer, seq, bos, eos));
    const shuffled = shuffleRows(built.rows, o.seed);
    const analysisRows = shuffled.slice(0, Math.min(o.rows, shuffled.length));
    const meanRowsList = shuffled.slice(0, Math.min(Math.max(o.meanRows, analysisRows.length), shuffled.length));
    const R = analysisRows.length;
    const ids = flattenRows(analysisRows);

    const counts = o.counts ? await readCountsFile(o.counts, spec.vocab) : countUnigrams(built.rows, spec.vocab);
    const vocabScope = o.vocabScope ?? (o.counts ? 'all' : 'observed');
    const split = splitTokens(counts, o.split, o.topPercent, vocabScope);
    const excluded = [...new Set([...defaultExcludedTokenIds(spec.arch === 'gpt2' ? 'gpt2' : 'pythia'), bos, eos])];
    const labels = classifyPositions(analysisRows, split, { by: o.by, excludedTokenIds: excluded });

    const core = await this.core(model, meanRowsList, ids, R, seq, labels, '');
    const { influence, rare, common, plateau, plateauSource } = core;
    const m = spec.dMlp;
    const byDrare = Array.from({ length: m }, (_, i) => i).sort((a, b) => influence.rare.D[a] - influence.rare.D[b]);
    const suppress = byDrare.filter((i) => influence.rare.D[i] < 0 && !plateau.includes(i)).slice(0, plateau.length);

    // Activations of the final layer over the rare contexts of the analysed rows.
    const post = await this.timed('activations', async () => (await runSequences(model, ids, R, seq, { hooks: [postHook(model)], unembed: false })).hooks.get(postHook(model))!.data);
    const rarePositions: number[] = [];
    labels.forEach((row, b) => row.forEach((l, t) => { if (l === POSITION_RARE) rarePositions.push(b * seq + t); }));
    const A = activationsAt(post, m, rarePositions);
    const contexts = rarePositions.length;
    if (contexts < 2) throw new Error(`only ${contexts} rare-token contexts in ${R} rows of ${seq} tokens: too few for the activation statistics (use more --rows or a longer --seq)`);

    const pool = otherNeurons(m, plateau, suppress);
    const random = randomGroups(pool, plateau.length, { count: o.randomGroups, seed: o.seed });
    const geometry = await this.timed('geometry', () => {
      const plateauGeo = groupGeometry(A, contexts, plateau, m);
      const suppressGeo = groupGeometry(A, contexts, suppress, m);
      const randomGeo = random.map((g) => groupGeometry(A, contexts, g, m));
      return {
        plateau: plateauGeo, suppress: suppressGeo,
        vsRandom: {
          effectiveDimRatio: compareToRandom(plateauGeo.effectiveDimRatio, randomGeo.map((g) => g.effectiveDimRatio)),
          participationRatio: compareToRandom(plateauGeo.participationRatio, randomGeo.map((g) => g.participationRatio)),
          pearsonMean: compareToRandom(plateauGeo.pearson.mean, randomGeo.map((g) => g.pearson.mean)),
          cosineMean: compareToRandom(plateauGeo.cosine.mean, randomGeo.map((g) => g.cosine.mean)),
        },
      };
    });
    const graph = await this.timed('graph', () => {
      const variants = [o.edgeThreshold, null];
      const plateauG = variants.map((t) => groupGraph(A, contexts, plateau, m, t, o.seed));
      const suppressG = variants.map((t) => groupGraph(A, contexts, suppress, m, t, o.seed));
      const randomQ = random.map((g, k) => groupGraph(A, contexts, g, m, o.edgeThreshold, o.seed + k).modularity);
      const randomQAll = random.map((g, k) => groupGraph(A, contexts, g, m, null, o.seed + k).modularity);
      return {
        plateau: plateauG, suppress: suppressG, randomQ,
        vsRandom: { modularity: compareToRandom(plateauG[0].modularity, randomQ), modularityNoThreshold: compareToRandom(plateauG[1].modularity, randomQAll) },
      };
    });
    const headLayers = o.headLayers ?? defaultHeadLayers(spec.nLayers);
    const heads = await this.timed('heads', async () => {
      this.phase.start('head routing', 1, 'sweep');
      // Mean ablation of heads takes hook_z's means over the same population as the neurons' means.
      const means = o.headIntervention === 'mean'
        ? await populationMeans(model, { ids: flattenRows(meanRowsList), B: meanRowsList.length, T: seq }, headLayers.map((l) => `blocks.${l}.attn.hook_z`))
        : null;
      const r = await headRouting(model, ids, R, seq, labels, plateau, {
        layers: headLayers, intervention: o.headIntervention, permutations: o.permutations, seed: o.seed,
        means: means ? headLayers.map((l) => means.get(`blocks.${l}.attn.hook_z`)!) : undefined,
      });
      this.phase.end();
      return r;
    });
    const spectra = await this.timed('spectra', async () => {
      const { Win, Wout } = this.inputs.neuronWeights ?? await finalLayerNeuronWeights(o.modelDir, spec);
      const d = spec.dModel;
      const of = (group: number[]) => [groupSpectrum(Win, d, group, 'W_in', o.bootstrap, o.seed), groupSpectrum(Wout, d, group, 'W_out', o.bootstrap, o.seed)];
      const plateauS = of(plateau);
      const randomHill = (W: Float32Array) => random.map((g) => weightSpectrum(selectRows(W, d, g), g.length, d).hill.alpha);
      const rIn = randomHill(Win);
      const rOut = randomHill(Wout);
      return {
        plateau: plateauS, suppress: of(suppress), random: { hillAlpha_W_in: rIn, hillAlpha_W_out: rOut },
        vsRandom: { hillAlpha_W_in: compareToRandom(plateauS[0].hillAlpha, rIn), hillAlpha_W_out: compareToRandom(plateauS[1].hillAlpha, rOut) },
      };
    });
    const dynamics = o.checkpoints?.length ? await this.timed('dynamics', () => this.dynamics(meanRowsList, ids, R, seq, labels)) : null;
    if (!this.inputs.model) model.destroy();
    this.timings.total = Number(((performance.now() - t0) / 1000).toFixed(3));

    const rarePos = influence.rare.positions.length;
    const commonPos = influence.common.positions.length;
    const results: AnalysisResults = {
      format: 'plateau-analysis/1',
      createdAt: new Date().toISOString(),
      versions: { plateau: '0.1.0', node: typeof process !== 'undefined' ? process.version : 'browser', adapter: this.gpu.describe() },
      model: { dir: o.modelDir, arch: spec.arch, layer: spec.nLayers - 1, dMlp: m, dModel: spec.dModel, nLayers: spec.nLayers, nHeads: spec.nHeads, vocab: spec.vocab, files: [] },
      corpus: { files: corpus.files, documents: built.documents, tokens: built.tokens, rows: built.rows.length, rowsAnalysed: R, seq, seed: o.seed },
      options: {
        rows: o.rows, seq: o.seq, meanRows: o.meanRows, seed: o.seed, counts: o.counts ?? null, split: o.split, topPercent: o.topPercent, by: o.by,
        vocabScope: split.scope, ablation: o.ablation, plateauSize: o.plateauSize ?? null, randomGroups: o.randomGroups, bootstrap: o.bootstrap, edgeThreshold: o.edgeThreshold,
        headLayers, headIntervention: o.headIntervention, permutations: o.permutations, meanActivationRows: meanRowsList.length,
        positionFilters: 'first 3 positions, the last one, BOS/EOS (and "\\n" for GPT-2) as input or target',
        excludedTokenIds: excluded, huberTau: 1, lambdaC: 1, lambdaDelta: 0.1,
      },
      frequency: {
        source: o.counts ? `counts file ${o.counts}` : `unigram counts over the corpus (${built.tokens} tokens), add-one smoothed`,
        split: o.split, by: o.by, info: { ...split.info, vocabScope: split.scope } as unknown as Record<string, unknown>, rareTokens: split.info.nRare, commonTokens: split.info.nCommon,
      },
      neurons: {
        D_rare: Array.from(influence.rare.D), I_rare: Array.from(influence.rare.I),
        D_common: Array.from(influence.common.D), I_common: Array.from(influence.common.I), mean: Array.from(core.means),
      },
      sets: {
        rare: { label: 'rare', positions: rarePos, regimes: rare.summary, boostCount: rare.ranked.length, suppressCount: countNegative(influence.rare.D) },
        common: { label: 'common', positions: commonPos, regimes: common.summary, boostCount: common.ranked.length, suppressCount: countNegative(influence.common.D) },
      },
      groups: { plateau, suppress, randomCount: random.length, size: plateau.length, source: plateauSource },
      geometry,
      graph,
      heads: { layers: headLayers, intervention: o.headIntervention, routing: heads.routing, wilcoxon: heads.wilcoxon, noRouting: heads.noRouting },
      spectra,
      dynamics,
      timings: this.timings,
    };
    return { results, influence };
  }

  /** The influence → plateau → geometry/graph/spectrum chain on each training checkpoint. */
  private async dynamics(meanRowsList: Int32Array[], ids: Int32Array, R: number, T: number, labels: Uint8Array[]) {
    const steps: NonNullable<AnalysisResults['dynamics']>['steps'] = [];
    for (const dir of this.options.checkpoints ?? []) {
      const model = await loadModel(this.gpu, dir);
      const core = await this.core(model, meanRowsList, ids, R, T, labels, `dynamics:${dir}:`);
      const post = (await runSequences(model, ids, R, T, { hooks: [postHook(model)], unembed: false })).hooks.get(postHook(model))!.data;
      const positions: number[] = [];
      labels.forEach((row, b) => row.forEach((l, t) => { if (l === POSITION_RARE) positions.push(b * T + t); }));
      const A = activationsAt(post, model.spec.dMlp, positions);
      const geo = groupGeometry(A, positions.length, core.plateau, model.spec.dMlp);
      const g = groupGraph(A, positions.length, core.plateau, model.spec.dMlp, this.options.edgeThreshold, this.options.seed);
      const { Wout } = await finalLayerNeuronWeights(dir, model.spec);
      const hill = weightSpectrum(selectRows(Wout, model.spec.dModel, core.plateau), core.plateau.length, model.spec.dModel).hill.alpha;
      const step = /step[-_]?(\d+)/i.exec(dir);
      steps.push({
        checkpoint: dir, step: step ? Number(step[1]) : null,
        plateauSize: core.rare.summary.plateauExists ? core.rare.summary.r1 - 1 : 0,
        alpha: core.rare.summary.alpha, modularity: g.modularity, effectiveDim: geo.effectiveDimRatio, hillAlpha: hill,
      });
      model.destroy();
    }
    return { steps };
  }
}

/** The rare/common split over all tokens, or over the observed ones (mapped back to the vocabulary). */
function splitTokens(counts: Float64Array, method: SplitMethod, topPercent: number, scope: 'all' | 'observed') {
  const p = smoothedProbabilities(counts);
  if (scope === 'all') return { ...rareCommonSplit(p, method, { topPercent }), scope };
  const observed: number[] = [];
  counts.forEach((c, id) => { if (c > 0) observed.push(id); });
  if (observed.length < 10) throw new Error(`only ${observed.length} distinct tokens observed: too few for a rare/common split`);
  const sub = rareCommonSplit(Float64Array.from(observed, (id) => p[id]), method, { topPercent });
  const isRare = new Uint8Array(counts.length);
  const isCommon = new Uint8Array(counts.length);
  observed.forEach((id, k) => { isRare[id] = sub.isRare[k]; isCommon[id] = sub.isCommon[k]; });
  return { ...sub, isRare, isCommon, scope, info: { ...sub.info, observedTokens: observed.length } };
}

function countNegative(D: Float64Array): number {
  let n = 0;
  for (const v of D) if (v < 0) n++;
  return n;
}

/** BOS and EOS ids: from the tokenizer, else the architecture's convention (<|endoftext|>). */
function specialIds(tokenizer: TextTokenizer, arch: string): { bos: number; eos: number } {
  const fallback = arch === 'gpt2' ? 50256 : 0;
  const eos = tokenizer.eosId ?? fallback;
  return { bos: tokenizer.bosId ?? eos, eos };
}
