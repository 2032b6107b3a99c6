/**
 * Small, dependency-free statistics for the rare-token analyses
 * (see shared/docs/rare-token-analysis.md): empirical p-values against
 * random-group baselines, z-scores, descriptive statistics, correlation and
 * cosine matrices, the Wilcoxon signed-rank test, a seeded permutation test,
 * bootstrap percentile intervals, and a Jacobi symmetric eigen-solver.
 *
 * Conventions: standard deviations are sample SDs (n − 1) unless `ddof` says
 * otherwise; quantiles use linear interpolation between order statistics
 * (numpy's default, "type 7"); matrices are row-major typed arrays.
 */

import { Rng } from './random.js';

type Num = ArrayLike<number>;

// ---------------------------------------------------------------------------
// Descriptive statistics

/** Arithmetic mean (NaN for an empty sample). */
export function mean(xs: Num): number {
  if (xs.length === 0) return NaN;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}

/** Variance with `ddof` degrees of freedom removed (default 1: sample variance). */
export function variance(xs: Num, ddof = 1): number {
  const n = xs.length;
  if (n - ddof <= 0) return NaN;
  const m = mean(xs);
  let s = 0;
  for (let i = 0; i < n; i++) s += (xs[i] - m) ** 2;
  return s / (n - ddof);
}

/** Standard deviation (default ddof 1). */
export function sd(xs: Num, ddof = 1): number {
  return Math.sqrt(variance(xs, ddof));
}

/** Sorted ascending copy as a Float64Array. */
export function sortedCopy(xs: Num): Float64Array {
  const out = Float64Array.from(xs);
  out.sort();
  return out;
}

/** Quantile q ∈ [0, 1] with linear interpolation (numpy default); NaN when empty. */
export function quantile(xs: Num, q: number): number {
  return quantileSorted(sortedCopy(xs), q);
}

