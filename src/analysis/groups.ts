// Random baseline groups (rare-token-analysis.md, sections Activation geometry and Graph
// clustering): >= 100 random groups of the same size as the observed group, drawn from "the other
// neurons" (every neuron of the layer not in the excluded groups), each group without replacement
// (groups may overlap each other), with our seeded PRNG. compareToRandom turns an observed
// statistic and its random-group values into an empirical p-value and a z-score.

import { Rng } from './random.js';
import { empiricalPValue, empiricalPValueLessOrEqual, mean, sd, zScore } from './stats.js';

export const MIN_RANDOM_GROUPS = 100;

export interface RandomGroupOptions {
  /** Number of groups (default 100; fewer is refused). */
  count?: number;
  seed?: number;
}

export interface RandomComparison {
  observed: number;
  /** Random values used (finite ones). */
  n: number;
  randomMean: number;
  randomSd: number;
  /** (1 + #{random >= observed}) / (1 + n). */
  pGreater: number;
  /** (1 + #{random <= observed}) / (1 + n). */
  pLess: number;
  /** (observed − mean) / sd (sample sd); ±Infinity when sd = 0 and observed differs, NaN when n < 2. */
  z: number;
}

/** Neuron indices 0 … total-1 not in any of the excluded groups, ascending. */
export function otherNeurons(total: number, ...exclude: ReadonlyArray<ArrayLike<number>>): number[] {
  const out = new Uint8Array(total);
  for (const g of exclude) for (let i = 0; i < g.length; i++) if (g[i] >= 0 && g[i] < total) out[g[i]] = 1;
  const pool: number[] = [];
  for (let i = 0; i < total; i++) if (!out[i]) pool.push(i);
  return pool;
}

/** `count` groups of `size` distinct neurons each, drawn from `pool` (seeded). */
export function randomGroups(pool: readonly number[], size: number, options: RandomGroupOptions = {}): number[][] {
  const count = options.count ?? MIN_RANDOM_GROUPS;
  if (count < MIN_RANDOM_GROUPS) throw new Error(`randomGroups: at least ${MIN_RANDOM_GROUPS} groups, got ${count}`);
  if (size > pool.length) throw new Error(`randomGroups: group size ${size} exceeds the pool of ${pool.length} neurons`);
  const rng = new Rng(options.seed ?? 0);
  const groups: number[][] = [];
  for (let g = 0; g < count; g++) groups.push(rng.sample(size, pool.length).map((i) => pool[i]));
  return groups;
}

/** Empirical one-sided p-values and z-score of `observed` against random-group values (non-finite dropped). */
export function compareToRandom(observed: number, randomValues: ArrayLike<number>): RandomComparison {
  const vals = Float64Array.from(randomValues).filter((v) => Number.isFinite(v));
  return {
    observed,
    n: vals.length,
    randomMean: mean(vals),
    randomSd: sd(vals),
    pGreater: empiricalPValue(observed, vals),
    pLess: empiricalPValueLessOrEqual(observed, vals),
    z: zScore(observed, vals),
  };
}

/** Evaluate `statistic` on the observed group and on each random group, then compare. */
export function compareGroupToRandom(observedGroup: readonly number[], random: readonly (readonly number[])[], statistic: (group: readonly number[]) => number): RandomComparison & { randomValues: number[] } {
  const randomValues = random.map((g) => statistic(g));
  return { ...compareToRandom(statistic(observedGroup), randomValues), randomValues };
}

/** Columns `group` of a row-major matrix [rows × cols] as a new Float32Array [rows × group.length]. */
export function selectColumns(A: ArrayLike<number>, rows: number, cols: number, group: readonly number[]): Float32Array {
  const k = group.length;
  const out = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) out[r * k + j] = A[r * cols + group[j]];
  return out;
}

/** Rows `group` of a row-major matrix [rows × cols] (e.g. neurons' weight vectors) as a Float32Array. */
export function selectRows(W: ArrayLike<number>, cols: number, group: readonly number[]): Float32Array {
  const out = new Float32Array(group.length * cols);
  group.forEach((row, j) => {
    for (let c = 0; c < cols; c++) out[j * cols + c] = W[row * cols + c];
  });
  return out;
}
