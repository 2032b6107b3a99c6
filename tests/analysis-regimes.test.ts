import { describe, expect, it } from 'vitest';

import { Rng } from '../src/analysis/random.js';
import { bootstrapRegimes, excessArea, fitRegimes, influenceFromMatrix } from '../src/analysis/regimes.js';

interface Planted {
  N: number;
  r1: number;
  r2: number;
  alpha: number;
  /** Plateau lies `jump` log-units above the power law at r1, with slope b1. */
  jump?: number;
  b1?: number;
  delta?: number;
  plateau?: boolean;
  noise?: number;
  seed?: number;
}

/**
 * Influence curve (descending by construction) with planted regimes, in the
 * fit's own parametrisation: y = a1 + b1·x (k < r1), −α·x (r1 ≤ k < r2),
 * a3 + δ·log(log(N+1) − x) (k ≥ r2), continuous at r2; optional N(0, σ²) in log space.
 */
function planted(p: Planted): Float64Array {
  const { N, r1, r2, alpha } = p;
  const jump = p.jump ?? 2;
  const b1 = p.b1 ?? -0.3;
  const delta = p.delta ?? 1;
  const rng = new Rng(p.seed ?? 1);
  const logEnd = Math.log(N + 1);
  const x = (k: number) => Math.log(k);
  const z = (k: number) => Math.log(logEnd - x(k));
  const power = (k: number) => -alpha * x(k);
  const a3 = power(r2) - delta * z(r2);
  const a1 = power(r1) + jump - b1 * x(r1);
  return Float64Array.from({ length: N }, (_, i) => {
    const k = i + 1;
    const y = p.plateau !== false && k < r1 ? a1 + b1 * x(k) : k < r2 ? power(k) : a3 + delta * z(k);
    return Math.exp(y + (p.noise ?? 0) * rng.normal());
  });
}

/**
 * [neurons × positions] signed Δℓ whose per-neuron expected |Δℓ| is I_i
 * (magnitudes I_i·U(0.5, 1.5), random signs, shuffled neuron order). Noisier
 * magnitudes make the sorted curve steeper than the truth (order-statistic
 * bias), which a percentile bootstrap does not remove.
 */
function deltaMatrix(I: Float64Array, P: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const N = I.length;
  const perm = rng.shuffle(Array.from({ length: N }, (_, i) => i));
  const d = new Float32Array(N * P);
  for (let i = 0; i < N; i++) {
    for (let t = 0; t < P; t++) d[perm[i] * P + t] = I[i] * (0.5 + rng.uniform()) * (rng.uniform() < 0.5 ? -1 : 1);
  }
  return d;
}

