// A realistic synthetic AnalysisResults (Pythia-70M-shaped) for the report tests and the web page's
// demo. The rare-token influence curve follows a known three-regime curve in the fit's own
// parametrisation (natural logs, decay vanishing at N + 1), so the planted r1, r2, α are the truth.
// Deterministic: everything comes from one seeded generator.

import type { AnalysisResults, GroupComparison, GroupGeometry, GroupGraph, GroupSpectrum, HeadRouting, RegimeSummary } from '../../src/analysis/results.js';
import { Rng } from '../../src/analysis/random.js';

interface Planted {
  n: number;
  r1: number; // 1 = no plateau
  r2: number;
  alpha: number;
  jump: number; // plateau height above the power law at r1 (log units)
  b1: number;
  delta: number;
  scale: number; // power-law intercept (log units)
}

function plantedFit(p: Planted): Pick<RegimeSummary, 'plateau' | 'powerLaw' | 'decay'> {
  const logEnd = Math.log(p.n + 1);
  const z = (k: number) => Math.log(logEnd - Math.log(k));
  const power = { a: p.scale, b: -p.alpha };
  const powerAt = (k: number) => power.a + power.b * Math.log(k);
  return {
    plateau: { a: powerAt(p.r1) + p.jump - p.b1 * Math.log(p.r1), b: p.b1 },
    powerLaw: power,
    decay: { a: powerAt(p.r2) - p.delta * z(p.r2), delta: p.delta },
  };
}

function curveOf(p: Planted, rng: Rng, noise: number): number[] {
  const f = plantedFit(p);
  const logEnd = Math.log(p.n + 1);
  const y = Array.from({ length: p.n }, (_, i) => {
    const k = i + 1;
    const x = Math.log(k);
    const line = k < p.r1 ? f.plateau.a + f.plateau.b * x : k < p.r2 ? f.powerLaw.a + f.powerLaw.b * x : f.decay.a + f.decay.delta * Math.log(logEnd - x);
    return Math.exp(line + noise * rng.normal());
  });
  return y.sort((a, b) => b - a);
}

function ci(low: number, high: number): { low: number; high: number; level: number } {
  return { low, high, level: 0.95 };
}

