// Activation geometry and random groups on planted data with known answers.
import { describe, expect, it } from 'vitest';
import { coactivation, correlationMatrix, effectiveDimensionality, participationRatio } from '../src/analysis/geometry.js';
import { compareGroupToRandom, compareToRandom, otherNeurons, randomGroups, selectColumns } from '../src/analysis/groups.js';
import { Rng } from '../src/analysis/random.js';

/** m × n matrix of rank r (orthonormal loadings) plus noise (relative to each column's scale). */
function lowRank(rng: Rng, m: number, n: number, r: number, noise: number): Float32Array {
  const V: number[][] = [];
  for (let a = 0; a < r; a++) {
    const v = Array.from({ length: n }, () => rng.normal());
    for (const u of V) {
      const dot = u.reduce((s, x, i) => s + x * v[i], 0);
      for (let i = 0; i < n; i++) v[i] -= dot * u[i];
    }
    const norm = Math.hypot(...v);
    V.push(v.map((x) => x / norm));
  }
  const S = new Float64Array(m * n);
  for (let t = 0; t < m; t++) {
    const u = Array.from({ length: r }, () => rng.normal());
    for (let i = 0; i < n; i++) for (let a = 0; a < r; a++) S[t * n + i] += u[a] * V[a][i];
  }
  // noise relative to each column's signal scale, so that no column is noise-dominated
  const scale = Array.from({ length: n }, (_, i) => Math.sqrt(V.reduce((acc, v) => acc + v[i] ** 2, 0)));
  return Float32Array.from(S, (x, idx) => x + noise * scale[idx % n] * rng.normal());
}

function gaussian(rng: Rng, m: number, n: number): Float32Array {
  return Float32Array.from({ length: m * n }, () => rng.normal());
}

describe('effective dimensionality', () => {
  it('recovers the rank of a low-rank matrix with tiny noise', () => {
    const rng = new Rng(1);
    for (const r of [1, 3, 7]) {
      const A = lowRank(rng, 600, 40, r, 1e-3);
      const e = effectiveDimensionality(A, 600, 40);
      expect(e.k).toBe(r);
      expect(e.kOverN).toBeCloseTo(r / 40, 12);
      expect(e.participationRatio).toBeGreaterThan(0.8 * r);
      expect(e.participationRatio).toBeLessThanOrEqual(r + 1e-3);
      expect(e.cumulativeExplained[r - 1]).toBeGreaterThan(0.999);
    }
  });

  it('isotropic data: participation ratio close to n, k close to n', () => {
    const rng = new Rng(2);
    const n = 20;
    const e = effectiveDimensionality(gaussian(rng, 5000, n), 5000, n);
    expect(e.participationRatio).toBeGreaterThan(0.97 * n);
    expect(e.k).toBeGreaterThanOrEqual(n - 2);
    // z-scored columns: the eigenvalues of the correlation matrix sum to n
    expect(e.eigenvalues.reduce((a, v) => a + v, 0)).toBeCloseTo(n, 8);
  });

  it('fewer contexts than neurons uses the Gram matrix: same answer as the transpose route', () => {
    const rng = new Rng(3);
    const A = lowRank(rng, 30, 80, 4, 1e-3);
    const e = effectiveDimensionality(A, 30, 80);
    expect(e.k).toBe(4);
    expect(e.eigenvalues.length).toBe(30);
    expect(e.eigenvalues.reduce((a, v) => a + v, 0)).toBeCloseTo(80, 6);
  });

  it('constant columns contribute no variance and are listed', () => {
    const rng = new Rng(4);
    const A = lowRank(rng, 300, 10, 2, 1e-3);
    for (let t = 0; t < 300; t++) {
      A[t * 10 + 3] = 0.25;
      A[t * 10 + 7] = 0;
    }
    const e = effectiveDimensionality(A, 300, 10);
    expect(e.constantColumns).toEqual([3, 7]);
    expect(e.eigenvalues.reduce((a, v) => a + v, 0)).toBeCloseTo(8, 8);
    expect(e.k).toBe(2);
    expect(e.kOverN).toBeCloseTo(0.2, 12);
    expect(e.notes.join(' ')).toMatch(/constant/);
    const dead = effectiveDimensionality(new Float32Array(50), 10, 5);
    expect(dead.k).toBe(0);
    expect(dead.participationRatio).toBe(0);
  });

  it('participation ratio of explicit spectra', () => {
    expect(participationRatio([1, 1, 1, 1])).toBeCloseTo(4, 12);
    expect(participationRatio([5, 0, 0])).toBeCloseTo(1, 12);
    expect(participationRatio([3, 1])).toBeCloseTo(16 / 10, 12);
  });
});