describe('three-piece fit on planted curves', () => {
  it('recovers r1, r2, α and the decay exactly without noise', () => {
    const f = fitRegimes(planted({ N: 3072, r1: 30, r2: 2500, alpha: 1.2 }));
    expect(f.mode).toBe('three-piece');
    expect(f.r1).toBe(30);
    expect(Math.abs(f.r2 - 2500)).toBeLessThanOrEqual(2);
    expect(f.alpha).toBeCloseTo(1.2, 6);
    expect(f.plateau.b).toBeCloseTo(-0.3, 6);
    expect(f.decay!.delta).toBeCloseTo(1, 3);
    expect(f.counts).toEqual({ plateau: 29, power: f.r2 - 30, decay: 3072 - f.r2 + 1 });
    expect(f.shares.plateau + f.shares.power + f.shares.decay).toBeCloseTo(1, 12);
    expect(f.plateauExists).toBe(true);
    expect(f.plateauExcess).toBeGreaterThan(1);
    // the loss is the jump's continuity penalty (2² at λ_c = 1) plus λ_δ·δ²
    expect(f.lossParts.huber).toBeLessThan(1e-9);
    expect(f.lossParts.continuity).toBeCloseTo(4, 6);
    expect(f.lossParts.deltaPenalty).toBeCloseTo(0.1, 3);
  });

  it('recovers the regimes with noise (several seeds and sizes)', () => {
    const cases: Planted[] = [
      { N: 3072, r1: 30, r2: 2500, alpha: 1.0, noise: 0.1, seed: 1 },
      { N: 2048, r1: 20, r2: 1500, alpha: 0.8, noise: 0.15, seed: 2 },
      { N: 4096, r1: 50, r2: 3500, alpha: 1.5, b1: -1, noise: 0.1, seed: 3 }, // steep α: the plateau must be steeper to lie above it
      { N: 6400, r1: 35, r2: 5000, alpha: 1.1, noise: 0.05, seed: 4 },
    ];
    for (const c of cases) {
      const f = fitRegimes(planted(c));
      expect(Math.abs(f.r1 - c.r1), `r1 ${JSON.stringify(c)}`).toBeLessThanOrEqual(3);
      expect(Math.abs(f.r2 - c.r2) / c.r2, `r2 ${f.r2}`).toBeLessThan(0.02);
      expect(Math.abs(f.alpha - c.alpha), `alpha ${f.alpha}`).toBeLessThan(0.05);
      expect(f.plateauExists).toBe(true);
    }
  });

  it('is fast enough for N = 10240 and still accurate', () => {
    const t0 = performance.now();
    const f = fitRegimes(planted({ N: 10240, r1: 50, r2: 8000, alpha: 1.0, noise: 0.1, seed: 9 }));
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(3000);
    expect(Math.abs(f.r1 - 50)).toBeLessThanOrEqual(3);
    expect(Math.abs(f.r2 - 8000)).toBeLessThan(160);
    expect(Math.abs(f.alpha - 1)).toBeLessThan(0.05);
  });

  it('finds the same optimum as an exhaustive search over all (r1, r2)', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const rng = new Rng(seed);
      const N = 120 + rng.int(80);
      const I = Float64Array.from({ length: N }, (_, i) => Math.exp(-0.8 * Math.log(i + 1) + 0.5 * rng.normal() + (i < 5 ? 1.5 : 0)));
      const fast = fitRegimes(I);
      const exhaustive = fitRegimes(I, { gridSize: 1e6, refineTop: 1 }); // the grid then holds every rank
      expect(fast.loss).toBeCloseTo(exhaustive.loss, 10);
    }
  });

  it('handles the last rank (finite decay term), unsorted input and non-positive influences', () => {
    const I = planted({ N: 500, r1: 10, r2: 400, alpha: 1 });
    const shuffled = new Rng(2).shuffle(Array.from(I));
    const f = fitRegimes([...shuffled, 0, -1, NaN]);
    expect(f.nDropped).toBe(3);
    expect(f.n).toBe(500);
    // with a 9-point plateau, moving rank 10 into it trades Huber cost for a smaller continuity penalty
    expect(Math.abs(f.r1 - 10)).toBeLessThanOrEqual(1);
    expect(Number.isFinite(f.loss)).toBe(true);
    // a decay piece made of the last rank only is finite too
    const tiny = fitRegimes([8, 4, 2, 1]);
    expect(Number.isFinite(tiny.loss)).toBe(true);
    expect(tiny.r1).toBeGreaterThanOrEqual(2);
    expect(tiny.r2).toBeLessThanOrEqual(4);
    expect(() => fitRegimes([1, 2])).toThrow(/at least 3 positive influences/);
  });
});

describe('curves without a plateau', () => {
  it('noiseless and noisy two-regime curves: plateauExists false, twoRegime carries α', () => {
    for (const [noise, seed] of [
      [0, 1],
      [0.1, 1],
      [0.1, 2],
      [0.1, 3],
    ]) {
      const f = fitRegimes(planted({ N: 3072, r1: 30, r2: 2500, alpha: 1.0, plateau: false, noise, seed }));
      expect(f.plateauExists, `noise ${noise} seed ${seed}`).toBe(false);
      expect(f.plateauExcess).toBeLessThanOrEqual(1e-9);
      expect(f.twoRegime!.r1).toBe(1);
      expect(f.twoRegime!.counts.plateau).toBe(0);
      expect(Math.abs(f.twoRegime!.alpha - 1)).toBeLessThan(0.05);
      expect(Math.abs(f.twoRegime!.r2 - 2500)).toBeLessThan(50);
    }
  });

  it('plateau excess is the signed area between the plateau line and the extrapolated power law', () => {
    // plateau 1 above a parallel power law over x ∈ [0, log 9]
    expect(excessArea({ a: 1, b: -1 }, { a: 0, b: -1 }, 10)).toBeCloseTo(Math.log(9), 14);
    // a flat plateau below an extrapolated steep power law is negative
    expect(excessArea({ a: -1, b: 0 }, { a: 0, b: -0.1 }, 10)).toBeLessThan(0);
    expect(excessArea({ a: 5, b: 0 }, { a: 0, b: -1 }, 2)).toBe(0); // a one-point plateau spans no area
  });
});

