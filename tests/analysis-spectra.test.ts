// Weight-spectrum estimators on spectra and matrices with known tails.
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/analysis/random.js';
import { bootstrapSpectrum, hillAlpha, powerLawAtMin, powerLawFit, rowCorrelationEigenvalues, spectralEntropy, spectrumMetrics, stableRank, weightSpectrum } from '../src/analysis/spectra.js';

/** n Pareto samples with survival P(X > x) = (x/xmin)^−zeta for x >= xmin. */
function pareto(rng: Rng, n: number, zeta: number, xmin = 1): number[] {
  return Array.from({ length: n }, () => xmin * Math.pow(1 - rng.uniform(), -1 / zeta));
}

function gaussianMatrix(rng: Rng, k: number, d: number): Float32Array {
  return Float32Array.from({ length: k * d }, () => rng.normal());
}

/** Random k×k orthogonal matrix (Gram–Schmidt on Gaussian rows), row-major. */
function orthogonal(rng: Rng, k: number): Float64Array {
  const Q = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    const v = Array.from({ length: k }, () => rng.normal());
    for (let p = 0; p < i; p++) {
      let dot = 0;
      for (let c = 0; c < k; c++) dot += Q[p * k + c] * v[c];
      for (let c = 0; c < k; c++) v[c] -= dot * Q[p * k + c];
    }
    const norm = Math.hypot(...v);
    for (let c = 0; c < k; c++) Q[i * k + c] = v[c] / norm;
  }
  return Q;
}

/** W = U diag(√s) Uᵀ G with G Gaussian [k × d]: row covariance U diag(s) Uᵀ, so C has eigenvalues ≈ s / mean(s). */
function plantedSpectrum(rng: Rng, s: readonly number[], d: number): Float32Array {
  const k = s.length;
  const U = orthogonal(rng, k);
  const M = new Float64Array(k * k);
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      let acc = 0;
      for (let a = 0; a < k; a++) acc += U[i * k + a] * Math.sqrt(s[a]) * U[j * k + a];
      M[i * k + j] = acc;
    }
  const G = gaussianMatrix(rng, k, d);
  const W = new Float32Array(k * d);
  for (let i = 0; i < k; i++)
    for (let a = 0; a < k; a++) {
      const m = M[i * k + a];
      for (let c = 0; c < d; c++) W[i * d + c] += m * G[a * d + c];
    }
  return W;
}

describe('power-law estimators on eigenvalues with a known tail', () => {
  it('Hill recovers the tail index ζ, the KS fit the density exponent ζ + 1', () => {
    const rng = new Rng(31);
    for (const zeta of [1.5, 2, 3]) {
      const eigs = pareto(rng, 3000, zeta);
      const h = hillAlpha(eigs);
      expect(h.tailSize).toBe(300);
      expect(h.alpha).toBeGreaterThan(0.85 * zeta);
      expect(h.alpha).toBeLessThan(1.15 * zeta);
      const f = powerLawFit(eigs);
      expect(Math.abs(f.alpha - (zeta + 1))).toBeLessThan(0.2 * zeta);
      expect(f.ks).toBeLessThan(0.1);
    }
  });

  it('the KS criterion finds λ_min where the power law starts', () => {
    const rng = new Rng(32);
    const bulk = Array.from({ length: 1500 }, () => 0.1 + 0.8 * rng.uniform()); // below 0.9
    const tail = pareto(rng, 1500, 1.5, 1);
    const f = powerLawFit([...bulk, ...tail]);
    // the bulk is excluded (a pure power-law tail is scale-free above 1, so λ_min is only bounded below)
    expect(f.lambdaMin).toBeGreaterThan(0.95);
    expect(f.lambdaMin).toBeLessThan(5);
    expect(Math.abs(f.alpha - 2.5)).toBeLessThan(0.3);
    // fitting from the smallest eigenvalue instead is much worse
    const all = Float64Array.from([...bulk, ...tail]).sort();
    expect(powerLawAtMin(all, all[0]).ks).toBeGreaterThan(3 * f.ks);
    expect(f.sigma).toBeCloseTo((f.alpha - 1) / Math.sqrt(f.tailSize), 12);
  });

  it('Hill tail size for small groups is 3–5 eigenvalues and says so', () => {
    for (const [k, kt] of [
      [30, 3],
      [40, 4],
      [50, 5],
      [9, 1],
    ]) {
      const h = hillAlpha(Array.from({ length: k }, (_, j) => 1 / (j + 1)));
      expect(h.tailSize).toBe(kt);
      expect(h.note).toMatch(new RegExp(`top ${kt} of ${k}`));
      expect(h.note).toMatch(/noisy/);
    }
    // exact value for a tiny spectrum: k = 10 → k_t = 1, α = 1 / log(λ1/λ2)
    expect(hillAlpha([8, 4, 3, 2, 1, 1, 1, 1, 1, 1]).alpha).toBeCloseTo(1 / Math.log(2), 12);
  });

  it('stable rank and spectral entropy of explicit spectra', () => {
    expect(stableRank([4, 2, 1, 1])).toBeCloseTo(2, 12);
    expect(spectralEntropy([1, 1, 1, 1])).toBeCloseTo(1, 12);
    expect(spectralEntropy([1, 0, 0, 0])).toBe(0);
    expect(spectralEntropy([1, 1, 0, 0])).toBeCloseTo(Math.log(2) / Math.log(4), 12);
    expect(spectrumMetrics([3, 2, 1, 0, 0]).zeroEigenvalues).toBe(2);
  });
});

