// The shape of results.json written by `plateau analyze` (and read by the HTML report and the web
// page). Every number the analysis computes and every option that produced it.

export interface Interval {
  low: number;
  high: number;
  level: number; // e.g. 0.95
}

export interface RegimeSummary {
  /** Neurons ranked (boost neurons only). */
  n: number;
  r1: number;
  r2: number;
  alpha: number;
  plateau: { a: number; b: number };
  powerLaw: { a: number; b: number };
  decay: { a: number; delta: number };
  shares: { plateau: number; powerLaw: number; decay: number };
  plateauExcess: number;
  plateauExists: boolean;
  loss: number;
  ci: Partial<Record<'r1' | 'r2' | 'alpha' | 'plateauExcess' | 'sharePlateau' | 'sharePowerLaw' | 'shareDecay', Interval>>;
  /** The influence curve that was fitted: I of the boost neurons in rank order (rank 1 first). */
  curve: number[];
  /** Neuron index of each point of `curve`. */
  neurons: number[];
  /** Fixed-size alternatives (10/50/100 and manual) with their power-law exponent. */
  fixedSizes: { size: number; alpha: number }[];
}

export interface GroupComparison {
  observed: number;
  randomMean: number;
  randomSd: number;
  pGreater: number;
  pLess: number;
  z: number;
  n: number;
}

export interface GroupGeometry {
  size: number;
  effectiveDim: number; // k for 95 %
  effectiveDimRatio: number; // k / n
  participationRatio: number;
  pearson: { mean: number; median: number; sharePositive: number; shareAbsAbove05: number };
  cosine: { mean: number; median: number };
}

export interface GroupGraph {
  threshold: number | null;
  modularity: number;
  signedModularity: number;
  communities: number;
  sizes: number[];
  modular: boolean;
  edges: number;
}

export interface GroupSpectrum {
  which: 'W_in' | 'W_out';
  hillAlpha: number;
  hillTail: number;
  powerLawAlpha: number;
  lambdaMin: number;
  stableRank: number;
  spectralEntropy: number;
  eigenvalues: number[];
  ci: Partial<Record<'hillAlpha' | 'powerLawAlpha' | 'stableRank' | 'spectralEntropy', Interval>>;
}

export interface HeadRouting {
  layer: number;
  head: number;
  /** Mean over rare contexts of Σ_{plateau} |Δa| at the redirected position. */
  effectRare: number;
  effectOther: number;
  selectivity: number; // rare − other
  ratio: number; // rare / other
  dnllRare: number;
  dnllOther: number;
  /** Permutation test over context labels of effectRare − effectOther (one-sided, greater). */
  pPermutation: number;
}

export interface TokenSetResults {
  label: 'rare' | 'common';
  positions: number;
  regimes: RegimeSummary;
  boostCount: number;
  suppressCount: number;
}

export interface AnalysisResults {
  format: 'plateau-analysis/1';
  createdAt: string;
  versions: { plateau: string; node: string; adapter: string; [k: string]: string };
  model: { dir: string; arch: string; layer: number; dMlp: number; dModel: number; nLayers: number; nHeads: number; vocab: number; files: { name: string; bytes: number; sha256: string }[] };
  corpus: { files: string[]; documents: number; tokens: number; rows: number; rowsAnalysed: number; seq: number; seed: number };
  options: Record<string, string | number | boolean | number[] | null>;
  frequency: { source: string; split: string; by: 'target' | 'input'; info: Record<string, unknown>; rareTokens: number; commonTokens: number };
  /** Per neuron of the final layer: D and I on rare and on common positions. */
  neurons: { D_rare: number[]; I_rare: number[]; D_common: number[]; I_common: number[]; mean: number[] };
  sets: { rare: TokenSetResults; common: TokenSetResults };
  groups: { plateau: number[]; suppress: number[]; randomCount: number; size: number; source: string };
  geometry: { plateau: GroupGeometry; suppress: GroupGeometry; vsRandom: Record<string, GroupComparison> };
  graph: { plateau: GroupGraph[]; suppress: GroupGraph[]; randomQ: number[]; vsRandom: Record<string, GroupComparison> };
  heads: { layers: number[]; intervention: string; routing: HeadRouting[]; wilcoxon: { statistic: number; p: number; n: number; alternative: string }; noRouting: boolean };
  spectra: { plateau: GroupSpectrum[]; suppress: GroupSpectrum[]; random: Record<string, number[]>; vsRandom: Record<string, GroupComparison> };
  dynamics: { steps: { checkpoint: string; step: number | null; plateauSize: number; alpha: number; modularity: number; effectiveDim: number; hillAlpha: number }[] } | null;
  timings: Record<string, number>;
}
