// Activation geometry of a neuron group (rare-token-analysis.md, section Activation geometry).
// Input: A = activations [contexts × neurons], row-major (Float32Array or any numeric array).
//
// - Effective dimensionality: columns z-scored (sample sd, divisor m−1), PCA through the
//   eigenvalues of their covariance = the correlation matrix (or, when contexts < neurons, of the
//   contexts×contexts Gram matrix, which has the same non-zero eigenvalues); k = smallest number
//   of components reaching 95% of the variance, k/n with n = group size (constant columns
//   included), participation ratio (Σλ)²/Σλ².
// - Constant columns (dead neurons on these contexts) cannot be z-scored: they are set to zero,
//   contribute no variance (total variance = number of non-constant columns), and are listed.
// - Co-activation: Pearson r over off-diagonal pairs (mean, median, share r > 0, share |r| > 0.5),
//   and cosine similarity of the raw activation vectors (mean, median). Pairs involving a
//   constant column (r undefined) or a zero column (cosine undefined) are left out and counted.

import { mean, median, cosineMatrix as statsCosineMatrix, pearsonMatrix as statsPearsonMatrix, symmetricEigen } from './stats.js';

export const DEFAULT_VARIANCE_TARGET = 0.95;

export interface EffectiveDimensionality {
  contexts: number;
  neurons: number;
  /** Smallest number of principal components reaching `varianceTarget` of the variance. */
  k: number;
  /** k / neurons. */
  kOverN: number;
  /** (Σλ)² / Σλ². */
  participationRatio: number;
  varianceTarget: number;
  /** PCA eigenvalues (variances), descending; length min(contexts, neurons). */
  eigenvalues: Float64Array;
  /** Cumulative explained variance ratio per component. */
  cumulativeExplained: Float64Array;
  /** Indices of constant columns (excluded from the variance). */
  constantColumns: number[];
  notes: string[];
}

export interface CoactivationStats {
  pearson: { pairs: number; undefinedPairs: number; mean: number; median: number; sharePositive: number; shareAbsAbove: number; absThreshold: number };
  cosine: { pairs: number; undefinedPairs: number; mean: number; median: number };
}

/** Column means and sample sds; a column is constant when sd <= 1e-9 · max|x| (or all zeros). */
export function columnStats(A: ArrayLike<number>, rows: number, cols: number): { mean: Float64Array; sd: Float64Array; constant: boolean[] } {
  const mean = new Float64Array(cols);
  const sd = new Float64Array(cols);
  const maxAbs = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const x = A[r * cols + c];
      mean[c] += x;
      maxAbs[c] = Math.max(maxAbs[c], Math.abs(x));
    }
  }
  for (let c = 0; c < cols; c++) mean[c] /= rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) sd[c] += (A[r * cols + c] - mean[c]) ** 2;
  const constant: boolean[] = [];
  for (let c = 0; c < cols; c++) {
    sd[c] = rows > 1 ? Math.sqrt(sd[c] / (rows - 1)) : 0;
    constant.push(maxAbs[c] === 0 || sd[c] <= 1e-9 * maxAbs[c]);
  }
  return { mean, sd, constant };
}

/** Z-score columns (sample sd); constant columns become zero. Returns Float64Array [rows × cols]. */
export function zscoreColumns(A: ArrayLike<number>, rows: number, cols: number): { Z: Float64Array; constantColumns: number[] } {
  const { mean, sd, constant } = columnStats(A, rows, cols);
  const Z = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) Z[r * cols + c] = constant[c] ? 0 : (A[r * cols + c] - mean[c]) / sd[c];
  }
  return { Z, constantColumns: constant.flatMap((k, c) => (k ? [c] : [])) };
}

/**
 * Pearson correlation between columns, k×k row-major (stats.pearsonMatrix); NaN in the row and
 * column of a constant column (detected with columnStats' tolerance, so that float rounding of a
 * constant column's mean cannot produce spurious correlations).
 */
export function correlationMatrix(A: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const R = statsPearsonMatrix(A, rows, cols);
  const { constant } = columnStats(A, rows, cols);
  for (let c = 0; c < cols; c++) {
    if (!constant[c]) continue;
    for (let j = 0; j < cols; j++) R[c * cols + j] = R[j * cols + c] = NaN;
  }
  return R;
}

/** Cosine similarity between raw columns, k×k row-major; NaN where a column is all zeros. */
export function cosineMatrix(A: ArrayLike<number>, rows: number, cols: number): Float64Array {
  return statsCosineMatrix(A, rows, cols);
}