describe('weight matrices', () => {
  it('row z-scoring: C has unit diagonal, eigenvalues sum to k', () => {
    const rng = new Rng(33);
    const W = Float32Array.from({ length: 20 * 300 }, () => 5 + 3 * rng.normal());
    const { eigenvalues, constantRows } = rowCorrelationEigenvalues(W, 20, 300);
    expect(constantRows).toEqual([]);
    expect(eigenvalues.reduce((a, v) => a + v, 0)).toBeCloseTo(20, 8);
    for (let i = 1; i < eigenvalues.length; i++) expect(eigenvalues[i]).toBeLessThanOrEqual(eigenvalues[i - 1]);
  });

  it('Gaussian matrix: Marchenko–Pastur bulk, large Hill α, high stable rank and entropy', () => {
    const rng = new Rng(34);
    const k = 100;
    const d = 2000;
    const s = weightSpectrum(gaussianMatrix(rng, k, d), k, d);
    const q = k / d;
    expect(s.eigenvalues[0]).toBeLessThan((1 + Math.sqrt(q)) ** 2 * 1.08);
    expect(s.eigenvalues[k - 1]).toBeGreaterThan((1 - Math.sqrt(q)) ** 2 * 0.9);
    expect(s.hill.tailSize).toBe(10);
    expect(s.hill.alpha).toBeGreaterThan(8);
    expect(s.stableRank).toBeGreaterThan(k / (1 + Math.sqrt(q)) ** 2 / 1.1);
    expect(s.spectralEntropy).toBeGreaterThan(0.98);
    expect(s.zeroEigenvalues).toBe(0);
  });

  it('planted power-law spectrum: Hill α near ζ and far below the Gaussian one', () => {
    const rng = new Rng(35);
    const k = 200;
    const zeta = 2;
    const s = Array.from({ length: k }, (_, j) => Math.pow((j + 1) / k, -1 / zeta)); // Pareto quantiles
    const heavy = weightSpectrum(plantedSpectrum(rng, s, 4000), k, 4000);
    expect(heavy.hill.alpha).toBeGreaterThan(0.75 * zeta);
    expect(heavy.hill.alpha).toBeLessThan(1.3 * zeta);
    const gauss = weightSpectrum(gaussianMatrix(rng, k, 4000), k, 4000);
    expect(gauss.hill.alpha).toBeGreaterThan(4 * heavy.hill.alpha);
    expect(heavy.stableRank).toBeLessThan(gauss.stableRank / 3);
    expect(heavy.powerLaw.alpha).toBeGreaterThan(2);
    expect(heavy.powerLaw.alpha).toBeLessThan(4.5);
  });

  it('constant rows and d < k give zero eigenvalues and notes', () => {
    const rng = new Rng(36);
    const W = gaussianMatrix(rng, 12, 8);
    W.fill(0.5, 3 * 8, 4 * 8);
    const s = weightSpectrum(W, 12, 8);
    expect(s.constantRows).toEqual([3]);
    expect(s.zeroEigenvalues).toBeGreaterThanOrEqual(4);
    expect(s.notes.join(' ')).toMatch(/constant row/);
    expect(s.notes.join(' ')).toMatch(/d = 8 < k = 12/);
  });

  it('bootstrap over neurons: deterministic for a seed, ordered intervals', () => {
    const rng = new Rng(37);
    const W = gaussianMatrix(rng, 40, 400);
    const a = bootstrapSpectrum(W, 40, 400, { replicates: 50, seed: 4 });
    const b = bootstrapSpectrum(W, 40, 400, { replicates: 50, seed: 4 });
    expect(b).toEqual(a);
    for (const iv of [a.hillAlpha, a.powerLawAlpha, a.stableRank, a.spectralEntropy]) {
      expect(iv.low).toBeLessThanOrEqual(iv.high);
      expect(iv.n).toBe(50);
    }
    expect(a.notes[0]).toMatch(/4 of 40/);
    const c = bootstrapSpectrum(W, 40, 400, { replicates: 50, seed: 5 });
    expect(c.stableRank).not.toEqual(a.stableRank);
  });
});
