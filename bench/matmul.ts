// Matmul ladder: the GPT-2 small…XL linear shapes (M tokens × K → N) through each of our matmul
// variants, and the same products through TensorFlow.js's WebGPU backend on the same adapter
// (same Dawn instance, its own device), reported as GFLOP/s (median of timed runs after warm-up,
// GPU timestamps when the adapter has timestamp-query) and as our-best / peer ratios.
//
//   npx tsx bench/matmul.ts [--m 256] [--repeats 10] [--warmup 2] [--variants register,vec4-128,...] [--dtype f32|f16]
//                           [--shapes 768x2304,...] [--no-peer] [--peak-tflops P] [--grids 132,264] [--check]
//
// Defaults are sized for lavapipe (M = 64, 3 repeats); on a real GPU pass e.g. --m 1024 --repeats 20.
// --peak-tflops: the adapter's FP32 peak (WebGPU does not report it; e.g. 66.9 for an H100 SXM or
// H200, 51.2 for an H100 PCIe): each shape's best variant is then also given as a fraction of it.
// --grids: stream-K grid sizes at which the '-sk' variants are timed (each reported as "variant@grid");
// without it, each tile width's grid is probed first (src/gpu/streamk-grid.ts, reported as streamKProbes).
// --check: also compare each variant's output with float64 dot products at 512 sampled outputs
// (f32 weights): `maxError` = the largest |error| / Σ|x·w| (about 1e-7 to 1e-6 when right).
// Prints one JSON object to stdout; progress goes to stderr.
import { register } from 'node:module';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import path from 'node:path';
import type { MatmulVariant } from '../src/gpu/kernels.js';
import type { Gpu } from '../src/gpu/device.js';

// ---- shared by the bench scripts ----

let wgslRegistered = false;
/** Lets Node import the .wgsl sources as strings (esbuild and vitest do this for the bundle and tests). */
export function registerWgslLoader(): void {
  if (wgslRegistered) return;
  wgslRegistered = true;
  const hooks = `
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export async function load(url, context, next) {
  if (url.endsWith('.wgsl')) {
    return { format: 'module', shortCircuit: true, source: 'export default ' + JSON.stringify(readFileSync(fileURLToPath(url), 'utf8')) + ';' };
  }
  return next(url, context);
}`;
  register('data:text/javascript,' + encodeURIComponent(hooks), import.meta.url);
}

/**
 * Whether the script `name` (bench/NAME.ts under tsx, dist/bench/NAME.mjs bundled) is the one
 * being run. The URL alone is not enough: a bundle of forward.ts also contains matmul.ts's code,
 * with forward's import.meta.url.
 */
export function isMain(metaUrl: string, name: string): boolean {
  const script = process.argv[1];
  if (!script || metaUrl !== pathToFileURL(script).href) return false;
  return path.basename(script).replace(/\.(ts|mjs|js)$/, '') === name;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function isSoftwareAdapter(gpu: Gpu): boolean {
  return gpu.adapter.architecture === 'software' || /swiftshader|llvmpipe|lavapipe/i.test(gpu.adapter.description);
}

export function log(...args: unknown[]): void {
  console.error('[bench]', ...args);
}

export const round = (v: number, d = 3) => Number(v.toFixed(d));

/** A Dawn GPU entry with timestamp quantisation off, installed as navigator.gpu so every user (ours, tfjs) shares it. */
export async function installNavigatorGpu(): Promise<void> {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav?.gpu) return;
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const webgpu = await import('webgpu');
  Object.assign(globalThis, webgpu.globals);
  const gpu = webgpu.create(['disable-dawn-features=timestamp_quantization']);
  Object.defineProperty(globalThis, 'navigator', { value: { ...(nav ?? {}), gpu }, configurable: true, writable: true });
}

// ---- the matmul ladder ----

/** (K, N) of the linear maps of GPT-2 small (768), medium (1024), large (1280), XL (1600). */
export const LADDER: [number, number][] = [[768, 2304], [768, 3072], [3072, 768], [1024, 4096], [1280, 5120], [1600, 6400], [6400, 1600]];

export interface MatmulBenchOptions {
  m?: number;
  repeats?: number;
  warmup?: number;
  variants?: MatmulVariant[];
  dtype?: 'f32' | 'f16';
  shapes?: [number, number][];
  peer?: boolean;
  /** FP32 peak of the adapter in TFLOP/s, to report each shape's best as a fraction of it. */
  peakTflops?: number;
  /** Also check each variant's output against float64 dot products (sampled; f32 only): `maxError` per variant. */
  check?: boolean;
  /** Stream-K grid sizes to time the '-sk' variants at (each reported as "variant@grid"); default: the probed grid per tile width. */
  grids?: number[];
}