/** Eigenvalues of Zᵀ Z / (rows − 1) via the smaller of the two Gram matrices, clamped >= 0, descending. */
export function pcaEigenvalues(Z: Float64Array, rows: number, cols: number): Float64Array {
  const small = Math.min(rows, cols);
  const G = new Float64Array(small * small);
  const denom = rows - 1;
  if (cols <= rows) {
    for (let i = 0; i < cols; i++)
      for (let j = i; j < cols; j++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += Z[r * cols + i] * Z[r * cols + j];
        G[i * cols + j] = G[j * cols + i] = s / denom;
      }
  } else {
    for (let a = 0; a < rows; a++)
      for (let b = a; b < rows; b++) {
        let s = 0;
        for (let c = 0; c < cols; c++) s += Z[a * cols + c] * Z[b * cols + c];
        G[a * rows + b] = G[b * rows + a] = s / denom;
      }
  }
  const values = Float64Array.from(symmetricEigen(G, small).values, (v) => Math.max(0, v));
  return values.sort().reverse();
}

/** Participation ratio (Σλ)²/Σλ² of non-negative eigenvalues (0 when all vanish). */
export function participationRatio(eigenvalues: ArrayLike<number>): number {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < eigenvalues.length; i++) {
    s += eigenvalues[i];
    s2 += eigenvalues[i] ** 2;
  }
  return s2 > 0 ? (s * s) / s2 : 0;
}

/** Cumulative explained-variance ratios and the smallest k reaching `target` (0 if no variance). */
export function componentsForVariance(eigenvalues: ArrayLike<number>, target: number): { k: number; cumulative: Float64Array } {
  let total = 0;
  for (let i = 0; i < eigenvalues.length; i++) total += eigenvalues[i];
  const cumulative = new Float64Array(eigenvalues.length);
  let acc = 0;
  let k = 0;
  for (let i = 0; i < eigenvalues.length; i++) {
    acc += eigenvalues[i];
    cumulative[i] = total > 0 ? acc / total : 0;
    if (k === 0 && total > 0 && cumulative[i] >= target - 1e-12) k = i + 1;
  }
  return { k, cumulative };
}

/** Effective dimensionality of A [contexts × neurons] (see header). */
export function effectiveDimensionality(A: ArrayLike<number>, contexts: number, neurons: number, varianceTarget = DEFAULT_VARIANCE_TARGET): EffectiveDimensionality {
  if (contexts < 2) throw new Error('effectiveDimensionality: need at least 2 contexts');
  if (A.length !== contexts * neurons) throw new Error(`effectiveDimensionality: expected ${contexts * neurons} values, got ${A.length}`);
  const { Z, constantColumns } = zscoreColumns(A, contexts, neurons);
  const eigenvalues = pcaEigenvalues(Z, contexts, neurons);
  const { k, cumulative } = componentsForVariance(eigenvalues, varianceTarget);
  const notes: string[] = [];
  if (constantColumns.length > 0) notes.push(`${constantColumns.length} constant column(s) set to zero after z-scoring (no variance); n still counts them`);
  if (constantColumns.length === neurons) notes.push('all columns constant: k = 0, participation ratio = 0');
  if (contexts < neurons) notes.push(`fewer contexts (${contexts}) than neurons (${neurons}): at most ${contexts - 1} non-zero components`);
  return {
    contexts,
    neurons,
    k,
    kOverN: neurons > 0 ? k / neurons : 0,
    participationRatio: participationRatio(eigenvalues),
    varianceTarget,
    eigenvalues,
    cumulativeExplained: cumulative,
    constantColumns,
    notes,
  };
}

/** Finite upper-triangle (i < j) entries of a k×k matrix and the number of undefined ones. */
export function offDiagonal(M: ArrayLike<number>, k: number): { values: Float64Array; undefinedPairs: number } {
  const out: number[] = [];
  let undef = 0;
  for (let i = 0; i < k; i++)
    for (let j = i + 1; j < k; j++) {
      const v = M[i * k + j];
      if (Number.isFinite(v)) out.push(v);
      else undef++;
    }
  return { values: Float64Array.from(out), undefinedPairs: undef };
}

/** Co-activation statistics of A [contexts × neurons] (see header). */
export function coactivation(A: ArrayLike<number>, contexts: number, neurons: number, absThreshold = 0.5): CoactivationStats {
  const r = offDiagonal(correlationMatrix(A, contexts, neurons), neurons);
  const c = offDiagonal(cosineMatrix(A, contexts, neurons), neurons);
  const n = r.values.length;
  let pos = 0;
  let big = 0;
  for (const v of r.values) {
    if (v > 0) pos++;
    if (Math.abs(v) > absThreshold) big++;
  }
  return {
    pearson: {
      pairs: n,
      undefinedPairs: r.undefinedPairs,
      mean: mean(r.values),
      median: median(r.values),
      sharePositive: n ? pos / n : NaN,
      shareAbsAbove: n ? big / n : NaN,
      absThreshold,
    },
    cosine: { pairs: c.values.length, undefinedPairs: c.undefinedPairs, mean: mean(c.values), median: median(c.values) },
  };
}
