import { describe, expect, it } from 'vitest';

import { Rng, createRng } from '../src/analysis/random.js';
import {
  bootstrapCI,
  cosineMatrix,
  empiricalPValue,
  empiricalPValueLessOrEqual,
  mean,
  median,
  normalCdf,
  normalSf,
  pearson,
  pearsonMatrix,
  percentileInterval,
  permutationTest,
  quantile,
  rankWithTies,
  sd,
  symmetricEigen,
  wilcoxonSignedRank,
  zScore,
} from '../src/analysis/stats.js';

describe('Rng (xoshiro128**)', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(sa);
    expect(new Rng(2 ** 40).uniform()).not.toBe(new Rng(0).uniform());
  });

  it('uniform, normal and int have the right ranges and moments', () => {
    const rng = new Rng(1);
    const u = Array.from({ length: 20000 }, () => rng.uniform());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(mean(u)).toBeCloseTo(0.5, 2);
    const z = Array.from({ length: 20000 }, () => rng.normal());
    expect(mean(z)).toBeCloseTo(0, 1);
    expect(sd(z)).toBeCloseTo(1, 1);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70000; i++) counts[rng.int(7)]++;
    for (const c of counts) expect(Math.abs(c - 10000)).toBeLessThan(500);
    expect(() => rng.int(0)).toThrow(/positive integer/);
  });

  it('shuffle permutes and sample draws distinct values', () => {
    const rng = new Rng(7);
    const arr = Array.from({ length: 50 }, (_, i) => i);
    const sh = rng.shuffle(arr.slice());
    expect(sh).not.toEqual(arr);
    expect(sh.slice().sort((x, y) => x - y)).toEqual(arr);
    for (const [k, n] of [[5, 1000], [900, 1000], [0, 3], [3, 3]]) {
      const s = rng.sample(k, n);
      expect(s.length).toBe(k);
      expect(new Set(s).size).toBe(k);
      for (const v of s) expect(v >= 0 && v < n).toBe(true);
    }
    expect(() => rng.sample(4, 3)).toThrow(/k must be/);
    const r = rng.resample(10, 3);
    for (const v of r) expect(v >= 0 && v < 3).toBe(true);
  });
});

describe('descriptive statistics, p-values and z-scores', () => {
  it('mean / median / sd / quantile', () => {
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(sd([2, 4, 4, 4, 5, 5, 7, 9], 0)).toBe(2);
    expect(sd([1, 2, 3, 4])).toBeCloseTo(Math.sqrt(5 / 3), 14);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
  });

  it('empirical p-values with the +1 correction', () => {
    const random = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
    expect(empiricalPValue(0.75, random)).toBe((1 + 2) / 10);
    expect(empiricalPValue(0.8, random)).toBe((1 + 2) / 10); // ties count as ≥
    expect(empiricalPValue(5, random)).toBe(1 / 10);
    expect(empiricalPValueLessOrEqual(0.2, random)).toBe((1 + 2) / 10);
    expect(empiricalPValue(0.2, random, 'lessOrEqual')).toBe(0.3);
  });

  it('z-score against a sample', () => {
    expect(zScore(5, [1, 2, 3])).toBe(3); // mean 2, sd 1
    expect(zScore(1, [1, 1])).toBeNaN();
    expect(zScore(2, [1, 1])).toBe(Infinity);
  });

  it('normal CDF against known values', () => {
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021048517795, 14);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301, 15);
    expect(normalSf(8) / 6.22096057427178e-16).toBeCloseTo(1, 10);
    expect(normalCdf(0)).toBe(0.5);
  });
});

describe('correlation and cosine matrices', () => {
  it('Pearson on constructed columns', () => {
    const rows = 9;
    const cols = 4;
    const data = new Float32Array(rows * cols);
    for (let i = 0; i < rows; i++) {
      const t = i - 4; // symmetric around 0
      data[i * cols + 0] = t;
      data[i * cols + 1] = 2 * t + 1; // r = 1 with col 0
      data[i * cols + 2] = -3 * t; // r = −1
      data[i * cols + 3] = t * t; // r = 0 with col 0 (odd × even moments)
    }
    const r = pearsonMatrix(data, rows, cols);
    expect(r[0 * 4 + 1]).toBeCloseTo(1, 12);
    expect(r[0 * 4 + 2]).toBeCloseTo(-1, 12);
    expect(r[0 * 4 + 3]).toBeCloseTo(0, 12);
    expect(r[3 * 4 + 0]).toBe(r[0 * 4 + 3]);
    for (let j = 0; j < 4; j++) expect(r[j * 4 + j]).toBe(1);
    // a generic pair matches the two-vector formula
    const x = [1, 2, 3, 5, 8];
    const y = [2, 1, 4, 3, 7];
    const m = pearsonMatrix(Float64Array.from(x.flatMap((v, i) => [v, y[i]])), 5, 2);
    expect(m[1]).toBeCloseTo(pearson(x, y), 14);
    // by hand: Σdxdy = 22.4, Σdx² = 30.8, Σdy² = 21.2
    expect(pearson(x, y)).toBeCloseTo(22.4 / Math.sqrt(30.8 * 21.2), 14);
  });

  it('zero-variance columns give NaN', () => {
    const r = pearsonMatrix(new Float32Array([1, 5, 2, 5, 3, 5]), 3, 2);
    expect(r[1]).toBeNaN();
    expect(r[3]).toBeNaN();
  });

  it('cosine similarity of raw columns', () => {
    // columns (1,0,1), (1,1,0), (2,0,2), (0,0,0)
    const data = new Float64Array([1, 1, 2, 0, 0, 1, 0, 0, 1, 0, 2, 0]);
    const c = cosineMatrix(data, 3, 4);
    expect(c[0 * 4 + 1]).toBeCloseTo(0.5, 14);
    expect(c[0 * 4 + 2]).toBeCloseTo(1, 14);
    expect(c[0 * 4 + 3]).toBeNaN();
    expect(() => cosineMatrix(data, 3, 3)).toThrow(/expected rows × cols/);
  });
});