describe('co-activation', () => {
  it('shared factor: known correlation; independent: centred at zero', () => {
    const rng = new Rng(5);
    const m = 4000;
    const n = 12;
    // x_i = f + e_i with var(f) = var(e) = 1 → r = 0.5 between every pair
    const A = new Float32Array(m * n);
    for (let t = 0; t < m; t++) {
      const f = rng.normal();
      for (let i = 0; i < n; i++) A[t * n + i] = f + rng.normal();
    }
    const c = coactivation(A, m, n);
    expect(c.pearson.pairs).toBe((n * (n - 1)) / 2);
    expect(c.pearson.mean).toBeCloseTo(0.5, 1);
    expect(c.pearson.median).toBeCloseTo(0.5, 1);
    expect(c.pearson.sharePositive).toBe(1);
    const ind = coactivation(gaussian(rng, m, n), m, n);
    expect(Math.abs(ind.pearson.mean)).toBeLessThan(0.02);
    expect(ind.pearson.shareAbsAbove).toBe(0);
    expect(Math.abs(ind.cosine.mean)).toBeLessThan(0.02);
  });

  it('cosine of raw vectors differs from Pearson when means are non-zero', () => {
    const rng = new Rng(6);
    const m = 3000;
    const n = 6;
    const A = Float32Array.from({ length: m * n }, () => 3 + rng.normal());
    const c = coactivation(A, m, n);
    // E[xy]/E[x²] = 9/10 for independent N(3, 1) columns
    expect(c.cosine.mean).toBeCloseTo(0.9, 2);
    expect(Math.abs(c.pearson.mean)).toBeLessThan(0.05);
  });

  it('pairs with a constant column are undefined and left out', () => {
    const rng = new Rng(7);
    const A = gaussian(rng, 100, 5);
    for (let t = 0; t < 100; t++) A[t * 5 + 2] = 0;
    const c = coactivation(A, 100, 5);
    expect(c.pearson.undefinedPairs).toBe(4);
    expect(c.pearson.pairs).toBe(6);
    expect(c.cosine.undefinedPairs).toBe(4);
    const R = correlationMatrix(A, 100, 5);
    expect(Number.isNaN(R[2 * 5 + 1])).toBe(true);
    expect(R[0]).toBeCloseTo(1, 12);
  });
});

describe('random groups', () => {
  it('draws >= 100 seeded groups of distinct neurons from the other neurons', () => {
    const plateau = [0, 5, 9, 100];
    const suppress = [3, 4];
    const pool = otherNeurons(200, plateau, suppress);
    expect(pool.length).toBe(194);
    const groups = randomGroups(pool, plateau.length, { seed: 11, count: 150 });
    expect(groups.length).toBe(150);
    for (const g of groups) {
      expect(new Set(g).size).toBe(g.length);
      for (const i of g) expect(pool).toContain(i);
    }
    expect(randomGroups(pool, 4, { seed: 11, count: 150 })).toEqual(groups);
    expect(randomGroups(pool, 4, { seed: 12, count: 150 })).not.toEqual(groups);
    expect(() => randomGroups(pool, 4, { count: 10 })).toThrow();
    expect(() => randomGroups([1, 2], 3)).toThrow();
  });

  it('compareToRandom: empirical p-values and z-score', () => {
    const random = Array.from({ length: 99 }, (_, i) => i + 1); // 1 … 99
    const hi = compareToRandom(1000, random);
    expect(hi.pGreater).toBeCloseTo(1 / 100, 12);
    expect(hi.pLess).toBe(1);
    expect(hi.randomMean).toBeCloseTo(50, 12);
    expect(hi.randomSd).toBeCloseTo(Math.sqrt((99 * 100) / 12), 10); // sd of 1..99 (n−1 divisor)
    expect(hi.z).toBeCloseTo((1000 - 50) / hi.randomSd, 10);
    const mid = compareToRandom(50, random);
    expect(mid.pGreater).toBeCloseTo(51 / 100, 12);
    expect(mid.pLess).toBeCloseTo(51 / 100, 12);
    expect(mid.z).toBeCloseTo(0, 12);
    const withNaN = compareToRandom(0, [NaN, 1, 2, 3]);
    expect(withNaN.n).toBe(3);
  });

  it('a planted correlated group stands out against random groups', () => {
    const rng = new Rng(8);
    const m = 400;
    const total = 60;
    const planted = [2, 17, 33, 41, 58];
    const A = gaussian(rng, m, total);
    for (let t = 0; t < m; t++) {
      const f = rng.normal();
      for (const i of planted) A[t * total + i] += 2 * f;
    }
    const stat = (g: readonly number[]) => coactivation(selectColumns(A, m, total, g), m, g.length).pearson.mean;
    const groups = randomGroups(otherNeurons(total, planted), planted.length, { seed: 3 });
    const cmp = compareGroupToRandom(planted, groups, stat);
    expect(cmp.observed).toBeGreaterThan(0.7);
    expect(cmp.pGreater).toBeCloseTo(1 / 101, 12);
    expect(cmp.z).toBeGreaterThan(10);
  });
});
