/**
 * Three regimes of the neuron-influence curve (shared/docs/rare-token-analysis.md,
 * "Three regimes"): plateau, power law, rapid decay, fitted robustly in log-log
 * space, with bootstrap confidence intervals over positions.
 *
 * Data: influences I (boost neurons), sorted descending (done here), rank
 * k = 1 … N, x = log k, y = log I. Non-positive or non-finite influences are
 * dropped before fitting (reported as `nDropped`); N counts the rest.
 *
 * Model for boundaries 2 ≤ r1 < r2 ≤ N (each regime ≥ 1 point):
 *   plateau    k <  r1:       y = a1 + b1·x
 *   power law  r1 ≤ k < r2:   y = a2 + b2·x        α = −b2
 *   decay      k ≥ r2:        y = a3 + δ·z(x),     z(x) = log(log(N + 1) − x)
 * The spec's log(log N − x) is −∞ at k = N; we use N + 1 as the vanishing
 * point, so z is finite at every rank (z(log N) = log log(1 + 1/N) ≈ −log N)
 * and the piece still plunges at the end of the curve.
 *
 * Objective (minimised over (r1, r2)):
 *   Σ_k Huber_τ(y_k − ŷ_k) + λ_c·[(ŷ1(x_r1) − ŷ2(x_r1))² + (ŷ2(x_r2) − ŷ3(x_r2))²] + λ_δ·δ²
 * Huber_τ(r) = r²/2 for |r| ≤ τ, τ(|r| − τ/2) otherwise; τ = 1, λ_c = 1,
 * λ_δ = 0.1. For fixed boundaries each piece is ordinary least squares (a
 * one-point piece gets slope 0), computed from prefix sums (pieces shorter
 * than 32 points are summed directly, which is exact and avoids cancellation).
 *
 * Search: every pair of a log-spaced grid of candidate ranks (default 64
 * values, all small ranks included), then the best few cells are refined by
 * nested grids down to single ranks and a final local coordinate descent.
 * Plateau-only and decay-only costs are cached per boundary, so a pair costs
 * O(r2 − r1). Deterministic; about 10^7 operations for N = 10240.
 *
 * Plateau excess: signed area between the plateau line and the power law
 * extrapolated over the plateau, ∫ (ŷ1 − ŷ2) dx for x ∈ [0, log(r1 − 1)]
 * (the span of the plateau points; a one-point plateau has excess 0). A
 * plateau "exists" when the excess exceeds `minExcess` (default 0) — in a
 * bootstrap, additionally when the percentile CI of the excess excludes 0.
 *
 * Manual / fixed plateau sizes (k = 30, 35, 50, or 10/50/100): r1 = k + 1 is
 * fixed and only a power law is fitted to ranks > k (`withDecay` adds the
 * decay piece back and searches r2 only). k = 0 means no plateau.
 *
 * On a curve without a plateau (two regimes) the three-piece model is
 * degenerate: the "plateau" line may absorb part of the power law and the
 * short middle piece then gives a meaningless α. Its excess is then ≤ 0, so
 * `plateauExists` is false, and `twoRegime` (always computed in three-piece
 * mode: power law from rank 1 + decay) carries the α to report.
 */

import { Rng } from './random.js';
import { percentileInterval } from './stats.js';

export interface RegimeOptions {
  tau?: number;
  lambdaC?: number;
  lambdaDelta?: number;
  /** Number of log-spaced candidate ranks of the coarse grid (default 64). */
  gridSize?: number;
  /** How many of the best coarse cells are refined (default 4). */
  refineTop?: number;
  /** Manual plateau size k: plateau = ranks 1…k, no search over r1 (0 = no plateau: power law from rank 1). */
  plateauSize?: number;
  /** With `plateauSize`: also fit the decay piece (search r2). Default false: power law up to rank N. */
  withDecay?: boolean;
  /** `plateauExists` requires plateauExcess > minExcess (default 0). */
  minExcess?: number;
}

export interface Line {
  a: number;
  b: number;
}