/** W⁺ p-values by brute-force enumeration of all 2^n sign assignments (independent of the DP). */
function bruteSignedRankP(d: number[]): { greater: number; less: number } {
  const n = d.length;
  const { ranks } = rankWithTies(d.map(Math.abs));
  let w = 0;
  d.forEach((v, i) => (w += v > 0 ? ranks[i] : 0));
  let ge = 0;
  let le = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let s = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) s += ranks[i];
    if (s >= w) ge++;
    if (s <= w) le++;
  }
  return { greater: ge / 2 ** n, less: le / 2 ** n };
}

describe('Wilcoxon signed-rank', () => {
  it('all-positive n = 5 by hand: W⁺ = 15, P = 1/32', () => {
    const r = wilcoxonSignedRank([1, 2, 3, 4, 5], null, { alternative: 'greater' });
    expect(r.statistic).toBe(15);
    expect(r.method).toBe('exact');
    expect(r.pValue).toBe(1 / 32);
    expect(wilcoxonSignedRank([1, 2, 3, 4, 5]).pValue).toBe(1 / 16);
  });

  it("matches the textbook example (Fisher's paired differences) and exact enumeration", () => {
    const d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75];
    const two = wilcoxonSignedRank(d);
    expect(two.statistic).toBe(96);
    expect(two.wMinus).toBe(24);
    expect(two.pValue).toBe(0.041259765625); // SciPy's documented exact value
    const greater = wilcoxonSignedRank(d, null, { alternative: 'greater' });
    expect(greater.pValue).toBe(0.0206298828125);
    const brute = bruteSignedRankP(d);
    expect(greater.pValue).toBeCloseTo(brute.greater, 15);
    expect(two.pValue).toBeCloseTo(2 * Math.min(brute.greater, brute.less), 15);
    expect(wilcoxonSignedRank(d, null, { alternative: 'less' }).pValue).toBeCloseTo(brute.less, 15);
  });

  it('paired form equals the one-sample form of the differences, zeros dropped', () => {
    const x = [10, 12, 9, 15, 11, 13, 8];
    const y = [9, 12, 7, 11, 12, 10, 5];
    const paired = wilcoxonSignedRank(x, y);
    const diffs = wilcoxonSignedRank(x.map((v, i) => v - y[i]));
    expect(paired).toEqual(diffs);
    expect(paired.nZerosDropped).toBe(1);
    expect(paired.n).toBe(6);
  });

  it('normal approximation with tie and continuity correction (hand-computed)', () => {
    // |d| ranks: 1,1→1.5; 2,2→3.5; 3→5; 4,4,4→7; 5→9; 6→10. W⁺ = 44.5, W⁻ = 10.5.
    // Var = 10·11·21/24 − [(2³−2)+(2³−2)+(3³−3)]/48 = 96.25 − 0.75 = 95.5; z = (44.5 − 27.5 − 0.5)/√95.5.
    const r = wilcoxonSignedRank([1, -1, 2, 2, 3, 4, 4, 4, -5, 6]);
    expect(r.method).toBe('normal');
    expect(r.statistic).toBe(44.5);
    const z = 16.5 / Math.sqrt(95.5);
    expect(r.z).toBeCloseTo(z, 14);
    expect(r.pValue).toBeCloseTo(2 * normalSf(z), 14);
    expect(r.pValue).toBeCloseTo(0.09133, 4);
    const g = wilcoxonSignedRank([1, -1, 2, 2, 3, 4, 4, 4, -5, 6], null, { alternative: 'greater' });
    expect(g.pValue).toBeCloseTo(normalSf(z), 14);
  });

  it('uses the normal approximation above n = 25 and agrees roughly with the exact p', () => {
    const d = Array.from({ length: 30 }, (_, i) => (i + 1) * (i % 3 === 0 ? -1 : 1));
    const approx = wilcoxonSignedRank(d, null, { alternative: 'greater' });
    const exact = wilcoxonSignedRank(d, null, { alternative: 'greater', exact: true });
    expect(approx.method).toBe('normal');
    expect(exact.method).toBe('exact');
    expect(Math.abs(approx.pValue - exact.pValue)).toBeLessThan(0.002);
  });
});

