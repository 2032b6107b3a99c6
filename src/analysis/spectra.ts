// Weight spectra of a neuron group (rare-token-analysis.md, section Weight spectra).
// Input: W [k × d] row-major, one row per neuron (its W_in or W_out vector).
//
// - Each row is z-scored over its d entries (population sd, divisor d, so diag C = 1 and
//   trace C = k); a constant row becomes zero (noted). C = Z Zᵀ / d (k × k); eigenvalues descending.
// - Hill α over the top 10%: k_t = max(1, floor(0.1·k)), α = 1 / mean_{j≤k_t} log(λ_j / λ_{k_t+1}).
//   This estimates the tail index ζ of the survival function P(λ > x) ~ x^−ζ.
// - WeightWatcher-style power-law fit (Clauset, Shalizi & Newman 2009): for each candidate λ_min
//   (distinct positive eigenvalues leaving >= minTail eigenvalues at or above it),
//   α = 1 + n / Σ log(λ/λ_min) over λ >= λ_min, and the KS distance between the empirical and the
//   fitted CDF of that tail; the λ_min with the smallest KS distance wins. This α is the exponent
//   of the density p(λ) ~ λ^−α, so for a pure power law α_fit ≈ ζ_Hill + 1.
// - Stable rank Σλ/λ_max; spectral entropy −Σ p log p / log k with p = λ/Σλ (1 = flat spectrum).
// - Eigenvalues <= 1e-12·λ_max count as zero (rank deficiency when d < k or rows repeat).
// - Bootstrap: resample the k rows with replacement (repeated rows add zero eigenvalues, which
//   biases the resampled spectra: noted), percentile intervals.

import { Rng } from './random.js';
import { percentileInterval as statsPercentileInterval, symmetricEigen } from './stats.js';

export const HILL_FRACTION = 0.1;
export const DEFAULT_MIN_TAIL = 3;

export interface HillEstimate {
  alpha: number;
  /** Number of eigenvalues in the tail (k_t). */
  tailSize: number;
  /** λ_{k_t+1}, the threshold eigenvalue. */
  threshold: number;
  note: string;
}

export interface PowerLawFit {
  alpha: number;
  lambdaMin: number;
  /** Eigenvalues >= λ_min. */
  tailSize: number;
  /** Kolmogorov–Smirnov distance at the chosen λ_min. */
  ks: number;
  /** Standard error (α − 1)/√n. */
  sigma: number;
}

export interface SpectrumMetrics {
  k: number;
  hill: HillEstimate;
  powerLaw: PowerLawFit;
  stableRank: number;
  spectralEntropy: number;
  /** Eigenvalues counted as zero. */
  zeroEigenvalues: number;
}

export interface WeightSpectrum extends SpectrumMetrics {
  d: number;
  eigenvalues: Float64Array;
  constantRows: number[];
  notes: string[];
}

export interface Interval {
  low: number;
  high: number;
  /** Bootstrap replicates with a finite value. */
  n: number;
}

export interface SpectrumBootstrap {
  replicates: number;
  level: number;
  seed: number;
  hillAlpha: Interval;
  powerLawAlpha: Interval;
  stableRank: Interval;
  spectralEntropy: Interval;
  notes: string[];
}

/** Z-score each row of W [k × d] (population sd); constant rows become zero. */
export function zscoreRows(W: ArrayLike<number>, k: number, d: number): { Z: Float64Array; constantRows: number[] } {
  const Z = new Float64Array(k * d);
  const constantRows: number[] = [];
  for (let i = 0; i < k; i++) {
    let m = 0;
    let maxAbs = 0;
    for (let c = 0; c < d; c++) {
      m += W[i * d + c];
      maxAbs = Math.max(maxAbs, Math.abs(W[i * d + c]));
    }
    m /= d;
    let v = 0;
    for (let c = 0; c < d; c++) v += (W[i * d + c] - m) ** 2;
    const sd = Math.sqrt(v / d);
    if (maxAbs === 0 || sd <= 1e-9 * maxAbs) {
      constantRows.push(i);
      continue;
    }
    for (let c = 0; c < d; c++) Z[i * d + c] = (W[i * d + c] - m) / sd;
  }
  return { Z, constantRows };
}