export interface RegimeFit {
  mode: 'three-piece' | 'fixed-plateau';
  /** Number of ranked neurons fitted, and non-positive influences dropped. */
  n: number;
  nDropped: number;
  /** First rank of the power law and first rank of the decay (r2 = N + 1 when there is no decay piece). */
  r1: number;
  r2: number;
  plateau: Line;
  power: Line;
  /** y = a + delta·log(log(N + 1) − x); null without a decay piece. */
  decay: { a: number; delta: number } | null;
  alpha: number;
  counts: { plateau: number; power: number; decay: number };
  shares: { plateau: number; power: number; decay: number };
  plateauExcess: number;
  plateauExists: boolean;
  loss: number;
  lossParts: { huber: number; continuity: number; deltaPenalty: number };
  options: { tau: number; lambdaC: number; lambdaDelta: number; plateauSize?: number; withDecay?: boolean; minExcess: number };
  /**
   * Three-piece mode only: the two-regime fit (plateauSize 0, power law from
   * rank 1, then decay). When no plateau exists the three-piece plateau line
   * can absorb much of the power law, so read α from here in that case.
   */
  twoRegime?: RegimeFit;
}

const DIRECT_SUM_BELOW = 32;

/** Log-log curve with prefix sums for piecewise least squares. */
class Curve {
  readonly n: number;
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly z: Float64Array;
  private readonly ps: Float64Array[]; // prefix sums: x, y, xx, xy, z, zz, zy

  constructor(y: Float64Array) {
    const n = y.length;
    this.n = n;
    this.y = y;
    this.x = Float64Array.from({ length: n }, (_, i) => Math.log(i + 1));
    const logEnd = Math.log(n + 1);
    this.z = Float64Array.from(this.x, (x) => Math.log(logEnd - x));
    this.ps = Array.from({ length: 7 }, () => new Float64Array(n + 1));
    const [px, py, pxx, pxy, pz, pzz, pzy] = this.ps;
    for (let i = 0; i < n; i++) {
      const x = this.x[i];
      const yy = y[i];
      const z = this.z[i];
      px[i + 1] = px[i] + x;
      py[i + 1] = py[i] + yy;
      pxx[i + 1] = pxx[i] + x * x;
      pxy[i + 1] = pxy[i] + x * yy;
      pz[i + 1] = pz[i] + z;
      pzz[i + 1] = pzz[i] + z * z;
      pzy[i + 1] = pzy[i] + z * yy;
    }
  }

  /** OLS of y on u (u = x or z) over indices [i, j); a single point gets slope 0. */
  fit(i: number, j: number, useZ: boolean): Line {
    const m = j - i;
    if (m === 1) return { a: this.y[i], b: 0 };
    const u = useZ ? this.z : this.x;
    let Su: number;
    let Sy: number;
    let Suu: number;
    let Suy: number;
    if (m < DIRECT_SUM_BELOW) {
      Su = Sy = Suu = Suy = 0;
      for (let k = i; k < j; k++) {
        Su += u[k];
        Sy += this.y[k];
        Suu += u[k] * u[k];
        Suy += u[k] * this.y[k];
      }
    } else {
      const [px, py, pxx, pxy, pz, pzz, pzy] = this.ps;
      const pu = useZ ? pz : px;
      const puu = useZ ? pzz : pxx;
      const puy = useZ ? pzy : pxy;
      Su = pu[j] - pu[i];
      Sy = py[j] - py[i];
      Suu = puu[j] - puu[i];
      Suy = puy[j] - puy[i];
    }
    const den = m * Suu - Su * Su;
    const b = den > 1e-300 ? (m * Suy - Su * Sy) / den : 0;
    return { a: (Sy - b * Su) / m, b };
  }

  /** Σ Huber_τ of residuals of y − (a + b·u) over [i, j). */
  huber(i: number, j: number, line: Line, useZ: boolean, tau: number): number {
    const u = useZ ? this.z : this.x;
    let s = 0;
    for (let k = i; k < j; k++) {
      const r = Math.abs(this.y[k] - line.a - line.b * u[k]);
      s += r <= tau ? 0.5 * r * r : tau * (r - 0.5 * tau);
    }
    return s;
  }
}

interface PieceCost {
  line: Line;
  cost: number;
}

interface Evaluation {
  r1: number;
  r2: number;
  loss: number;
}

/** Objective evaluator with per-boundary caches for the plateau and decay pieces. */
class Objective {
  private readonly plateauCache = new Map<number, PieceCost>();
  private readonly decayCache = new Map<number, PieceCost>();