interface PeerTiming {
  gflops: number;
  medianMs: number;
  timer: string;
}

/** TensorFlow.js on the WebGPU backend in this process; null (with the reason) when it cannot run. */
async function openPeer(): Promise<{ time: (M: number, K: number, N: number, warmup: number, repeats: number) => Promise<PeerTiming>; version: string } | { error: string }> {
  try {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) return { error: 'tf.setBackend("webgpu") returned false' };
    await tf.ready();
    return {
      version: tf.version_core,
      async time(M, K, N, warmup, repeats) {
        const a = tf.randomUniform([M, K], -1, 1, 'float32');
        const b = tf.randomUniform([K, N], -1, 1, 'float32');
        for (let i = 0; i < warmup; i++) {
          const c = tf.matMul(a, b);
          await c.data();
          c.dispose();
        }
        const kernel: number[] = [];
        const wall: number[] = [];
        for (let i = 0; i < repeats; i++) {
          const info = await tf.time(() => tf.matMul(a, b));
          if (typeof info.kernelMs === 'number') kernel.push(info.kernelMs);
          wall.push(info.wallMs);
        }
        a.dispose();
        b.dispose();
        const useKernel = kernel.length === repeats;
        const med = median(useKernel ? kernel : wall);
        return { gflops: (2 * M * N * K) / (med * 1e6), medianMs: med, timer: useKernel ? 'tfjs kernelMs (GPU timestamps)' : 'tfjs wallMs (CPU)' };
      },
    };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

export async function runMatmulBench(opts: MatmulBenchOptions = {}): Promise<object> {
  registerWgslLoader();
  await installNavigatorGpu();
  const { Gpu } = await import('../src/gpu/device.js');
  const { Kernels } = await import('../src/gpu/kernels.js');
  const { MatmulBench, DEFAULT_TUNE_VARIANTS } = await import('../src/gpu/autotune.js');
  const gpu = await Gpu.create();
  const software = isSoftwareAdapter(gpu);
  const M = opts.m ?? (software ? 64 : 256);
  const repeats = opts.repeats ?? (software ? 3 : 10);
  const warmup = opts.warmup ?? 1;
  const dtype = opts.dtype ?? 'f32';
  const shapes = opts.shapes ?? LADDER;
  const kernels = new Kernels(gpu, { autotune: false });
  // The stream-K variants run at the given grids, else at the grid probed for their tile width.
  const { isStreamKVariant } = await import('../src/gpu/kernels.js');
  const { probeStreamKGrid } = await import('../src/gpu/streamk-grid.js');
  const probes: Record<string, { grid: number; points: { tiles: number; medianMs: number }[] }> = {};
  const gridKernels = async (v: MatmulVariant): Promise<[string, InstanceType<typeof Kernels>][]> => {
    if (!isStreamKVariant(v)) return [[v, kernels]];
    if (opts.grids?.length) return opts.grids.map((g) => [`${v}@${g}`, new Kernels(gpu, { autotune: false, streamKGrid: g })]);
    const bn = v === 'vec4-128-sk' ? 128 : 64;
    if (!probes[bn]) {
      const p = await probeStreamKGrid(kernels, bn);
      probes[bn] = { grid: p.grid, points: p.points.map((q) => ({ tiles: q.tiles, medianMs: round(q.medianMs, 4) })) };
      log(`stream-K grid for 128×${bn} tiles: ${p.grid} (probe: ${p.points.map((q) => `${q.tiles}: ${q.medianMs.toFixed(3)} ms`).join(', ')})`);
    }
    return [[`${v}@${probes[bn].grid}`, new Kernels(gpu, { autotune: false, streamKGrid: probes[bn].grid })]];
  };
  const peer = opts.peer === false ? { error: 'disabled (--no-peer)' } : await openPeer();
  // 'naive' (one output per invocation) is the fallback baseline when the peer cannot run; it is
  // slow (≈0.1–0.3 GFLOP/s on lavapipe), so it runs by default only then (or with --variants).
  // Every tuned variant (autotune.ts DEFAULT_TUNE_VARIANTS: all but 'naive'), and on GPUs the
  // stream-K ones (their grid probed first; on CPU adapters the probe has no waves to find).
  const streamK: MatmulVariant[] = software ? [] : ['vec4-128-sk', 'vec4-128x64-sk'];
  const variants = opts.variants ?? ([...DEFAULT_TUNE_VARIANTS, ...streamK, ...('error' in peer ? ['naive'] : [])] as MatmulVariant[]);
  log(`adapter ${gpu.describe()}; M=${M}, ${repeats} repeats after ${warmup} warm-up; peer: ${'error' in peer ? peer.error : `tfjs ${peer.version}`}`);
  const rows = [];
  const t0 = performance.now();
  for (const [K, N] of shapes) {
    const bench = new MatmulBench(kernels, { M, N, K, dtype, layout: 'kn' }, { keepInputs: opts.check });
    const byVariant: Record<string, { gflops: number; medianMs: number; ran: string; maxError?: number }> = {};
    let timer = '';
    const runs: [MatmulVariant, string, InstanceType<typeof Kernels>][] = [];
    for (const v of variants) for (const [label, k] of await gridKernels(v)) runs.push([v, label, k]);
    for (const [v, label, k] of runs) {
      const t = await bench.time(v, { warmup, repeats }, k);
      byVariant[label] = { gflops: round(t.gflops), medianMs: round(t.medianMs, 3), ran: t.ran };
      timer = t.timer;
    }
    // Checks after every timing: their big uploads and read-backs slowed the timings that followed
    // them on the H100 (results/2026-11-26-h100-streamk-check.jsonl).
    if (opts.check) for (const [v, label, k] of runs) byVariant[label].maxError = Number((await bench.check(v, k)).toPrecision(3));
    bench.destroy();
    const best = Object.entries(byVariant).filter(([v]) => v !== 'naive').reduce((a, b) => (b[1].gflops > a[1].gflops ? b : a));
    let peerTiming: PeerTiming | null = null;
    if (!('error' in peer) && dtype === 'f32') {
      const p = await peer.time(M, K, N, warmup, repeats);
      peerTiming = { gflops: round(p.gflops), medianMs: round(p.medianMs, 3), timer: p.timer };
    }
    const row = {
      M, K, N, dtype, timer,
      variants: byVariant,
      best: best[0],
      bestGflops: best[1].gflops,
      peer: peerTiming,
      ratioBestToPeer: peerTiming ? round(best[1].gflops / peerTiming.gflops, 2) : null,
      ratioBestToNaive: byVariant.naive ? round(best[1].gflops / byVariant.naive.gflops, 2) : null,
      ...(opts.peakTflops ? { bestFractionOfPeak: round(best[1].gflops / (opts.peakTflops * 1000), 3) } : {}),
    };
    log(`${M}×${K}·${K}×${N}: ${Object.entries(byVariant).map(([v, t]) => `${v} ${t.gflops}${t.maxError !== undefined ? ` (err ${t.maxError})` : ''}`).join(', ')}${peerTiming ? `, tfjs ${peerTiming.gflops}` : ''} GFLOP/s`);
    rows.push(row);
  }
  const result = {
    bench: 'matmul',
    adapter: gpu.describe(),
    date: new Date().toISOString(),
    M, repeats, warmup, dtype,
    ...(opts.peakTflops ? { peakTflops: opts.peakTflops } : {}),
    peer: 'error' in peer ? { name: 'tfjs-backend-webgpu', error: peer.error } : { name: 'tfjs-backend-webgpu', version: peer.version },
    seconds: round((performance.now() - t0) / 1000, 1),
    ...(Object.keys(probes).length ? { streamKProbes: probes } : {}),
    shapes: rows,
  };
  gpu.destroy();
  return result;
}

if (isMain(import.meta.url, 'matmul')) {
  const { values } = parseArgs({
    options: {
      m: { type: 'string' },
      repeats: { type: 'string' },
      warmup: { type: 'string' },
      variants: { type: 'string' },
      dtype: { type: 'string' },
      shapes: { type: 'string' },
      'no-peer': { type: 'boolean' },
      'peak-tflops': { type: 'string' },
      grids: { type: 'string' },
      check: { type: 'boolean' },
    },
  });
  const peak = values['peak-tflops'] === undefined ? undefined : Number(values['peak-tflops']);
  if (peak !== undefined && !(peak > 0)) throw new Error(`--peak-tflops: expected a positive number of TFLOP/s, got "${values['peak-tflops']}"`);
  const result = await runMatmulBench({
    m: values.m ? Number(values.m) : undefined,
    repeats: values.repeats ? Number(values.repeats) : undefined,
    warmup: values.warmup ? Number(values.warmup) : undefined,
    variants: values.variants?.split(',') as MatmulVariant[] | undefined,
    dtype: values.dtype as 'f32' | 'f16' | undefined,
    shapes: values.shapes?.split(',').map((s) => s.split('x').map(Number) as [number, number]),
    peer: !values['no-peer'],
    peakTflops: peak,
    grids: values.grids?.split(',').map(Number),
    check: values.check,
  });
  console.log(JSON.stringify(result, null, 1));
  process.exit(0); // the GPU entry sits on navigator: exit explicitly
}
