// Matmul autotuning: time every variant on the current adapter for given shapes, keep the fastest
// per (adapter, shape) in a JSON cache, and let Kernels.matmul pick from it. The same cache holds
// other per-adapter choices (cachedChoice: the closed form's pair-loop variant).
//
// Cache: Node: $PLATEAU_AUTOTUNE_CACHE or ~/.cache/plateau/autotune.json (read once per process,
// written atomically); elsewhere (browser): in memory only. Key: adapter description, then
// "K×N:dtype:layout", then M; a lookup for another M uses the nearest tuned M (log scale).
// Overrides: PLATEAU_MATMUL=<variant> forces one variant everywhere (as does the Kernels option
// `matmul`); PLATEAU_AUTOTUNE=off ignores the cache.
//
// This module imports Kernels only as a type: kernels.ts imports the chooser from here.
import type { Gpu } from './device.js';
import type { Kernels, MatmulVariant } from './kernels.js';
import type { StorageDType } from './tensor.js';
import { Profiler } from './profiler.js';
import { envChoice, envVar } from './env.js';

export type MatmulLayout = 'kn' | 'nk';

export interface MatmulShape {
  M: number;
  N: number;
  K: number;
  dtype: StorageDType;
  /** 'kn': W stored [K, N] (GPT-2 Conv1D); 'nk': [N, K] (Linear, unembedding). Default 'kn'. */
  layout?: MatmulLayout;
}

export interface MatmulChooser {
  choose(M: number, N: number, K: number, dtype: StorageDType, layout: MatmulLayout): MatmulVariant | undefined;
}

export interface VariantTiming {
  variant: MatmulVariant;
  /** The variant that actually ran (vec4 variants fall back on unaligned shapes). */
  ran: MatmulVariant;
  medianMs: number;
  minMs: number;
  gflops: number;
  samplesMs: number[];
  timer: 'gpu-timestamps' | 'cpu-sync';
}

export interface TuneResult {
  shape: Required<MatmulShape>;
  best: MatmulVariant;
  timings: VariantTiming[];
}

interface CacheEntry {
  variant: string;
  gflops: number;
  at: string;
}

interface CacheFile {
  version: 1;
  adapters: Record<string, Record<string, Record<string, CacheEntry>>>;
}

const CACHE_VERSION = 1;
// Kept in step with kernels.ts MATMUL_VARIANTS (not imported: kernels.ts imports this module).
const KNOWN_VARIANTS = ['register', 'shared', 'register-8x8', 'vec4', 'vec4-8x8', 'vec4-128', 'vec4-128x64', 'vec4-128-sk', 'vec4-128x64-sk', 'naive'];


type NodeFs = typeof import('node:fs');
type NodePath = typeof import('node:path');
type NodeOs = typeof import('node:os');