function comparison(observed: number, random: number[]): GroupComparison {
  const n = random.length;
  const mean = random.reduce((s, v) => s + v, 0) / n;
  const sd = Math.sqrt(random.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return {
    observed,
    randomMean: mean,
    randomSd: sd,
    pGreater: (1 + random.filter((v) => v >= observed).length) / (1 + n),
    pLess: (1 + random.filter((v) => v <= observed).length) / (1 + n),
    z: (observed - mean) / sd,
    n,
  };
}

function geometry(size: number, effectiveDim: number, pearsonMean: number): GroupGeometry {
  return {
    size,
    effectiveDim,
    effectiveDimRatio: effectiveDim / size,
    participationRatio: effectiveDim * 0.55,
    pearson: { mean: pearsonMean, median: pearsonMean * 0.8, sharePositive: 0.61, shareAbsAbove05: 0.04 },
    cosine: { mean: 0.21, median: 0.18 },
  };
}

function graphOf(size: number, q: number, qFull: number): GroupGraph[] {
  return [
    { threshold: 0.3, modularity: q, signedModularity: q - 0.01, communities: 5, sizes: [12, 10, 8, 6, 4], modular: false, edges: Math.round(size * 3.2) },
    { threshold: null, modularity: qFull, signedModularity: qFull - 0.005, communities: 3, sizes: [18, 14, 8], modular: false, edges: (size * (size - 1)) / 2 },
  ];
}

function spectrum(which: 'W_in' | 'W_out', k: number, tail: number, rng: Rng): GroupSpectrum {
  const eigenvalues = Array.from({ length: k }, (_, i) => (i + 1) ** (-1 / tail) * (1 + 0.05 * rng.normal())).sort((a, b) => b - a);
  const sum = eigenvalues.reduce((s, v) => s + v, 0);
  const scaled = eigenvalues.map((v) => (v * k) / sum); // trace = k, as for a correlation matrix
  const hillTail = Math.max(1, Math.floor(0.1 * k));
  return {
    which,
    hillAlpha: tail,
    hillTail,
    powerLawAlpha: tail + 1,
    lambdaMin: scaled[Math.floor(k / 2)],
    stableRank: k / scaled[0],
    spectralEntropy: 0.93,
    eigenvalues: scaled,
    ci: { hillAlpha: ci(tail * 0.7, tail * 1.4), stableRank: ci((k / scaled[0]) * 0.9, (k / scaled[0]) * 1.1) },
  };
}

function heads(rng: Rng): HeadRouting[] {
  const out: HeadRouting[] = [];
  for (const layer of [3, 4, 5]) {
    for (let head = 0; head < 4; head++) {
      const effectOther = 0.4 + 0.3 * rng.uniform();
      const effectRare = effectOther * (1 + 0.08 * rng.normal());
      out.push({
        layer,
        head,
        effectRare,
        effectOther,
        selectivity: effectRare - effectOther,
        ratio: effectRare / effectOther,
        dnllRare: 0.02 + 0.01 * rng.uniform(),
        dnllOther: 0.02 + 0.01 * rng.uniform(),
        pPermutation: Number((0.08 + 0.9 * rng.uniform()).toFixed(3)),
      });
    }
  }
  return out;
}

/** The planted truth of the rare-token curve (for assertions). */
export const SAMPLE_TRUTH = { n: 1100, r1: 41, r2: 900, alpha: 0.92, wilcoxonP: 0.62, plateauSize: 40 } as const;

export function sampleResults(seed = 7): AnalysisResults {
  const rng = new Rng(seed);
  const dMlp = 2048;
  const T = SAMPLE_TRUTH;
  const rareP: Planted = { n: T.n, r1: T.r1, r2: T.r2, alpha: T.alpha, jump: 1.6, b1: -0.25, delta: 0.9, scale: -2.5 };
  const commonP: Planted = { n: 1020, r1: 1, r2: 820, alpha: 0.75, jump: 0, b1: 0, delta: 0.8, scale: -3.2 };

  // Neurons: a shuffled order, the first n are the boost neurons of each set.
  const order = rng.shuffle(Array.from({ length: dMlp }, (_, i) => i));
  const commonOrder = rng.shuffle(order.slice());
  const rareCurve = curveOf(rareP, rng, 0.08);
  const commonCurve = curveOf(commonP, rng, 0.08);
  const D_rare = new Array<number>(dMlp).fill(0);
  const I_rare = new Array<number>(dMlp).fill(0);
  const D_common = new Array<number>(dMlp).fill(0);
  const I_common = new Array<number>(dMlp).fill(0);
  const fill = (D: number[], I: number[], ord: number[], curve: number[]) => {
    ord.forEach((neuron, i) => {
      if (i < curve.length) {
        I[neuron] = curve[i];
        D[neuron] = curve[i] * (0.35 + 0.3 * rng.uniform());
      } else {
        I[neuron] = 1e-4 * (0.5 + rng.uniform());
        D[neuron] = -I[neuron] * (0.2 + 0.5 * rng.uniform());
      }
    });
  };
  fill(D_rare, I_rare, order, rareCurve);
  fill(D_common, I_common, commonOrder, commonCurve);
  const mean = Array.from({ length: dMlp }, () => Math.abs(0.05 + 0.1 * rng.normal()));

  const regimes = (p: Planted, curve: number[], neurons: number[], extra: Partial<RegimeSummary>): RegimeSummary => {
    const counts = { plateau: p.r1 - 1, powerLaw: p.r2 - p.r1, decay: p.n - p.r2 + 1 };
    return {
      n: p.n,
      r1: p.r1,
      r2: p.r2,
      alpha: p.alpha,
      ...plantedFit(p),
      shares: { plateau: counts.plateau / p.n, powerLaw: counts.powerLaw / p.n, decay: counts.decay / p.n },
      plateauExcess: p.r1 > 2 ? p.jump * Math.log(p.r1 - 1) : 0,
      plateauExists: p.r1 > 2,
      loss: 3.1,
      ci: {},
      curve,
      neurons,
      fixedSizes: [
        { size: 10, alpha: p.alpha * 1.08 },
        { size: 50, alpha: p.alpha * 0.98 },
        { size: 100, alpha: p.alpha * 0.95 },
      ],
      ...extra,
    };
  };
  const rare = regimes(rareP, rareCurve, order.slice(0, T.n), {
    ci: { r1: ci(28, 63), r2: ci(760, 1010), alpha: ci(0.85, 0.99), plateauExcess: ci(4.1, 7.9), sharePlateau: ci(0.025, 0.057) },
  });
  const common = regimes(commonP, commonCurve, commonOrder.slice(0, 1020), { ci: { r1: ci(1, 3), alpha: ci(0.7, 0.81) } });

  const plateau = order.slice(0, T.plateauSize);
  const suppress = order.slice(T.n).sort((a, b) => D_rare[a] - D_rare[b]).slice(0, T.plateauSize);
  const randomQ = Array.from({ length: 100 }, () => 0.065 + 0.014 * rng.normal());
  const randomDim = Array.from({ length: 100 }, () => Math.round(27 + 1.5 * rng.normal()));
  const randomHill = Array.from({ length: 100 }, () => 3.4 + 0.5 * rng.normal());
  const routing = heads(rng);

  return {
    format: 'plateau-analysis/1',
    createdAt: '2026-11-26T03:00:00.000Z',
    versions: { plateau: '0.1.0', node: 'v20.20.2', adapter: 'synthetic (no GPU)' },
    model: {
      dir: 'weights/pythia-70m-deduped',
      arch: 'gpt-neox',
      layer: 5,
      dMlp,
      dModel: 512,
      nLayers: 6,
      nHeads: 8,
      vocab: 50304,
      files: [{ name: 'model.safetensors', bytes: 166_000_000, sha256: 'a'.repeat(64) }],
    },
    corpus: { files: ['data/c4-sample.jsonl'], documents: 500, tokens: 97_312, rows: 380, rowsAnalysed: 100, seq: 256, seed: 42 },
    options: {
      rows: 100,
      seq: 256,
      seed: 42,
      ablation: 'mean',
      rarity: 'longtail_50',
      rarityBy: 'target',
      fit: 'three-piece',
      tau: 1,
      lambdaC: 1,
      lambdaDelta: 0.1,
      bootstrap: 200,
      randomGroups: 100,
      edgeThreshold: 0.3,
      headLayers: [3, 4, 5],
      heads: '0-3',
      intervention: 'bos-redirect',
      fixedSizes: [10, 50, 100],
      manualPlateau: null,
      dropNewline: false,
    },
    frequency: { source: 'pile-unigram-counts.json', split: 'longtail_50', by: 'target', info: { threshold: 2.1e-6, smoothing: 'add-one' }, rareTokens: 25_152, commonTokens: 25_152 },
    neurons: { D_rare, I_rare, D_common, I_common, mean },
    sets: {
      rare: { label: 'rare', positions: 11_204, regimes: rare, boostCount: T.n, suppressCount: dMlp - T.n },
      common: { label: 'common', positions: 13_877, regimes: common, boostCount: 1020, suppressCount: dMlp - 1020 },
    },
    groups: { plateau, suppress, randomCount: 100, size: T.plateauSize, source: 'three-piece fit (r1 − 1)' },
    geometry: {
      plateau: geometry(T.plateauSize, 29, 0.08),
      suppress: geometry(T.plateauSize, 31, 0.05),
      vsRandom: { effectiveDim: comparison(29, randomDim) },
    },
    graph: {
      plateau: graphOf(T.plateauSize, 0.081, 0.043),
      suppress: graphOf(T.plateauSize, 0.07, 0.039),
      randomQ,
      vsRandom: { modularity: comparison(0.081, randomQ) },
    },
    heads: {
      layers: [3, 4, 5],
      intervention: 'BOS redirect (one query position at a time)',
      routing,
      wilcoxon: { statistic: 31, p: T.wilcoxonP, n: routing.length, alternative: 'greater' },
      noRouting: true,
    },
    spectra: {
      plateau: [spectrum('W_in', T.plateauSize, 2.6, rng), spectrum('W_out', T.plateauSize, 2.2, rng)],
      suppress: [spectrum('W_in', T.plateauSize, 3.5, rng), spectrum('W_out', T.plateauSize, 3.1, rng)],
      random: { 'W_in.hillAlpha': randomHill },
      vsRandom: { 'W_in.hillAlpha': comparison(2.6, randomHill) },
    },
    dynamics: {
      steps: [
        { checkpoint: 'step0', step: 0, plateauSize: 0, alpha: 0.31, modularity: 0.052, effectiveDim: 33, hillAlpha: 5.8 },
        { checkpoint: 'step1000', step: 1000, plateauSize: 6, alpha: 0.55, modularity: 0.061, effectiveDim: 31, hillAlpha: 4.1 },
        { checkpoint: 'step16000', step: 16000, plateauSize: 27, alpha: 0.83, modularity: 0.074, effectiveDim: 30, hillAlpha: 3.0 },
        { checkpoint: 'step143000', step: 143000, plateauSize: T.plateauSize, alpha: T.alpha, modularity: 0.081, effectiveDim: 29, hillAlpha: 2.6 },
      ],
    },
    timings: { load: 1.2, forward: 3.4, ablation: 12.8, fit: 0.9, bootstrap: 4.2, geometry: 0.6, graph: 2.3, heads: 9.7, spectra: 0.4, total: 35.5 },
  };
}