/** Same as `quantile` for data already sorted ascending. */
export function quantileSorted(sorted: Num, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile: q must be in [0, 1], got ${q}`);
  const h = (n - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Median (average of the two middle values for even n). */
export function median(xs: Num): number {
  return quantile(xs, 0.5);
}

/**
 * z-score of `observed` against a reference sample: (observed − mean) / sd
 * (sample sd). ±Infinity when the sample has zero spread and observed differs
 * from its mean, NaN when it equals it.
 */
export function zScore(observed: number, sample: Num): number {
  const m = mean(sample);
  const s = sd(sample);
  if (s === 0) return observed === m ? NaN : observed > m ? Infinity : -Infinity;
  return (observed - m) / s;
}

/**
 * Empirical p-value with the +1 correction:
 *   'greaterOrEqual' (default): p = (1 + #{random ≥ observed}) / (1 + n)
 *   'lessOrEqual':              p = (1 + #{random ≤ observed}) / (1 + n)
 * NaN entries of the random sample are ignored (n counts finite ones only).
 */
export function empiricalPValue(
  observed: number,
  randomSample: Num,
  tail: 'greaterOrEqual' | 'lessOrEqual' = 'greaterOrEqual',
): number {
  let n = 0;
  let hits = 0;
  for (let i = 0; i < randomSample.length; i++) {
    const r = randomSample[i];
    if (Number.isNaN(r)) continue;
    n++;
    if (tail === 'greaterOrEqual' ? r >= observed : r <= observed) hits++;
  }
  return (1 + hits) / (1 + n);
}

/** The `lessOrEqual` variant of `empiricalPValue`. */
export function empiricalPValueLessOrEqual(observed: number, randomSample: Num): number {
  return empiricalPValue(observed, randomSample, 'lessOrEqual');
}

// ---------------------------------------------------------------------------
// Correlation and cosine matrices

/** Columns of a row-major [rows × cols] matrix as contiguous Float64Arrays. */
function columns(data: Num, rows: number, cols: number): Float64Array[] {
  if (data.length !== rows * cols) {
    throw new Error(`matrix: data has ${data.length} entries, expected rows × cols = ${rows} × ${cols}`);
  }
  const out: Float64Array[] = [];
  for (let j = 0; j < cols; j++) {
    const c = new Float64Array(rows);
    for (let i = 0; i < rows; i++) c[i] = data[i * cols + j];
    out.push(c);
  }
  return out;
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** [cols × cols] matrix of normalised column dot products; NaN where a column has zero norm. */
function normalisedGram(cols: Float64Array[]): Float64Array {
  const k = cols.length;
  const out = new Float64Array(k * k);
  const norms = cols.map((c) => Math.sqrt(dot(c, c)));
  for (let a = 0; a < k; a++) {
    for (let b = a; b < k; b++) {
      let v = norms[a] === 0 || norms[b] === 0 ? NaN : dot(cols[a], cols[b]) / (norms[a] * norms[b]);
      if (a === b && !Number.isNaN(v)) v = 1;
      else if (v > 1) v = 1;
      else if (v < -1) v = -1;
      out[a * k + b] = v;
      out[b * k + a] = v;
    }
  }
  return out;
}

/**
 * Pearson correlations between the columns of a row-major [rows × cols]
 * matrix (e.g. contexts × neurons) → [cols × cols] Float64Array. A column with
 * zero variance gets NaN in its row and column (diagonal included).
 */
export function pearsonMatrix(data: Num, rows: number, cols: number): Float64Array {
  const cs = columns(data, rows, cols);
  for (const c of cs) {
    const m = mean(c);
    for (let i = 0; i < c.length; i++) c[i] -= m;
  }
  return normalisedGram(cs);
}

/**
 * Cosine similarity between the raw (uncentred) columns of a row-major
 * [rows × cols] matrix → [cols × cols]; NaN for all-zero columns.
 */
export function cosineMatrix(data: Num, rows: number, cols: number): Float64Array {
  return normalisedGram(columns(data, rows, cols));
}

/** Pearson correlation of two equal-length vectors. */
export function pearson(a: Num, b: Num): number {
  if (a.length !== b.length) throw new Error(`pearson: lengths differ (${a.length} vs ${b.length})`);
  const ma = mean(a);
  const mb = mean(b);
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < a.length; i++) {
    const da = a[i] - ma;
    const db = b[i] - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

// ---------------------------------------------------------------------------
// Normal distribution

/** Complementary error function, accurate to ~1e-15 relative (series below 2.5, continued fraction above). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) return 1 - erfSeries(x);
  if (x > 27) return 0;
  // Continued fraction erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), by modified Lentz.
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = x + a * d;
    d = d === 0 ? tiny : d;
    c = x + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * f);
}

/** erf(x) = 2/√π · exp(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)): all terms positive, no cancellation. */
function erfSeries(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x * x) * sum;
}

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Upper tail 1 − Φ(z), computed without cancellation. */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

// ---------------------------------------------------------------------------
// Wilcoxon signed-rank test

export type Alternative = 'two-sided' | 'greater' | 'less';

export interface WilcoxonResult {
  /** W⁺: sum of the ranks of the positive differences. */
  statistic: number;
  /** W⁻: sum of the ranks of the negative differences. */
  wMinus: number;
  /** Differences used (zeros dropped). */
  n: number;
  nZerosDropped: number;
  pValue: number;
  method: 'exact' | 'normal';
  /** Normal-approximation z (with tie and continuity correction); absent for exact. */
  z?: number;
  alternative: Alternative;
}

/** Average ranks (1-based) of values; returns ranks and whether any ties occurred, plus Σ(t³ − t). */
export function rankWithTies(values: Num): { ranks: Float64Array; hasTies: boolean; tieTerm: number } {
  const n = values.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  let hasTies = false;
  let tieTerm = 0;
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && values[idx[j]] === values[idx[i]]) j++;
    const t = j - i;
    if (t > 1) {
      hasTies = true;
      tieTerm += t * t * t - t;
    }
    const r = (i + 1 + j) / 2; // average of ranks i+1 … j
    for (let k = i; k < j; k++) ranks[idx[k]] = r;
    i = j;
  }
  return { ranks, hasTies, tieTerm };
}

/** Number of sign assignments giving each W⁺ = 0 … n(n+1)/2 (ranks 1 … n, no ties). */
function signedRankCounts(n: number): Float64Array {
  const max = (n * (n + 1)) / 2;
  const counts = new Float64Array(max + 1);
  counts[0] = 1;
  for (let r = 1; r <= n; r++) {
    for (let w = Math.min(max, (r * (r + 1)) / 2); w >= r; w--) counts[w] += counts[w - r];
  }
  return counts;
}

/**
 * Wilcoxon signed-rank test of d = x − y (paired) or d = x (one sample vs 0).
 * Zero differences are dropped (Wilcox's method). Exact null distribution when
 * n ≤ 25 and there are no tied |d|; otherwise the normal approximation with
 * the tie correction Var = n(n+1)(2n+1)/24 − Σ(t³ − t)/48 and a 0.5 continuity
 * correction. Two-sided exact p = min(1, 2·min(P(W⁺ ≥ w), P(W⁺ ≤ w))).
 * 'greater' tests whether d tends to be positive.
 */
export function wilcoxonSignedRank(
  x: Num,
  y?: Num | null,
  options: { alternative?: Alternative; exact?: boolean | 'auto' } = {},
): WilcoxonResult {
  const alternative = options.alternative ?? 'two-sided';
  if (y && y.length !== x.length) throw new Error(`wilcoxonSignedRank: x and y lengths differ (${x.length} vs ${y.length})`);
  const d: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const v = y ? x[i] - y[i] : x[i];
    if (Number.isNaN(v)) throw new Error(`wilcoxonSignedRank: NaN difference at index ${i}`);
    if (v !== 0) d.push(v);
  }
  const n = d.length;
  const nZerosDropped = x.length - n;
  if (n === 0) {
    return { statistic: 0, wMinus: 0, n, nZerosDropped, pValue: 1, method: 'exact', alternative };
  }
  const { ranks, hasTies, tieTerm } = rankWithTies(d.map(Math.abs));
  let wPlus = 0;
  for (let i = 0; i < n; i++) if (d[i] > 0) wPlus += ranks[i];
  const total = (n * (n + 1)) / 2;
  const wMinus = total - wPlus;
  const useExact = options.exact === true ? !hasTies : options.exact === false ? false : n <= 25 && !hasTies;
  const base = { statistic: wPlus, wMinus, n, nZerosDropped, alternative };
  if (useExact) return { ...base, pValue: exactSignedRankP(wPlus, n, alternative), method: 'exact' };
  const mu = total / 2;
  const sigma = Math.sqrt((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  let z: number;
  let p: number;
  if (sigma === 0) {
    z = 0;
    p = 1;
  } else if (alternative === 'greater') {
    z = (wPlus - mu - 0.5) / sigma;
    p = normalSf(z);
  } else if (alternative === 'less') {
    z = (wPlus - mu + 0.5) / sigma;
    p = normalCdf(z);
  } else {
    const dev = wPlus - mu;
    z = (dev - 0.5 * Math.sign(dev)) / sigma;
    p = Math.min(1, 2 * normalSf(Math.abs(z)));
  }
  return { ...base, pValue: p, method: 'normal', z };
}

function exactSignedRankP(wPlus: number, n: number, alternative: Alternative): number {
  const counts = signedRankCounts(n);
  const totalAssignments = 2 ** n;
  let ge = 0;
  let le = 0;
  for (let w = 0; w < counts.length; w++) {
    if (w >= wPlus) ge += counts[w];
    if (w <= wPlus) le += counts[w];
  }
  if (alternative === 'greater') return ge / totalAssignments;
  if (alternative === 'less') return le / totalAssignments;
  return Math.min(1, (2 * Math.min(ge, le)) / totalAssignments);
}

// ---------------------------------------------------------------------------
// Permutation test and bootstrap

export interface PermutationResult {
  /** mean(group 1) − mean(group 0). */
  observed: number;
  pValue: number;
  nPermutations: number;
  alternative: Alternative;
}

/**
 * Permutation test of a difference in means between two labelled groups
 * (labels truthy/1 = group 1, falsy/0 = group 0). Labels are shuffled
 * `nPermutations` times with a seeded RNG; p = (1 + #{perm at least as
 * extreme}) / (1 + nPermutations), extremeness by |diff| (two-sided) or by
 * diff ≥ observed ('greater') / diff ≤ observed ('less').
 */
export function permutationTest(
  values: Num,
  labels: ArrayLike<number | boolean>,
  options: { nPermutations?: number; seed?: number; alternative?: Alternative } = {},
): PermutationResult {
  const nPerm = options.nPermutations ?? 10000;
  const alternative = options.alternative ?? 'two-sided';
  if (values.length !== labels.length) {
    throw new Error(`permutationTest: ${values.length} values but ${labels.length} labels`);
  }
  const lab = Uint8Array.from(labels as ArrayLike<number>, (l) => (l ? 1 : 0));
  const n1 = lab.reduce((s, l) => s + l, 0);
  if (n1 === 0 || n1 === lab.length) throw new Error('permutationTest: both groups need at least one value');
  const observed = meanDifference(values, lab, n1);
  const rng = new Rng(options.seed ?? 0);
  const eps = 1e-12 * (Math.abs(observed) + 1e-300); // guards float noise on exact ties
  let hits = 0;
  for (let b = 0; b < nPerm; b++) {
    rng.shuffle(lab);
    const diff = meanDifference(values, lab, n1);
    if (alternative === 'greater' ? diff >= observed - eps : alternative === 'less' ? diff <= observed + eps : Math.abs(diff) >= Math.abs(observed) - eps) hits++;
  }
  return { observed, pValue: (1 + hits) / (1 + nPerm), nPermutations: nPerm, alternative };
}

function meanDifference(values: Num, lab: Uint8Array, n1: number): number {
  let s1 = 0;
  let s0 = 0;
  for (let i = 0; i < values.length; i++) {
    if (lab[i]) s1 += values[i];
    else s0 += values[i];
  }
  return s1 / n1 - s0 / (values.length - n1);
}

/** Percentile interval [q(α/2), q(1 − α/2)] of a sample of replicate statistics (NaNs ignored). */
export function percentileInterval(replicates: Num, level = 0.95): [number, number] {
  const finite = Array.from(replicates).filter((v) => !Number.isNaN(v));
  const s = sortedCopy(finite);
  const a = (1 - level) / 2;
  return [quantileSorted(s, a), quantileSorted(s, 1 - a)];
}

export interface BootstrapCI {
  estimate: number;
  low: number;
  high: number;
  level: number;
  replicates: Float64Array;
}

/**
 * Bootstrap percentile CI of `statistic` over a sample: `B` resamples of
 * size n with replacement (seeded), statistic on each, percentile interval.
 */
export function bootstrapCI(
  data: Num,
  statistic: (sample: Float64Array) => number,
  options: { B?: number; seed?: number; level?: number } = {},
): BootstrapCI {
  const B = options.B ?? 1000;
  const level = options.level ?? 0.95;
  const rng = new Rng(options.seed ?? 0);
  const n = data.length;
  const replicates = new Float64Array(B);
  const buf = new Float64Array(n);
  for (let b = 0; b < B; b++) {
    for (let i = 0; i < n; i++) buf[i] = data[rng.int(n)];
    replicates[b] = statistic(buf);
  }
  const [low, high] = percentileInterval(replicates, level);
  return { estimate: statistic(Float64Array.from(data)), low, high, level, replicates };
}

// ---------------------------------------------------------------------------
// Symmetric eigen-decomposition (cyclic Jacobi)

export interface EigenResult {
  /** Eigenvalues, descending. */
  values: Float64Array;
  /** Row-major [n × n]; column j is the unit eigenvector of values[j]. Present when requested. */
  vectors?: Float64Array;
  sweeps: number;
}

/**
 * Eigenvalues (descending) and optionally eigenvectors of a symmetric
 * row-major [n × n] matrix by cyclic Jacobi rotations (Numerical Recipes'
 * threshold in the first 3 sweeps). O(n³) per sweep, typically 6–10 sweeps:
 * about 0.7 s at n = 300 and 6 s at n = 600 in V8 (with vectors), so fine for
 * neuron groups and weight spectra, slow near n = 1000. The input is not
 * modified; only its upper triangle is read (the matrix is assumed symmetric).
 */
export function symmetricEigen(
  matrix: Num,
  n: number,
  options: { vectors?: boolean; maxSweeps?: number; tolerance?: number } = {},
): EigenResult {
  if (matrix.length !== n * n) throw new Error(`symmetricEigen: expected ${n * n} entries, got ${matrix.length}`);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      a[i * n + j] = matrix[i * n + j];
      a[j * n + i] = matrix[i * n + j];
    }
  }
  const wantVectors = options.vectors ?? false;
  const vt = wantVectors ? identity(n) : null; // transposed: row j holds eigenvector j (contiguous updates)
  const tol = options.tolerance ?? 1e-15;
  const maxSweeps = options.maxSweeps ?? 100;
  const scale = frobeniusSquared(a);
  let sweeps = 0;
  for (let off = offDiagonalSquared(a, n); sweeps < maxSweeps && off > tol * tol * scale; off = offDiagonalSquared(a, n)) {
    // Numerical Recipes' threshold: early sweeps skip elements far below the average off-diagonal size.
    const threshold = sweeps < 3 ? (0.2 * Math.sqrt(off / 2)) / (n * n) : 0;
    sweeps++;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p * n + q]) > threshold) jacobiRotate(a, vt, n, p, q);
      }
    }
  }
  return sortEigen(a, vt, n, sweeps);
}

function identity(n: number): Float64Array {
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function frobeniusSquared(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return s;
}

function offDiagonalSquared(a: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += 2 * a[i * n + j] * a[i * n + j];
  return s;
}

/** One Jacobi rotation zeroing a[p][q] (Numerical Recipes' stable formulas). */
function jacobiRotate(a: Float64Array, vt: Float64Array | null, n: number, p: number, q: number): void {
  const apq = a[p * n + q];
  if (apq === 0) return;
  const app = a[p * n + p];
  const aqq = a[q * n + q];
  const theta = (aqq - app) / (2 * apq);
  const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  const rp = p * n;
  const rq = q * n;
  for (let k = 0; k < n; k++) {
    if (k === p || k === q) continue;
    const akp = a[rp + k]; // = a[k][p] by symmetry; rows are contiguous
    const akq = a[rq + k];
    const nkp = c * akp - s * akq;
    const nkq = s * akp + c * akq;
    a[rp + k] = nkp;
    a[rq + k] = nkq;
    a[k * n + p] = nkp;
    a[k * n + q] = nkq;
  }
  a[p * n + p] = app - t * apq;
  a[q * n + q] = aqq + t * apq;
  a[p * n + q] = 0;
  a[q * n + p] = 0;
  if (vt) {
    const rp = p * n;
    const rq = q * n;
    for (let k = 0; k < n; k++) {
      const vkp = vt[rp + k];
      const vkq = vt[rq + k];
      vt[rp + k] = c * vkp - s * vkq;
      vt[rq + k] = s * vkp + c * vkq;
    }
  }
}

function sortEigen(a: Float64Array, vt: Float64Array | null, n: number, sweeps: number): EigenResult {
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[j * n + j] - a[i * n + i]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  if (!vt) return { values, sweeps };
  const vectors = new Float64Array(n * n);
  for (let col = 0; col < n; col++) {
    for (let k = 0; k < n; k++) vectors[k * n + col] = vt[order[col] * n + k];
  }
  return { values, vectors, sweeps };
}