  constructor(
    readonly c: Curve,
    readonly tau: number,
    readonly lambdaC: number,
    readonly lambdaDelta: number,
  ) {}

  plateau(r1: number): PieceCost {
    if (r1 === 1) return { line: { a: NaN, b: NaN }, cost: 0 }; // no plateau (plateauSize 0)
    let pc = this.plateauCache.get(r1);
    if (!pc) {
      const line = this.c.fit(0, r1 - 1, false);
      pc = { line, cost: this.c.huber(0, r1 - 1, line, false, this.tau) };
      this.plateauCache.set(r1, pc);
    }
    return pc;
  }

  decay(r2: number): PieceCost {
    let pc = this.decayCache.get(r2);
    if (!pc) {
      const line = this.c.fit(r2 - 1, this.c.n, true);
      pc = { line, cost: this.c.huber(r2 - 1, this.c.n, line, true, this.tau) };
      this.decayCache.set(r2, pc);
    }
    return pc;
  }

  /** Full objective and its parts for boundaries (r1, r2); r2 = N + 1 means no decay piece. */
  parts(r1: number, r2: number) {
    const { c, tau } = this;
    const pl = this.plateau(r1);
    const power = c.fit(r1 - 1, r2 - 1, false);
    let huber = pl.cost + c.huber(r1 - 1, r2 - 1, power, false, tau);
    const x1 = c.x[r1 - 1];
    let continuity = r1 === 1 ? 0 : (pl.line.a + pl.line.b * x1 - (power.a + power.b * x1)) ** 2;
    let deltaPenalty = 0;
    let decay: Line | null = null;
    if (r2 <= c.n) {
      const dc = this.decay(r2);
      decay = dc.line;
      huber += dc.cost;
      const x2 = c.x[r2 - 1];
      continuity += (power.a + power.b * x2 - (decay.a + decay.b * c.z[r2 - 1])) ** 2;
      deltaPenalty = this.lambdaDelta * decay.b * decay.b;
    }
    continuity *= this.lambdaC;
    return { plateau: pl.line, power, decay, huber, continuity, deltaPenalty, loss: huber + continuity + deltaPenalty };
  }

  loss(r1: number, r2: number): number {
    return this.parts(r1, r2).loss;
  }
}

/** Sorted unique log-spaced integers in [lo, hi] (count ≈ size; every integer when the range is small). */
function logGrid(lo: number, hi: number, size: number): number[] {
  if (hi < lo) return [];
  const out = new Set<number>();
  const steps = Math.max(1, size - 1);
  for (let i = 0; i <= steps; i++) {
    out.add(Math.round(Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / steps)));
  }
  out.add(lo);
  out.add(hi);
  return [...out].filter((v) => v >= lo && v <= hi).sort((a, b) => a - b);
}

/** Up to `size` evenly spread integers covering [lo, hi] inclusive. */
function spread(lo: number, hi: number, size: number): number[] {
  if (hi - lo + 1 <= size) return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  const out = new Set<number>();
  for (let i = 0; i < size; i++) out.add(Math.round(lo + ((hi - lo) * i) / (size - 1)));
  return [...out].sort((a, b) => a - b);
}

/** Neighbouring values of v in a sorted list (v itself when at an end). */
function neighbours(list: number[], v: number): [number, number] {
  const i = list.indexOf(v);
  return [list[Math.max(0, i - 1)], list[Math.min(list.length - 1, i + 1)]];
}

/** Nested-grid refinement of a 2-D bracket, then local coordinate descent. */
function refine(obj: Objective, start: Evaluation, b1: [number, number], b2: [number, number]): Evaluation {
  const n = obj.c.n;
  let best = start;
  let [lo1, hi1] = b1;
  let [lo2, hi2] = b2;
  for (let level = 0; level < 40; level++) {
    const p1 = spread(lo1, hi1, 9);
    const p2 = spread(lo2, hi2, 9);
    for (const r1 of p1) {
      for (const r2 of p2) {
        if (r1 < 2 || r2 <= r1 || r2 > n) continue;
        const loss = obj.loss(r1, r2);
        if (loss < best.loss) best = { r1, r2, loss };
      }
    }
    const done = p1.length === hi1 - lo1 + 1 && p2.length === hi2 - lo2 + 1;
    if (done) break;
    [lo1, hi1] = p1.includes(best.r1) ? neighbours(p1, best.r1) : [best.r1, best.r1];
    [lo2, hi2] = p2.includes(best.r2) ? neighbours(p2, best.r2) : [best.r2, best.r2];
  }
  return coordinateDescent(obj, best, 3);
}