/** C = Z Zᵀ / d (k × k, row-major). */
export function rowGram(Z: Float64Array, k: number, d: number): Float64Array {
  const C = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = i; j < k; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += Z[i * d + c] * Z[j * d + c];
      C[i * k + j] = C[j * k + i] = s / d;
    }
  return C;
}

/** Eigenvalues of C = Z Zᵀ/d for row-z-scored W, descending, clamped >= 0. */
export function rowCorrelationEigenvalues(W: ArrayLike<number>, k: number, d: number): { eigenvalues: Float64Array; constantRows: number[] } {
  const { Z, constantRows } = zscoreRows(W, k, d);
  const values = Float64Array.from(symmetricEigen(rowGram(Z, k, d), k).values, (v) => Math.max(0, v));
  return { eigenvalues: values.sort().reverse(), constantRows };
}

/** Descending copy of the eigenvalues. */
function descending(eigs: ArrayLike<number>): Float64Array {
  return Float64Array.from(eigs).sort().reverse();
}

/** Hill estimator over the top `fraction` of the eigenvalues (see header). */
export function hillAlpha(eigenvalues: ArrayLike<number>, fraction = HILL_FRACTION): HillEstimate {
  const l = descending(eigenvalues);
  const k = l.length;
  const kt = Math.max(1, Math.floor(fraction * k));
  const note = `Hill tail: top ${kt} of ${k} eigenvalues (k_t = max(1, floor(${fraction}·k)))${kt < 10 ? '; few eigenvalues in the tail, estimate is noisy' : ''}`;
  if (k < 2) return { alpha: NaN, tailSize: kt, threshold: NaN, note: `${note}; need at least 2 eigenvalues` };
  const threshold = l[kt];
  if (!(threshold > 0)) return { alpha: NaN, tailSize: kt, threshold, note: `${note}; λ_{k_t+1} = 0, undefined` };
  let s = 0;
  for (let j = 0; j < kt; j++) s += Math.log(l[j] / threshold);
  return { alpha: s > 0 ? kt / s : Infinity, tailSize: kt, threshold, note };
}

/** MLE exponent and KS distance of a continuous power law on `tail` (ascending, all >= xmin). */
export function powerLawAtMin(tail: Float64Array, xmin: number): { alpha: number; ks: number } {
  const n = tail.length;
  let s = 0;
  for (const x of tail) s += Math.log(x / xmin);
  if (!(s > 0)) return { alpha: NaN, ks: Infinity };
  const alpha = 1 + n / s;
  let ks = 0;
  for (let i = 0; i < n; i++) {
    const F = 1 - Math.pow(tail[i] / xmin, 1 - alpha);
    ks = Math.max(ks, Math.abs(F - i / n), Math.abs(F - (i + 1) / n));
  }
  return { alpha, ks };
}

/** Clauset-style power-law fit with λ_min chosen by minimum KS distance (see header). */
export function powerLawFit(eigenvalues: ArrayLike<number>, minTail = DEFAULT_MIN_TAIL): PowerLawFit {
  const all = Float64Array.from(eigenvalues).sort();
  const max = all.length ? all[all.length - 1] : 0;
  const x = all.filter((v) => v > 1e-12 * max);
  let best: PowerLawFit = { alpha: NaN, lambdaMin: NaN, tailSize: 0, ks: Infinity, sigma: NaN };
  for (let i = 0; i < x.length; i++) {
    if (i > 0 && x[i] === x[i - 1]) continue;
    const tail = x.subarray(i);
    if (tail.length < Math.max(2, minTail)) break;
    const { alpha, ks } = powerLawAtMin(tail, x[i]);
    if (ks < best.ks) best = { alpha, lambdaMin: x[i], tailSize: tail.length, ks, sigma: (alpha - 1) / Math.sqrt(tail.length) };
  }
  return best;
}

/** Σλ / λ_max. */
export function stableRank(eigenvalues: ArrayLike<number>): number {
  let s = 0;
  let m = 0;
  for (let i = 0; i < eigenvalues.length; i++) {
    s += eigenvalues[i];
    m = Math.max(m, eigenvalues[i]);
  }
  return m > 0 ? s / m : 0;
}

