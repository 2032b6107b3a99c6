// The stream-K matmul variants' grid size: how many 128 × bn tiles of the vec4-128 shader the
// adapter runs at once. WebGPU does not report SM counts or occupancy, so it is measured: n tiles of
// equal work take one "wave" while n fits the GPU and about two once it does not.
//
// The probe's product keeps the tiles compute-bound and its buffers tiny: M = 128 rows, N = n·bn
// columns, K = probe depth; X rows and W columns all alias one K-vector (ldX = 0, W [N, K] with
// sN = 0) and every row of Y is written over one row (ldY = 0). The values are meaningless, the
// timing is that of n full tiles.
import type { Kernels } from './kernels.js';
import { streamKCacheKey } from './kernels.js';
import { saveCachedChoice, timeRuns, type TimeOptions } from './autotune.js';

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
  /** A count is "one wave" while its time stays under this factor of one tile's (default 1.5). */
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
      const sorted = [...t.samples].sort((a, b) => a - b);
      points.push({ tiles, medianMs: sorted[sorted.length >> 1] });
      timer = t.timer;
    }
  } finally {
    for (const b of [x, w, y]) b.destroy();
  }
  return { points, timer };
}

/**
 * The largest tile count that runs in about the time of one tile: doubling from 1 until the time
 * passes `threshold` × one tile's, then bisecting between the last count under it and the first
 * over it.
 */
export async function probeStreamKGrid(kernels: Kernels, bn: 128 | 64, options: ProbeOptions = {}): Promise<StreamKProbe> {
  const maxTiles = options.maxTiles ?? 1024;
  const threshold = options.threshold ?? 1.5;
  const points: ConcurrencyPoint[] = [];
  let timer = '';
  const time = async (n: number) => {
    const r = await tileConcurrencyCurve(kernels, bn, [n], options);
    points.push(...r.points);
    timer = r.timer;
    return r.points[0].medianMs;
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
  return { bn, grid: lo, points, timer };
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