/** Exhaustive ±w moves of r1 then r2 until neither improves. */
function coordinateDescent(obj: Objective, start: Evaluation, w: number): Evaluation {
  const n = obj.c.n;
  let best = start;
  for (let iter = 0; iter < 100; iter++) {
    let improved = false;
    for (let r1 = Math.max(2, best.r1 - w); r1 <= best.r1 + w && r1 < best.r2; r1++) {
      const loss = obj.loss(r1, best.r2);
      if (loss < best.loss) {
        best = { r1, r2: best.r2, loss };
        improved = true;
      }
    }
    for (let r2 = Math.max(best.r1 + 1, best.r2 - w); r2 <= Math.min(n, best.r2 + w); r2++) {
      const loss = obj.loss(best.r1, r2);
      if (loss < best.loss) {
        best = { r1: best.r1, r2, loss };
        improved = true;
      }
    }
    if (!improved) break;
  }
  return best;
}

/** Global search over (r1, r2): coarse log grid over all pairs, refine the best cells. */
function searchBoundaries(obj: Objective, gridSize: number, refineTop: number): Evaluation {
  const n = obj.c.n;
  const grid = logGrid(2, n, gridSize);
  const evals: Evaluation[] = [];
  for (let i = 0; i < grid.length; i++) {
    for (let j = i + 1; j < grid.length; j++) {
      evals.push({ r1: grid[i], r2: grid[j], loss: obj.loss(grid[i], grid[j]) });
    }
  }
  if (evals.length === 0) return { r1: 2, r2: 3, loss: obj.loss(2, 3) };
  evals.sort((a, b) => a.loss - b.loss);
  let best = evals[0];
  for (const e of evals.slice(0, refineTop)) {
    const r = refine(obj, e, neighbours(grid, e.r1), neighbours(grid, e.r2));
    if (r.loss < best.loss) best = r;
  }
  return best;
}

/** 1-D search of r2 for a fixed r1 (fixed plateau with decay). */
function searchDecayBoundary(obj: Objective, r1: number, gridSize: number): Evaluation {
  const n = obj.c.n;
  const grid = logGrid(r1 + 1, n, gridSize);
  let best: Evaluation = { r1, r2: grid[0], loss: Infinity };
  for (const r2 of grid) {
    const loss = obj.loss(r1, r2);
    if (loss < best.loss) best = { r1, r2, loss };
  }
  let [lo, hi] = neighbours(grid, best.r2);
  for (let level = 0; level < 40; level++) {
    const pts = spread(lo, hi, 9);
    for (const r2 of pts) {
      const loss = obj.loss(r1, r2);
      if (loss < best.loss) best = { r1, r2, loss };
    }
    if (pts.length === hi - lo + 1) break;
    [lo, hi] = neighbours(pts, best.r2);
  }
  return best;
}

/** Influences sorted descending with non-positive / non-finite values removed. */
function prepareCurve(influence: ArrayLike<number>): { y: Float64Array; nDropped: number } {
  const kept = Array.from(influence).filter((v) => Number.isFinite(v) && v > 0);
  kept.sort((a, b) => b - a);
  return { y: Float64Array.from(kept, Math.log), nDropped: influence.length - kept.length };
}

/**
 * Fits the regimes to an influence curve (any order; sorted here).
 * Default: the three-piece robust fit with a global boundary search; with
 * `plateauSize` set, the fixed-plateau variant (see the module comment).
 */
