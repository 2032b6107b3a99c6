// The stream-K matmul variants' grid size: how many 128 × bn tiles of the vec4-128 shader the
// adapter runs at once. WebGPU does not report SM counts or occupancy, so it is measured: n tiles of
// equal work take one "wave" while n fits the GPU and about two once it does not.
//
// The probe's product keeps the tiles compute-bound and its buffers tiny: M = 128 rows, N = n·bn
// columns, K = probe depth; X rows and W columns all alias one K-vector (ldX = 0, W [N, K] with
// sN = 0) and every row of Y is written over one row (ldY = 0). The values are meaningless, the
// timing is that of n full tiles.
import type { Kernels } from './kernels.js';
import { STREAM_K_MAX_GRID, streamKCacheKey } from './kernels.js';
import { median, saveCachedChoice, timeRuns, type TimeOptions } from './autotune.js';

export interface ConcurrencyPoint {
  tiles: number;
  medianMs: number;
}

export interface StreamKProbe {
  bn: 128 | 64;
  /** Tiles that run at once: the stream-K grid. */
  grid: number;
  /** The timings the search took, in the order taken. */
  points: ConcurrencyPoint[];
  timer: string;
}

export interface ProbeOptions extends TimeOptions {
  /** K of the probe's tiles (default 2048: ≈ 0.1–0.5 ms per wave on a big GPU). */
  depth?: number;
  /** Largest count searched (default STREAM_K_MAX_GRID of kernels.ts, 1024). */
  maxTiles?: number;
  /** Counts run "side by side, one per SM" while their time stays under this factor of one tile's (default 1.25). */
  threshold?: number;
}

/** Median milliseconds of n data-parallel tiles of 128 × bn (the twin of the stream-K variant) for each n. */
export async function tileConcurrencyCurve(kernels: Kernels, bn: 128 | 64, counts: number[], options: ProbeOptions = {}): Promise<{ points: ConcurrencyPoint[]; timer: string }> {
  const gpu = kernels.gpu;
  const K = options.depth ?? 2048;
  const maxN = Math.max(...counts) * bn;
  const x = gpu.createBuffer('probe-x', K * 4);
  const w = gpu.createBuffer('probe-w', K * 4);
  const y = gpu.createBuffer('probe-y', maxN * 4);
  const variant = bn === 128 ? 'vec4-128' : 'vec4-128x64';
  const points: ConcurrencyPoint[] = [];
  let timer = '';
  try {
    for (const tiles of counts) {
      const args = { x, w, wDtype: 'f32' as const, y, M: 128, N: tiles * bn, K, sK: 1, sN: 0, ldX: 0, ldY: 0 };
      if (kernels.matmulVariantFor(args, variant) !== variant) throw new Error(`stream-K probe: ${variant} cannot run its probe product`);
      const t = await timeRuns(gpu, () => kernels.matmul(args, variant), { warmup: options.warmup ?? 1, repeats: options.repeats ?? 3, timer: options.timer });
      points.push({ tiles, medianMs: median(t.samples) });
      timer = t.timer;
    }
  } finally {
    for (const b of [x, w, y]) b.destroy();
  }
  return { points, timer };
}

/**
 * The stream-K grid: first the largest count that runs in about the time of one tile (`threshold`
 * × its time; doubling from 1, then bisecting): on a GPU, one workgroup per SM (H100: 132). SMs
 * then take further workgroups side by side, each sharing the SM, until their occupancy is full;
 * so the grid is the multiple k·s (k = 1..4) of that count s with the most tiles per millisecond,
 * the smallest one within 5 % of the best (H100: 264 for 128 × 128 tiles, 2 per SM; 396 for
 * 128 × 64, 3 per SM; measured in bench/results/2026-11-26-h100-streamk-*).
 */
export async function probeStreamKGrid(kernels: Kernels, bn: 128 | 64, options: ProbeOptions = {}): Promise<StreamKProbe> {
  const points: ConcurrencyPoint[] = [];
  let timer = '';
  const grid = await chooseStreamKGrid(async (n) => {
    const r = await tileConcurrencyCurve(kernels, bn, [n], options);
    points.push(...r.points);
    timer = r.timer;
    return r.points[0].medianMs;
  }, options);
  return { bn, grid, points, timer };
}

/** probeStreamKGrid's search over a timer of n tiles (each count timed once). */
export async function chooseStreamKGrid(timeTiles: (n: number) => Promise<number>, options: Pick<ProbeOptions, 'maxTiles' | 'threshold'> = {}): Promise<number> {
  const maxTiles = options.maxTiles ?? STREAM_K_MAX_GRID;
  const threshold = options.threshold ?? 1.25;
  const measured = new Map<number, number>();
  const time = async (n: number) => {
    if (!measured.has(n)) measured.set(n, await timeTiles(n));
    return measured.get(n)!;
  };
  const limit = threshold * (await time(1));
  let lo = 1;
  let hi = 0; // first count found over the limit, 0 while none
  while (lo < maxTiles) {
    const n = Math.min(2 * lo, maxTiles);
    if ((await time(n)) > limit) {
      hi = n;
      break;
    }
    lo = n;
  }
  while (hi && hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((await time(mid)) > limit) hi = mid;
    else lo = mid;
  }
  const rates = [];
  for (const n of [1, 2, 3, 4].map((k) => k * lo).filter((c) => c <= maxTiles)) rates.push({ n, perMs: n / (await time(n)) });
  const best = Math.max(...rates.map((r) => r.perMs));
  return rates.find((r) => r.perMs >= 0.95 * best)!.n;
}

/** Probes both tile widths and records the grids in the autotune cache for this adapter; returns the probes. */
export async function tuneStreamKGrids(kernels: Kernels, options: ProbeOptions = {}): Promise<StreamKProbe[]> {
  const probes: StreamKProbe[] = [];
  for (const bn of [128, 64] as const) {
    const probe = await probeStreamKGrid(kernels, bn, options);
    saveCachedChoice(kernels.gpu, streamKCacheKey(bn), String(probe.grid), probe.grid);
    probes.push(probe);
  }
  kernels.reloadAutotune();
  return probes;
}