/** −Σ p log p / log k with p = λ/Σλ over the k eigenvalues (zeros contribute 0). */
export function spectralEntropy(eigenvalues: ArrayLike<number>): number {
  const k = eigenvalues.length;
  let s = 0;
  for (let i = 0; i < k; i++) s += Math.max(0, eigenvalues[i]);
  if (k < 2 || s <= 0) return 0;
  let h = 0;
  for (let i = 0; i < k; i++) {
    const p = Math.max(0, eigenvalues[i]) / s;
    if (p > 0) h -= p * Math.log(p);
  }
  return h / Math.log(k);
}

/** All spectrum metrics from eigenvalues directly. */
export function spectrumMetrics(eigenvalues: ArrayLike<number>, minTail = DEFAULT_MIN_TAIL): SpectrumMetrics {
  const l = descending(eigenvalues);
  const max = l.length ? l[0] : 0;
  return {
    k: l.length,
    hill: hillAlpha(l),
    powerLaw: powerLawFit(l, minTail),
    stableRank: stableRank(l),
    spectralEntropy: spectralEntropy(l),
    zeroEigenvalues: l.filter((v) => !(v > 1e-12 * max)).length,
  };
}

/** Spectrum of a neuron group's weight rows W [k × d] (see header). */
export function weightSpectrum(W: ArrayLike<number>, k: number, d: number, minTail = DEFAULT_MIN_TAIL): WeightSpectrum {
  if (W.length !== k * d) throw new Error(`weightSpectrum: expected ${k * d} values, got ${W.length}`);
  const { eigenvalues, constantRows } = rowCorrelationEigenvalues(W, k, d);
  const metrics = spectrumMetrics(eigenvalues, minTail);
  const notes = [metrics.hill.note];
  if (constantRows.length) notes.push(`${constantRows.length} constant row(s) set to zero`);
  if (d < k) notes.push(`d = ${d} < k = ${k}: at least ${k - d} zero eigenvalues`);
  return { ...metrics, d, eigenvalues, constantRows, notes };
}

/** Percentile interval of the finite values (NaN bounds when none). */
function percentileInterval(values: number[], level: number): Interval {
  const finite = values.filter((x) => Number.isFinite(x));
  const [low, high] = statsPercentileInterval(finite, level);
  return { low, high, n: finite.length };
}

/** Bootstrap intervals of the spectrum metrics, resampling rows (neurons) with replacement. */
export function bootstrapSpectrum(W: ArrayLike<number>, k: number, d: number, options: { replicates?: number; level?: number; seed?: number; minTail?: number } = {}): SpectrumBootstrap {
  const replicates = options.replicates ?? 200;
  const level = options.level ?? 0.95;
  const seed = options.seed ?? 0;
  const rng = new Rng(seed);
  const cols: Record<'hill' | 'pl' | 'sr' | 'h', number[]> = { hill: [], pl: [], sr: [], h: [] };
  const R = new Float64Array(k * d);
  for (let b = 0; b < replicates; b++) {
    const idx = rng.resample(k);
    for (let i = 0; i < k; i++) for (let c = 0; c < d; c++) R[i * d + c] = W[idx[i] * d + c];
    const m = spectrumMetrics(rowCorrelationEigenvalues(R, k, d).eigenvalues, options.minTail);
    cols.hill.push(m.hill.alpha);
    cols.pl.push(m.powerLaw.alpha);
    cols.sr.push(m.stableRank);
    cols.h.push(m.spectralEntropy);
  }
  return {
    replicates,
    level,
    seed,
    hillAlpha: percentileInterval(cols.hill, level),
    powerLawAlpha: percentileInterval(cols.pl, level),
    stableRank: percentileInterval(cols.sr, level),
    spectralEntropy: percentileInterval(cols.h, level),
    notes: [
      `Hill tail: ${Math.max(1, Math.floor(HILL_FRACTION * k))} of ${k} eigenvalues per replicate`,
      'rows resampled with replacement: repeated rows add zero eigenvalues to a replicate, so intervals are wider and shifted relative to the point estimate',
    ],
  };
}