export function fitRegimes(influence: ArrayLike<number>, options: RegimeOptions = {}): RegimeFit {
  const tau = options.tau ?? 1;
  const lambdaC = options.lambdaC ?? 1;
  const lambdaDelta = options.lambdaDelta ?? 0.1;
  const minExcess = options.minExcess ?? 0;
  const { y, nDropped } = prepareCurve(influence);
  const n = y.length;
  const curve = new Curve(y);
  const fixed = options.plateauSize !== undefined;
  const withDecay = fixed ? (options.withDecay ?? false) : true;
  const obj = new Objective(curve, tau, lambdaC, lambdaDelta);
  let best: Evaluation;
  if (fixed) {
    const k = options.plateauSize!;
    const minN = withDecay ? k + 2 : k + 1;
    if (!Number.isInteger(k) || k < 0 || n < minN) {
      throw new Error(`fitRegimes: plateau size ${k} needs a non-negative integer and at least ${minN} positive influences (got ${n})`);
    }
    best = withDecay ? searchDecayBoundary(obj, k + 1, options.gridSize ?? 64) : { r1: k + 1, r2: n + 1, loss: 0 };
  } else {
    if (n < 3) throw new Error(`fitRegimes: the three-piece fit needs at least 3 positive influences (got ${n})`);
    best = searchBoundaries(obj, options.gridSize ?? 64, options.refineTop ?? 4);
  }
  const fit = assembleFit(obj, best.r1, best.r2, nDropped, {
    tau,
    lambdaC,
    lambdaDelta,
    minExcess,
    ...(fixed ? { plateauSize: options.plateauSize, withDecay } : {}),
  });
  if (!fixed && n >= 2) {
    const two = searchDecayBoundary(obj, 1, options.gridSize ?? 64);
    fit.twoRegime = assembleFit(obj, 1, two.r2, nDropped, { tau, lambdaC, lambdaDelta, minExcess, plateauSize: 0, withDecay: true });
  }
  return fit;
}

function assembleFit(obj: Objective, r1: number, r2: number, nDropped: number, options: RegimeFit['options']): RegimeFit {
  const n = obj.c.n;
  const p = obj.parts(r1, r2);
  const counts = { plateau: r1 - 1, power: Math.min(r2, n + 1) - r1, decay: Math.max(0, n - r2 + 1) };
  const plateauExcess = excessArea(p.plateau, p.power, r1);
  return {
    mode: options.plateauSize !== undefined ? 'fixed-plateau' : 'three-piece',
    n,
    nDropped,
    r1,
    r2,
    plateau: p.plateau,
    power: p.power,
    decay: p.decay ? { a: p.decay.a, delta: p.decay.b } : null,
    alpha: -p.power.b,
    counts,
    shares: { plateau: counts.plateau / n, power: counts.power / n, decay: counts.decay / n },
    plateauExcess,
    plateauExists: plateauExcess > options.minExcess,
    loss: p.loss,
    lossParts: { huber: p.huber, continuity: p.continuity, deltaPenalty: p.deltaPenalty },
    options,
  };
}

/** ∫_0^{log(r1−1)} (plateau − power) dx, exact for two lines. */
export function excessArea(plateau: Line, power: Line, r1: number): number {
  if (r1 <= 2) return 0;
  const L = Math.log(Math.max(1, r1 - 1));
  return (plateau.a - power.a) * L + ((plateau.b - power.b) * L * L) / 2;
}

// ---------------------------------------------------------------------------
// Bootstrap over positions

/** The [neurons × positions] |Δℓ| matrix of one token set, plus the neurons to rank. */
export interface InfluenceMatrix {
  /** Row-major [nNeurons × nPositions]; absolute values are taken, so signed Δℓ also works. */
  deltas: Float32Array | Float64Array;
  nNeurons: number;
  nPositions: number;
  /** Neurons to rank (the boost set); default all. */
  neurons?: ArrayLike<number>;
  /** Positions (columns) to use, e.g. the rare positions; default all. */
  positions?: ArrayLike<number>;
}

/** Source of bootstrap curves: a matrix, or a function returning one resampled influence curve. */
export type CurveResampler = (rng: Rng, replicate: number) => ArrayLike<number>;

export interface BootstrapOptions extends RegimeOptions {
  B?: number;
  seed?: number;
  level?: number;
}

export interface RegimeBootstrap {
  fit: RegimeFit;
  B: number;
  seed: number;
  level: number;
  /** Percentile intervals [low, high]. */
  ci: Record<BootstrapStat, [number, number]>;
  /** Per-replicate values, same order for every statistic. */
  replicates: Record<BootstrapStat, Float64Array>;
  /** fit.plateauExcess > minExcess and the CI of the excess lies above 0. */
  plateauExists: boolean;
}