describe('permutation test', () => {
  const rng = new Rng(3);
  const base = Array.from({ length: 20 }, () => rng.normal());
  const labels = [...new Array(20).fill(0), ...new Array(20).fill(1)];

  it('identical groups give p = 1', () => {
    const r = permutationTest([...base, ...base], labels, { nPermutations: 500, seed: 1 });
    expect(r.observed).toBe(0);
    expect(r.pValue).toBe(1);
  });

  it('shifted groups give the smallest p; seeded and reproducible', () => {
    const values = [...base, ...base.map((v) => v + 3)];
    const r = permutationTest(values, labels, { nPermutations: 999, seed: 5 });
    expect(r.observed).toBeCloseTo(3, 12);
    expect(r.pValue).toBe(1 / 1000);
    const g = permutationTest(values, labels, { nPermutations: 999, seed: 5, alternative: 'less' });
    expect(g.pValue).toBeGreaterThan(0.99);
    const moderate = [...base, ...base.map((v) => v + 0.3)];
    const a = permutationTest(moderate, labels, { nPermutations: 300, seed: 9 });
    expect(permutationTest(moderate, labels, { nPermutations: 300, seed: 9 })).toEqual(a);
  });
});

describe('bootstrap CI', () => {
  it('percentile interval of replicates and a mean CI containing the truth', () => {
    const [lo, hi] = percentileInterval(Float64Array.from({ length: 101 }, (_, i) => i), 0.9);
    expect(lo).toBeCloseTo(5, 10);
    expect(hi).toBeCloseTo(95, 10);
    const rng = new Rng(11);
    const data = Array.from({ length: 400 }, () => 2 + rng.normal());
    const ci = bootstrapCI(data, mean, { B: 500, seed: 2 });
    expect(ci.low).toBeLessThan(2);
    expect(ci.high).toBeGreaterThan(2);
    expect(ci.high - ci.low).toBeCloseTo(2 * 1.96 * (1 / 20), 1);
    expect(bootstrapCI(data, mean, { B: 500, seed: 2 }).low).toBe(ci.low);
  });
});

/** Householder reflection I − 2vvᵀ/vᵀv (orthogonal and symmetric). */
function householder(v: number[]): Float64Array {
  const n = v.length;
  const vv = v.reduce((s, x) => s + x * x, 0);
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) h[i * n + j] = (i === j ? 1 : 0) - (2 * v[i] * v[j]) / vv;
  return h;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) c[i * n + j] += a[i * n + k] * b[k * n + j];
  return c;
}

/** A random orthogonal Q (product of 3 reflections) and Q diag(λ) Qᵀ. */
function withSpectrum(lambda: number[], seed: number): Float64Array {
  const n = lambda.length;
  const rng = new Rng(seed);
  let q = householder(Array.from({ length: n }, () => rng.normal()));
  for (let r = 0; r < 2; r++) q = matmul(q, householder(Array.from({ length: n }, () => rng.normal())), n);
  const qd = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qd[i * n + j] = q[i * n + j] * lambda[j];
  const qt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) qt[i * n + j] = q[j * n + i];
  return matmul(qd, qt, n);
}

describe('symmetric eigen-decomposition (Jacobi)', () => {
  it('recovers a known spectrum with eigenvectors', () => {
    const lambda = [5, -2, 3.5, 0, 1, 1, 10, 0.25];
    const n = lambda.length;
    const a = withSpectrum(lambda, 4);
    const { values, vectors } = symmetricEigen(a, n, { vectors: true });
    const sorted = lambda.slice().sort((x, y) => y - x);
    values.forEach((v, i) => expect(v).toBeCloseTo(sorted[i], 12));
    // A v = λ v and orthonormal columns
    for (let c = 0; c < n; c++) {
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let k = 0; k < n; k++) av += a[i * n + k] * vectors![k * n + c];
        expect(av).toBeCloseTo(values[c] * vectors![i * n + c], 12);
      }
      for (let d = 0; d < n; d++) {
        let dot = 0;
        for (let k = 0; k < n; k++) dot += vectors![k * n + c] * vectors![k * n + d];
        expect(dot).toBeCloseTo(c === d ? 1 : 0, 12);
      }
    }
  });

  it('handles a 120 × 120 matrix and diagonal input', () => {
    const lambda = Array.from({ length: 120 }, (_, i) => 1 / (i + 1) ** 1.5);
    const { values, sweeps } = symmetricEigen(withSpectrum(lambda, 8), 120);
    values.forEach((v, i) => expect(Math.abs(v - lambda[i])).toBeLessThan(1e-12));
    expect(sweeps).toBeLessThan(20);
    expect(Array.from(symmetricEigen([2, 0, 0, 3], 2).values)).toEqual([3, 2]);
  });
});