describe('fixed plateau sizes', () => {
  const I = planted({ N: 3072, r1: 30, r2: 2500, alpha: 1.0, noise: 0.05, seed: 5 });

  it('fits only a power law after plateaus of 10, 50 and 100', () => {
    for (const k of [10, 50, 100]) {
      const f = fitRegimes(I, { plateauSize: k });
      expect(f.mode).toBe('fixed-plateau');
      expect(f.r1).toBe(k + 1);
      expect(f.r2).toBe(3073);
      expect(f.decay).toBeNull();
      expect(f.counts).toEqual({ plateau: k, power: 3072 - k, decay: 0 });
      expect(f.alpha).toBeGreaterThan(1); // the decay region steepens a single power law
    }
  });

  it('manual size with the decay piece, and size 0', () => {
    const f = fitRegimes(I, { plateauSize: 29, withDecay: true });
    expect(f.r1).toBe(30);
    expect(Math.abs(f.r2 - 2500)).toBeLessThan(50);
    expect(Math.abs(f.alpha - 1)).toBeLessThan(0.02);
    expect(f.plateauExists).toBe(true);
    const none = fitRegimes(I, { plateauSize: 0, withDecay: true });
    expect(none.counts.plateau).toBe(0);
    expect(none.plateauExcess).toBe(0);
    expect(none.plateauExists).toBe(false);
    expect(() => fitRegimes([3, 2, 1], { plateauSize: 3 })).toThrow(/plateau size 3/);
  });
});

describe('bootstrap over positions', () => {
  const N = 800;
  const P = 400;

  it('influenceFromMatrix averages |Δℓ| over positions, with neuron and position subsets', () => {
    const deltas = new Float32Array([1, -3, 2, 0, -4, 4]); // 2 neurons × 3 positions
    expect(Array.from(influenceFromMatrix({ deltas, nNeurons: 2, nPositions: 3 }))).toEqual([2, 8 / 3]);
    expect(Array.from(influenceFromMatrix({ deltas, nNeurons: 2, nPositions: 3, neurons: [1], positions: [1, 2] }))).toEqual([4]);
    expect(Array.from(influenceFromMatrix({ deltas, nNeurons: 2, nPositions: 3 }, Float64Array.from([2, 0, 1])))).toEqual([4 / 3, 4 / 3]);
  });

  it('CIs contain the planted r1, α and plateau share; plateauExists', () => {
    const truth = { N, r1: 25, r2: 650, alpha: 1.0 };
    const deltas = deltaMatrix(planted(truth), P, 5);
    const res = bootstrapRegimes({ deltas, nNeurons: N, nPositions: P }, { B: 40, seed: 1 });
    expect(res.fit.r1).toBe(25);
    expect(res.ci.r1[0]).toBeLessThanOrEqual(25);
    expect(res.ci.r1[1]).toBeGreaterThanOrEqual(25);
    expect(res.ci.alpha[0]).toBeLessThanOrEqual(1);
    expect(res.ci.alpha[1]).toBeGreaterThanOrEqual(1);
    expect(res.ci.plateauShare[0]).toBeLessThanOrEqual(24 / N);
    expect(res.ci.plateauShare[1]).toBeGreaterThanOrEqual(24 / N);
    // λ_δ·δ² nudges r2 by a few ranks on noisy data
    expect(Math.abs(res.ci.r2[0] - 650)).toBeLessThan(15);
    expect(Math.abs(res.ci.r2[1] - 650)).toBeLessThan(15);
    expect(res.ci.plateauExcess[0]).toBeGreaterThan(0);
    expect(res.plateauExists).toBe(true);
    expect(res.replicates.alpha.length).toBe(40);
    // deterministic per seed
    const again = bootstrapRegimes({ deltas, nNeurons: N, nPositions: P }, { B: 40, seed: 1 });
    expect(Array.from(again.replicates.r2)).toEqual(Array.from(res.replicates.r2));
  });

  it('no plateau in a two-regime matrix; boost-neuron subset and position subset are honoured', () => {
    const I = planted({ N, r1: 25, r2: 650, alpha: 1.0, plateau: false });
    const deltas = deltaMatrix(I, P, 6);
    const res = bootstrapRegimes({ deltas, nNeurons: N, nPositions: P }, { B: 30, seed: 2 });
    expect(res.plateauExists).toBe(false);
    const sub = bootstrapRegimes(
      { deltas, nNeurons: N, nPositions: P, neurons: Array.from({ length: 400 }, (_, i) => 2 * i), positions: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
      { B: 5, seed: 3 },
    );
    expect(sub.fit.n).toBe(400);
  });

  it('accepts a resampling function', () => {
    const I = planted({ N: 400, r1: 15, r2: 330, alpha: 1.2 });
    const res = bootstrapRegimes((rng) => I.map((v) => v * Math.exp(0.02 * rng.normal())), { B: 20, seed: 4, pointCurve: I });
    expect(res.fit.r1).toBe(15);
    expect(res.ci.alpha[0]).toBeLessThanOrEqual(1.2);
    expect(res.ci.alpha[1]).toBeGreaterThanOrEqual(1.2);
    expect(() => bootstrapRegimes(() => I, { B: 2 })).toThrow(/pointCurve/);
  });
});