export type BootstrapStat = 'r1' | 'r2' | 'alpha' | 'plateauShare' | 'powerShare' | 'decayShare' | 'plateauExcess';

const STATS: BootstrapStat[] = ['r1', 'r2', 'alpha', 'plateauShare', 'powerShare', 'decayShare', 'plateauExcess'];

/**
 * I_i = mean over the chosen positions of |Δℓ_i(t)| for each neuron of the set,
 * optionally with per-position multiplicities `weights` (a bootstrap resample).
 */
export function influenceFromMatrix(m: InfluenceMatrix, weights?: Float64Array): Float64Array {
  const { deltas, nNeurons, nPositions } = m;
  if (deltas.length !== nNeurons * nPositions) {
    throw new Error(`influenceFromMatrix: ${deltas.length} entries, expected ${nNeurons} × ${nPositions}`);
  }
  const cols = m.positions ? Int32Array.from(m.positions) : Int32Array.from({ length: nPositions }, (_, i) => i);
  const neurons = m.neurons ? Int32Array.from(m.neurons) : Int32Array.from({ length: nNeurons }, (_, i) => i);
  const usedCols: number[] = [];
  const usedW: number[] = [];
  let total = 0;
  for (let j = 0; j < cols.length; j++) {
    const w = weights ? weights[j] : 1;
    if (w === 0) continue;
    usedCols.push(cols[j]);
    usedW.push(w);
    total += w;
  }
  const out = new Float64Array(neurons.length);
  for (let k = 0; k < neurons.length; k++) {
    const base = neurons[k] * nPositions;
    let s = 0;
    for (let j = 0; j < usedCols.length; j++) s += usedW[j] * Math.abs(deltas[base + usedCols[j]]);
    out[k] = total > 0 ? s / total : NaN;
  }
  return out;
}

/** A resampler drawing positions with replacement from the matrix's position set. */
export function matrixResampler(m: InfluenceMatrix): CurveResampler {
  const nCols = m.positions ? m.positions.length : m.nPositions;
  return (rng) => {
    const w = new Float64Array(nCols);
    for (let i = 0; i < nCols; i++) w[rng.int(nCols)]++;
    return influenceFromMatrix(m, w);
  };
}

/**
 * Bootstrap of the regime fit over positions: B resamples (seeded), each
 * recomputing I_i on resampled positions, re-sorting and re-fitting with the
 * same options; percentile CIs for r1, r2, α, the regime shares and the
 * plateau excess. Pass the matrix (the caller's boost set in `neurons`) or
 * any resampling function returning an influence curve; with a function, the
 * point fit uses `pointCurve` (required).
 * Cost: B fits plus B × |neurons| × |positions| for the matrix form.
 */
export function bootstrapRegimes(
  source: InfluenceMatrix | CurveResampler,
  options: BootstrapOptions & { pointCurve?: ArrayLike<number> } = {},
): RegimeBootstrap {
  const B = options.B ?? 200;
  const seed = options.seed ?? 0;
  const level = options.level ?? 0.95;
  const resample = typeof source === 'function' ? source : matrixResampler(source);
  const point = typeof source === 'function' ? options.pointCurve : influenceFromMatrix(source);
  if (!point) throw new Error('bootstrapRegimes: a resampling function needs options.pointCurve for the point estimate');
  const fit = fitRegimes(point, options);
  const rng = new Rng(seed);
  const replicates = Object.fromEntries(STATS.map((s) => [s, new Float64Array(B)])) as Record<BootstrapStat, Float64Array>;
  for (let b = 0; b < B; b++) {
    const f = fitRegimes(resample(rng, b), options);
    const values: Record<BootstrapStat, number> = {
      r1: f.r1,
      r2: f.r2,
      alpha: f.alpha,
      plateauShare: f.shares.plateau,
      powerShare: f.shares.power,
      decayShare: f.shares.decay,
      plateauExcess: f.plateauExcess,
    };
    for (const s of STATS) replicates[s][b] = values[s];
  }
  const ci = Object.fromEntries(STATS.map((s) => [s, percentileInterval(replicates[s], level)])) as Record<
    BootstrapStat,
    [number, number]
  >;
  return { fit, B, seed, level, ci, replicates, plateauExists: fit.plateauExists && ci.plateauExcess[0] > 0 };
}