/** node:fs/path/os loaded synchronously in Node (process.getBuiltinModule, Node ≥ 20.16), null elsewhere. */
function nodeModules(): { fs: NodeFs; path: NodePath; os: NodeOs } | null {
  const get = typeof process !== 'undefined' ? (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule : undefined;
  if (typeof get !== 'function') return null;
  return { fs: get('node:fs') as NodeFs, path: get('node:path') as NodePath, os: get('node:os') as NodeOs };
}

/** The variant forced by PLATEAU_MATMUL, if any. */
export function forcedMatmulVariant(): MatmulVariant | undefined {
  return envChoice('PLATEAU_MATMUL', KNOWN_VARIANTS as readonly MatmulVariant[], 'unknown matmul variant');
}

/** Where the cache lives in Node ($PLATEAU_AUTOTUNE_CACHE or ~/.cache/plateau/autotune.json); null outside Node. */
export function autotuneCachePath(): string | null {
  const explicit = envVar('PLATEAU_AUTOTUNE_CACHE');
  if (explicit) return explicit;
  const node = nodeModules();
  if (!node) return null;
  const base = envVar('XDG_CACHE_HOME') || node.path.join(node.os.homedir(), '.cache');
  return node.path.join(base, 'plateau', 'autotune.json');
}

export function adapterKey(gpu: Gpu): string {
  return gpu.describe();
}

export function shapeKey(N: number, K: number, dtype: StorageDType, layout: MatmulLayout): string {
  return `${K}x${N}:${dtype}:${layout}`;
}

let memory: CacheFile | null = null;
let memoryPath: string | null | undefined;

function emptyCache(): CacheFile {
  return { version: CACHE_VERSION, adapters: {} };
}

/** The cache (from disk in Node, read once per path; in memory elsewhere). A broken file reads as empty. */
export function readAutotuneCache(): CacheFile {
  const file = autotuneCachePath();
  if (memory && memoryPath === file) return memory;
  memory = emptyCache();
  memoryPath = file;
  const node = nodeModules();
  if (file && node?.fs.existsSync(file)) {
    try {
      const parsed = JSON.parse(node.fs.readFileSync(file, 'utf8')) as CacheFile;
      if (parsed?.version === CACHE_VERSION && parsed.adapters && typeof parsed.adapters === 'object') memory = parsed;
    } catch {
      // unreadable: start afresh, it is rewritten on the next save
    }
  }
  return memory;
}

function saveAutotuneCache(cache: CacheFile): void {
  memory = cache;
  const file = autotuneCachePath();
  memoryPath = file;
  const node = nodeModules();
  if (!file || !node) return;
  node.fs.mkdirSync(node.path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  node.fs.writeFileSync(tmp, JSON.stringify(cache, null, 1) + '\n');
  node.fs.renameSync(tmp, file);
}

/** Forgets the in-memory copy (tests; another process wrote the file). */
export function clearAutotuneMemory(): void {
  memory = null;
  memoryPath = undefined;
}

/** Whether PLATEAU_AUTOTUNE turns the cache off. */
export function autotuneDisabled(): boolean {
  return /^(off|0|false|no)$/i.test(envVar('PLATEAU_AUTOTUNE') ?? '');
}

/**
 * A tuned choice other than the matmul's, for this adapter: e.g. key 'closed-form-pair' → the pair
 * loop variant. Undefined when absent or PLATEAU_AUTOTUNE=off.
 */
export function cachedChoice(gpu: Gpu, key: string): string | undefined {
  if (autotuneDisabled()) return undefined;
  return readAutotuneCache().adapters[adapterKey(gpu)]?.[key]?.all?.variant;
}

/** Records such a choice (with a figure of merit, higher = better) for this adapter. */
export function saveCachedChoice(gpu: Gpu, key: string, variant: string, merit: number): void {
  const cache = readAutotuneCache();
  const entries = (cache.adapters[adapterKey(gpu)] ??= {});
  entries[key] = { all: { variant, gflops: Number(merit.toFixed(3)), at: new Date().toISOString() } };
  saveAutotuneCache(cache);
}

/** Per-shape choices for this adapter from the cache, or null when it has none (or PLATEAU_AUTOTUNE=off). */
export function autotuneChooser(gpu: Gpu): MatmulChooser | null {
  if (autotuneDisabled()) return null;
  const entries = readAutotuneCache().adapters[adapterKey(gpu)];
  if (!entries || !Object.keys(entries).length) return null;
  const memo = new Map<string, MatmulVariant | undefined>();
  return {
    choose(M, N, K, dtype, layout) {
      const key = `${M}/${shapeKey(N, K, dtype, layout)}`;
      if (memo.has(key)) return memo.get(key);
      const byM = entries[shapeKey(N, K, dtype, layout)];
      let best: MatmulVariant | undefined;
      if (byM) {
        let bestDist = Infinity;
        for (const [m, entry] of Object.entries(byM)) {
          const dist = Math.abs(Math.log(Number(m)) - Math.log(M));
          if (dist < bestDist && KNOWN_VARIANTS.includes(entry.variant)) {
            bestDist = dist;
            best = entry.variant as MatmulVariant;
          }
        }
      }
      memo.set(key, best);
      return best;
    },
  };
}

function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = (a / 4294967296) * 2 - 1;
  }
  return out;
}

function f16Bits(x: Float32Array): Uint16Array {
  // Values in [-1, 1): round-to-nearest is not needed for timing; truncate the f32 bits.
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const b = u[i];
    const sign = (b >>> 16) & 0x8000;
    const exp = ((b >>> 23) & 0xff) - 127 + 15;
    out[i] = exp <= 0 ? sign : sign | (exp << 10) | ((b >>> 13) & 0x3ff);
  }
  return out;
}

export interface TimeOptions {
  /** Untimed runs first (pipeline compilation, caches). Default 1. */
  warmup?: number;
  /** Timed runs; the median is reported. Default 5. */
  repeats?: number;
  /** 'auto' (default): GPU timestamps when the device has timestamp-query, else CPU time around a queue sync. */
  timer?: 'auto' | 'cpu';
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Milliseconds per call of `runOnce` (which records GPU work): `warmup` untimed calls, then
 * `repeats` timed ones, each the sum of its dispatches' GPU timestamps where the device has them
 * (a product of several dispatches counts whole), else CPU time around a queue sync.
 */
export async function timeRuns(gpu: Gpu, runOnce: () => void, options: TimeOptions = {}): Promise<{ samples: number[]; timer: VariantTiming['timer'] }> {
  const warmup = options.warmup ?? 1;
  const repeats = Math.max(1, options.repeats ?? 5);
  for (let i = 0; i < warmup; i++) runOnce();
  await gpu.sync();
  const samples: number[] = [];
  const useTimestamps = options.timer !== 'cpu' && gpu.hasTimestamps && !gpu.passTimestampWrites && !gpu.recordHook;
  if (useTimestamps) {
    const profiler = Profiler.attach(gpu, { mode: 'timestamp' });
    try {
      for (let i = 0; i < repeats; i++) runOnce();
      const report = await profiler.collect();
      const perRun = report.dispatches.length / repeats;
      for (let i = 0; i < repeats; i++) {
        const passes = report.dispatches.slice(i * perRun, (i + 1) * perRun);
        samples.push(passes.reduce((t, d) => t + (d.endNs - d.startNs) / 1e6, 0));
      }
    } finally {
      profiler.detach();
    }
  } else {
    for (let i = 0; i < repeats; i++) {
      const t0 = performance.now();
      runOnce();
      await gpu.sync();
      samples.push(performance.now() - t0);
    }
  }
  return { samples, timer: useTimestamps ? 'gpu-timestamps' : 'cpu-sync' };
}

/** Buffers for one matmul shape, reusable across variants. */
export class MatmulBench {
  readonly shape: Required<MatmulShape>;
  private x: GPUBuffer;
  private w: GPUBuffer;
  private bias: GPUBuffer;
  private y: GPUBuffer;

  /** The f32 inputs as uploaded, kept for check() (constructor option `keepInputs`). */
  private host: { x: Float32Array; w: Float32Array; bias: Float32Array } | null = null;

  constructor(readonly kernels: Kernels, shape: MatmulShape, options: { keepInputs?: boolean } = {}) {
    this.shape = { layout: 'kn', ...shape };
    const { M, N, K, dtype } = this.shape;
    const gpu = kernels.gpu;
    const x = fill(M * K, 1);
    this.x = gpu.upload('tune-x', x);
    const w = fill(K * N, 2);
    this.w = gpu.upload('tune-w', dtype === 'f16' ? f16Bits(w) : w);
    const bias = fill(N, 3);
    this.bias = gpu.upload('tune-bias', bias);
    this.y = gpu.createBuffer('tune-y', M * N * 4);
    if (options.keepInputs) {
      if (dtype !== 'f32') throw new Error('MatmulBench: keepInputs (for check) supports f32 weights only');
      this.host = { x, w, bias };
    }
  }

  /**
   * Runs `variant` once and compares `samples` outputs spread over Y with float64 dot products of
   * the inputs: the largest |error| / (Σ_k |x_k·w_k| + |bias|) among them (≈ 1e-7 … 1e-6 for f32).
   */
  async check(variant: MatmulVariant, kernels: Kernels = this.kernels, samples = 512): Promise<number> {
    if (!this.host) throw new Error('MatmulBench.check: construct with { keepInputs: true }');
    const { M, N, K, layout } = this.shape;
    const gpu = this.kernels.gpu;
    await gpu.sync();
    gpu.write(this.y, new Float32Array(M * N).fill(NaN)); // an output the variant does not write fails
    this.run(variant, kernels);
    const y = await gpu.readF32(this.y, 0, M * N);
    const { x, w, bias } = this.host;
    let worst = 0;
    for (let s = 0; s < samples; s++) {
      const e = Math.floor(((s + 0.5) / samples) * M * N);
      const r = Math.floor(e / N), c = e % N;
      let dot = bias[c];
      let scale = Math.abs(bias[c]);
      for (let k = 0; k < K; k++) {
        const term = x[r * K + k] * (layout === 'kn' ? w[k * N + c] : w[c * K + k]);
        dot += term;
        scale += Math.abs(term);
      }
      const err = Math.abs(y[e] - dot) / scale;
      worst = Math.max(worst, Number.isNaN(err) ? Infinity : err);
    }
    return worst;
  }

  /** One product by `variant` (through `kernels`, default the bench's: another Kernels on the same GPU, e.g. with another stream-K grid). */
  run(variant: MatmulVariant, kernels: Kernels = this.kernels): MatmulVariant {
    const { M, N, K, dtype, layout } = this.shape;
    const args = { x: this.x, w: this.w, wDtype: dtype, bias: this.bias, y: this.y, M, N, K, sK: layout === 'kn' ? N : 1, sN: layout === 'kn' ? 1 : K };
    const ran = kernels.matmulVariantFor(args, variant);
    kernels.matmul(args, ran);
    return ran;
  }

  /** Times one variant: median of `repeats` runs after `warmup`. */
  async time(variant: MatmulVariant, options: TimeOptions = {}, kernels: Kernels = this.kernels): Promise<VariantTiming> {
    let ran: MatmulVariant = variant;
    const { samples, timer } = await timeRuns(this.kernels.gpu, () => { ran = this.run(variant, kernels); }, options);
    const { M, N, K } = this.shape;
    const med = median(samples);
    return {
      variant,
      ran,
      medianMs: med,
      minMs: Math.min(...samples),
      gflops: med > 0 ? (2 * M * N * K) / (med * 1e6) : 0,
      samplesMs: samples,
      timer,
    };
  }

  destroy(): void {
    for (const b of [this.x, this.w, this.bias, this.y]) b.destroy();
  }
}

export interface AutotuneOptions extends TimeOptions {
  /** Variants to try (default: every variant but 'naive', the stream-K ones where their grid is known: tuneStreamKGrids). */
  variants?: MatmulVariant[];
  /** Write the choice to the cache (default true). */
  save?: boolean;
  onResult?: (result: TuneResult) => void;
}

export const DEFAULT_TUNE_VARIANTS: MatmulVariant[] = ['register', 'register-8x8', 'vec4', 'vec4-8x8', 'shared', 'vec4-128', 'vec4-128x64'];

/** Runs `work` and returns the distinct matmul shapes (M, K × N, dtype, layout) it dispatched through `kernels`. */
export async function recordMatmulShapes(kernels: Kernels, work: () => Promise<unknown>): Promise<Required<MatmulShape>[]> {
  const shapes = new Map<string, Required<MatmulShape>>();
  const matmul = kernels.matmul;
  kernels.matmul = (a, variant) => {
    const layout = a.sN === 1 ? 'kn' : 'nk';
    shapes.set(`${a.M}/${shapeKey(a.N, a.K, a.wDtype, layout)}`, { M: a.M, N: a.N, K: a.K, dtype: a.wDtype, layout });
    matmul.call(kernels, a, variant);
  };
  try {
    await work();
  } finally {
    kernels.matmul = matmul;
  }
  return [...shapes.values()];
}

/** DEFAULT_TUNE_VARIANTS, and the stream-K variants whose grid this Kernels knows. */
export function tuneVariants(kernels: Kernels): MatmulVariant[] {
  const streamK = ([['vec4-128-sk', 128], ['vec4-128x64-sk', 64]] as const).filter(([, bn]) => kernels.streamKGridFor(bn) !== null).map(([v]) => v);
  return [...DEFAULT_TUNE_VARIANTS, ...streamK];
}

/**
 * Times each variant on each shape, picks the fastest (by median) and records it in the cache for
 * this adapter. Variants that fall back on a shape (unaligned vec4) are timed but never chosen.
 */
export async function autotuneMatmul(kernels: Kernels, shapes: MatmulShape[], options: AutotuneOptions = {}): Promise<TuneResult[]> {
  const variants = options.variants ?? tuneVariants(kernels);
  const results: TuneResult[] = [];
  for (const s of shapes) {
    const bench = new MatmulBench(kernels, s);
    try {
      const timings: VariantTiming[] = [];
      for (const v of variants) timings.push(await bench.time(v, options));
      const eligible = timings.filter((t) => t.ran === t.variant);
      const best = (eligible.length ? eligible : timings).reduce((a, b) => (b.medianMs < a.medianMs ? b : a));
      const result: TuneResult = { shape: bench.shape, best: best.ran, timings };
      results.push(result);
      options.onResult?.(result);
    } finally {
      bench.destroy();
    }
  }
  if (options.save !== false && results.length) {
    const cache = readAutotuneCache();
    const key = adapterKey(kernels.gpu);
    const entries = (cache.adapters[key] ??= {});
    const at = new Date().toISOString();
    for (const r of results) {
      const { M, N, K, dtype, layout } = r.shape;
      const byM = (entries[shapeKey(N, K, dtype, layout)] ??= {});
      const t = r.timings.find((x) => x.variant === r.best)!;
      byM[String(M)] = { variant: r.best, gflops: Number(t.gflops.toFixed(3)), at };
    }
    saveAutotuneCache(cache);
  }
  return results;
}
