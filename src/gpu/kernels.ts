// Typed wrappers around the WGSL kernels in shaders/: specialisation (weight dtype, head size,
// matmul variant), pipeline lookup and dispatch shapes. Each wrapper documents its operation; the
// WGSL file's header gives bindings and layouts.
import type { Gpu, KernelWork } from './device.js';
import type { StorageDType } from './tensor.js';
import { envChoice, envVar } from './env.js';
import matmulRegisterSrc from '../../shaders/matmul-register.wgsl';
import matmulSharedSrc from '../../shaders/matmul-shared.wgsl';
import matmulVec4x128Src from '../../shaders/matmul-vec4-128.wgsl';
import layernormSrc from '../../shaders/layernorm.wgsl';
import geluSrc from '../../shaders/gelu.wgsl';
import attentionSrc from '../../shaders/attention.wgsl';
import attentionTiledSrc from '../../shaders/attention-tiled.wgsl';
import attentionInputsSrc from '../../shaders/attention-inputs.wgsl';
import singlePositionSrc from '../../shaders/single-position.wgsl';
import rotarySrc from '../../shaders/rotary.wgsl';
import embedSrc from '../../shaders/embed.wgsl';
import logsumexpSrc from '../../shaders/vocab-logsumexp.wgsl';
import elementwiseSrc from '../../shaders/elementwise.wgsl';
import workgroupReduceSrc from '../../shaders/workgroup-reduce.wgsl';
import exp2FmaSrc from '../../shaders/exp2-fma.wgsl';
import { autotuneChooser, cachedChoice, forcedMatmulVariant, type MatmulChooser } from './autotune.js';

// ---- matmul variants (autotuned per adapter and shape, see autotune.ts) ----

/**
 * 'register': shaders/matmul-register.wgsl (4×4 outputs per invocation, no workgroup memory);
 * 'shared': shaders/matmul-shared.wgsl (64×64 workgroup-memory tiles, the classic GPU path);
 * 'register-8x8': the register scheme with 8×8 outputs per invocation (64×64 per workgroup);
 * 'vec4', 'vec4-8x8': register tiles (4×4, 8×8) with vec4 loads of X and W — they need K, the
 *   strides and offsets to be multiples of 4 and otherwise fall back to 'register' / 'register-8x8';
 * 'vec4-128': shaders/matmul-vec4-128.wgsl, 128×128 workgroup tiles (8×8 outputs per invocation)
 *   through double-buffered vec4 workgroup memory with register prefetch, aimed at real GPUs; same
 *   alignment needs as the vec4 variants, falls back to 'shared';
 * 'vec4-128x64': the same shader specialised for 128×64 workgroup tiles (8×16 invocations, 8×8
 *   outputs each): twice the workgroups of 'vec4-128', for shapes that leave a big GPU's SMs idle
 *   (e.g. N = 1600 at M ≤ 1024); same alignment needs and fallback;
 * 'vec4-128-sk', 'vec4-128x64-sk': the same tiles split stream-K over a persistent grid of about as
 *   many workgroups as the GPU runs at once (the grid: streamKGridFor), partial tiles added by a
 *   second dispatch; for shapes whose tile count sits just past a wave boundary (e.g. K × N =
 *   6400 × 1600). Without a known grid they run as their data-parallel twins; same alignment needs;
 * 'naive': one output per invocation, the baseline.
 */
export const MATMUL_VARIANTS = ['register', 'shared', 'register-8x8', 'vec4', 'vec4-8x8', 'vec4-128', 'vec4-128x64', 'vec4-128-sk', 'vec4-128x64-sk', 'naive'] as const;
export type MatmulVariant = (typeof MATMUL_VARIANTS)[number];

export function isMatmulVariant(name: string): name is MatmulVariant {
  return (MATMUL_VARIANTS as readonly string[]).includes(name);
}

interface TiledSpec {
  tm: number;
  tn: number;
  wgX: number;
  wgY: number;
  vec4: boolean;
  /** Used when the arguments do not meet the vec4 alignment. */
  fallback?: MatmulVariant;
}

const TILED: Partial<Record<MatmulVariant, TiledSpec>> = {
  'register-8x8': { tm: 8, tn: 8, wgX: 8, wgY: 8, vec4: false },
  vec4: { tm: 4, tn: 4, wgX: 8, wgY: 8, vec4: true, fallback: 'register' },
  'vec4-8x8': { tm: 8, tn: 8, wgX: 8, wgY: 8, vec4: true, fallback: 'register-8x8' },
};

/** What runs instead of each vec4 variant when the arguments do not meet its alignment. */
const VEC4_FALLBACK: Partial<Record<MatmulVariant, MatmulVariant>> = {
  vec4: TILED.vec4!.fallback,
  'vec4-8x8': TILED['vec4-8x8']!.fallback,
  'vec4-128': 'shared',
  'vec4-128x64': 'shared',
  'vec4-128-sk': 'shared',
  'vec4-128x64-sk': 'shared',
};

/** Output tile width (columns per workgroup) of the shaders/matmul-vec4-128.wgsl variants; 128 rows each. */
const VEC4_128_WIDTH: Partial<Record<MatmulVariant, 128 | 64>> = { 'vec4-128': 128, 'vec4-128x64': 64, 'vec4-128-sk': 128, 'vec4-128x64-sk': 64 };

/** The stream-K variants and their data-parallel twins (what runs when no grid size is known). */
const STREAM_K_TWIN: Partial<Record<MatmulVariant, MatmulVariant>> = { 'vec4-128-sk': 'vec4-128', 'vec4-128x64-sk': 'vec4-128x64' };

export function isStreamKVariant(variant: MatmulVariant): boolean {
  return STREAM_K_TWIN[variant] !== undefined;
}

/** The autotune cache key of the stream-K grid size (concurrent workgroups) for a tile width. */
export function streamKCacheKey(bn: 128 | 64): string {
  return `matmul-streamk-grid:bn${bn}`;
}

/** Largest stream-K grid: its partial sums (2 tiles per workgroup) stay within one 128 MiB binding. */
export const STREAM_K_MAX_GRID = 1024;

/** Whether `variant` can run these arguments as they are (vec4 variants need 4-aligned K, strides and offsets). */
export function matmulSupports(variant: MatmulVariant, a: Pick<MatmulArgs, 'N' | 'K' | 'sK' | 'sN' | 'wOff' | 'ldX' | 'xOff'>): boolean {
  if (!VEC4_FALLBACK[variant]) return true;
  const a4 = (v: number | undefined) => (v ?? 0) % 4 === 0;
  if (!a4(a.K) || !a4(a.ldX ?? a.K) || !a4(a.xOff) || !a4(a.wOff)) return false;
  if (a.sN === 1) return a4(a.N) && a4(a.sK); // W [K, N]: vec4 along n
  if (a.sK === 1) return a4(a.sN); // W [N, K]: vec4 along k
  return false;
}

const MATMUL_PARAMS = `struct Params { M: u32, N: u32, K: u32, sK: u32, sN: u32, wOff: u32, ldX: u32, xOff: u32, ldY: u32, yOff: u32, hasBias: u32, biasOff: u32 }`;

function matmulStore(tm: string, cols: string, value: string): string {
  return `
  for (var i = 0u; i < ${tm}; i++) {
    let r = row0 + i;
    if (r >= p.M) { continue; }
    for (var j = 0u; j < ${cols}; j++) {
      let c = col0 + j;
      if (c >= p.N) { continue; }
      var v = ${value};
      if (p.hasBias == 1u) { v += bias[p.biasOff + c]; }
      y[p.yOff + r * p.ldY + c] = v;
    }
  }`;
}

/**
 * WGSL of a register-tiled matmul (bindings and Params as shaders/matmul-register.wgsl): each
 * invocation owns TM × TN outputs; with vec4, X and W are read as vec4 (f16 W as vec2<u32>),
 * along k for W [N, K] ('nk') and along n for W [K, N] ('kn').
 */
export function matmulTiledSource(spec: TiledSpec, dtype: StorageDType, layout: 'kn' | 'nk'): string {
  const { tm, tn, wgX, wgY } = spec;
  const head = `// generated: matmul register-tiled ${tm}x${tn}${spec.vec4 ? ` vec4 ${layout}` : ''}, workgroup ${wgX}x${wgY}
${MATMUL_PARAMS}
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
const TM: u32 = ${tm}u;
const TN: u32 = ${tn}u;
`;
  const entry = `@compute @workgroup_size(${wgX}, ${wgY}, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  if (row0 >= p.M || col0 >= p.N) { return; }`;
  if (!spec.vec4) {
    return specializeWeights(`${head}
@group(0) @binding(0) var<storage, read> x: array<f32>;
//#weight w 1
${entry}
  var acc: array<array<f32, TN>, TM>;
  var xrow: array<u32, TM>;
  var wcol: array<u32, TN>;
  for (var i = 0u; i < TM; i++) { xrow[i] = p.xOff + min(row0 + i, p.M - 1u) * p.ldX; }
  for (var j = 0u; j < TN; j++) { wcol[j] = p.wOff + min(col0 + j, p.N - 1u) * p.sN; }
  for (var k = 0u; k < p.K; k++) {
    var a: array<f32, TM>;
    var b: array<f32, TN>;
    for (var i = 0u; i < TM; i++) { a[i] = x[xrow[i] + k]; }
    let kOff = k * p.sK;
    for (var j = 0u; j < TN; j++) { b[j] = load_w(wcol[j] + kOff); }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
    }
  }${matmulStore('TM', 'TN', 'acc[i][j]')}
}
`, { w: dtype });
  }
  const w4 = weightVec4Binding(dtype);
  const xrows = `  var xrow: array<u32, TM>;
  for (var i = 0u; i < TM; i++) { xrow[i] = (p.xOff + min(row0 + i, p.M - 1u) * p.ldX) >> 2u; }
  let K4 = p.K >> 2u;`;
  if (layout === 'kn') {
    if (tn % 4 !== 0) throw new Error('vec4 kn matmul needs TN to be a multiple of 4');
    return `${head}const TN4: u32 = ${tn / 4}u;
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
${w4}
${entry}
  var acc: array<array<vec4<f32>, TN4>, TM>;
${xrows}
  var wc: array<u32, TN4>;
  for (var j = 0u; j < TN4; j++) { wc[j] = (p.wOff + min(col0 + 4u * j, p.N - 4u)) >> 2u; }
  let sK4 = p.sK >> 2u;
  for (var k4 = 0u; k4 < K4; k4++) {
    var a: array<vec4<f32>, TM>;
    for (var i = 0u; i < TM; i++) { a[i] = x[xrow[i] + k4]; }
    for (var kk = 0u; kk < 4u; kk++) {
      let kOff = (4u * k4 + kk) * sK4;
      for (var j = 0u; j < TN4; j++) {
        let b = load_w4(wc[j] + kOff);
        for (var i = 0u; i < TM; i++) { acc[i][j] = fma(vec4<f32>(a[i][kk]), b, acc[i][j]); }
      }
    }
  }${matmulStore('TM', 'TN', 'acc[i][j >> 2u][j & 3u]')}
}
`;
  }
  return `${head}
@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
${w4}
${entry}
  var acc: array<array<vec4<f32>, TN>, TM>;
${xrows}
  var wcol: array<u32, TN>;
  for (var j = 0u; j < TN; j++) { wcol[j] = (p.wOff + min(col0 + j, p.N - 1u) * p.sN) >> 2u; }
  for (var k4 = 0u; k4 < K4; k4++) {
    var a: array<vec4<f32>, TM>;
    var b: array<vec4<f32>, TN>;
    for (var i = 0u; i < TM; i++) { a[i] = x[xrow[i] + k4]; }
    for (var j = 0u; j < TN; j++) { b[j] = load_w4(wcol[j] + k4); }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
    }
  }${matmulStore('TM', 'TN', 'dot(acc[i][j], vec4<f32>(1.0))')}
}
`;
}

/** Binding 1 as W read four elements at a time: `load_w4(e4)` = W elements 4·e4 .. 4·e4+3 (f16: two packed u32). */
function weightVec4Binding(dtype: StorageDType): string {
  return dtype === 'f32'
    ? `@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
fn load_w4(e4: u32) -> vec4<f32> { return w[e4]; }`
    : `@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;
fn load_w4(e4: u32) -> vec4<f32> { let q = w[e4]; return vec4<f32>(unpack2x16float(q.x), unpack2x16float(q.y)); }`;
}

/**
 * shaders/matmul-vec4-128.wgsl specialised for a weight dtype, a layout ('kn': W [K, N]; 'nk':
 * W [N, K]) and the output tile width `bn` (128: 'vec4-128'; 64: 'vec4-128x64'); tiles are 128 rows.
 */
export function matmulVec4x128Source(dtype: StorageDType, layout: 'kn' | 'nk', bn: 128 | 64 = 128): string {
  const marker = '//#weight4 w 1';
  const layoutLine = 'const W_KN: bool = true;';
  const widthLine = 'const BN: u32 = 128u;';
  if (![marker, layoutLine, widthLine].every((m) => matmulVec4x128Src.includes(m))) throw new Error('matmul-vec4-128.wgsl: specialisation markers missing');
  if (bn !== 128 && bn !== 64) throw new Error(`matmul-vec4-128.wgsl: tile width ${bn} unsupported (128 or 64)`);
  return matmulVec4x128Src
    .replace(marker, weightVec4Binding(dtype))
    .replace(layoutLine, `const W_KN: bool = ${layout === 'kn'};`)
    .replace(widthLine, `const BN: u32 = ${bn}u;`);
}

/** One output per invocation, no tiling: the baseline the others are measured against. */
export function matmulNaiveSource(dtype: StorageDType): string {
  return specializeWeights(`// generated: matmul naive, one output per invocation, workgroup 16x16
${MATMUL_PARAMS}
@group(0) @binding(0) var<storage, read> x: array<f32>;
//#weight w 1
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.y;
  let c = gid.x;
  if (r >= p.M || c >= p.N) { return; }
  var acc = 0.0;
  let xBase = p.xOff + r * p.ldX;
  let wBase = p.wOff + c * p.sN;
  for (var k = 0u; k < p.K; k++) { acc = fma(x[xBase + k], load_w(wBase + k * p.sK), acc); }
  if (p.hasBias == 1u) { acc += bias[p.biasOff + c]; }
  y[p.yOff + r * p.ldY + c] = acc;
}
`, { w: dtype });
}

export interface KernelsOptions {
  /** Force one matmul variant for every shape (else: PLATEAU_MATMUL, then the autotune cache, then the adapter default). */
  matmul?: MatmulVariant;
  /** Consult the autotune cache (default true; PLATEAU_AUTOTUNE=off also disables it). */
  autotune?: boolean;
  /** Force one attention kernel (else: PLATEAU_ATTENTION, then the adapter default, see attentionVariantFor). */
  attention?: AttentionVariant;
  /** Workgroups of the stream-K matmul variants' persistent grid (else: PLATEAU_STREAMK_GRID, then the autotune cache). */
  streamKGrid?: number;
}

/** Replaces each `//#weight NAME BINDING` line by a binding of f32 or packed-f16 storage and a loader `load_NAME(e)`. */
export function specializeWeights(source: string, dtypes: Record<string, StorageDType>): string {
  return source.replace(/^\/\/#weight (\w+) (\d+)$/gm, (_, name: string, binding: string) => {
    const dtype = dtypes[name] ?? 'f32';
    if (dtype === 'f32') {
      return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<f32>;\n` +
        `fn load_${name}(e: u32) -> f32 { return ${name}[e]; }`;
    }
    return `@group(0) @binding(${binding}) var<storage, read> ${name}: array<u32>;\n` +
      `fn load_${name}(e: u32) -> f32 { let pair = unpack2x16float(${name}[e >> 1u]); return select(pair.x, pair.y, (e & 1u) == 1u); }`;
  });
}

/** WGSL has no includes: `//#include NAME` lines are replaced by the shared snippets in shaders/. */
export function withIncludes(source: string): string {
  return source.replace(/^\/\/#include (\S+)$/gm, (_, name: string) => {
    if (name === 'workgroup-reduce') return workgroupReduceSrc;
    if (name === 'attention-inputs') return attentionInputsSrc;
    if (name === 'exp2-fma') return exp2FmaSrc;
    throw new Error(`WGSL include "${name}" is unknown`);
  });
}

/** Splits a row count over the y and z dispatch dimensions (kernels compute y + z·65535). */
export function rowGrid(rows: number): [number, number] {
  return [Math.min(rows, 65535), Math.max(1, Math.ceil(rows / 65535))];
}

export interface MatmulArgs {
  x: GPUBuffer | GPUBufferBinding;
  w: GPUBuffer;
  wDtype: StorageDType;
  bias?: GPUBuffer;
  y: GPUBuffer | GPUBufferBinding;
  M: number;
  N: number;
  K: number;
  /** Element strides of W(k, n): [in, out] storage has sK = N, sN = 1; [out, in] has sK = 1, sN = K. */
  sK: number;
  sN: number;
  wOff?: number;
  ldX?: number;
  xOff?: number;
  ldY?: number;
  yOff?: number;
  biasOff?: number;
}

/** CPU implementations of WebGPU (lavapipe, SwiftShader), where workgroup memory does not pay. */
export function isSoftwareAdapter(gpu: Gpu): boolean {
  return gpu.adapter.architecture === 'software' || /swiftshader|llvmpipe/i.test(gpu.adapter.description + gpu.adapter.architecture);
}

/**
 * Attention kernels: 'simple' is shaders/attention.wgsl (one invocation per query, K/V read from
 * global memory; the only one that writes hook_pattern / hook_attn_scores); 'tiled' is
 * shaders/attention-tiled.wgsl (64 queries per workgroup, K/V tiles in workgroup memory).
 */
export const ATTENTION_VARIANTS = ['tiled', 'simple'] as const;
export type AttentionVariant = (typeof ATTENTION_VARIANTS)[number];

/** The explicit choice, else PLATEAU_ATTENTION, else null; throws on unknown names. */
export function resolveAttentionVariant(explicit?: string): AttentionVariant | null {
  if (explicit === undefined) return envChoice('PLATEAU_ATTENTION', ATTENTION_VARIANTS, 'attention variant unknown') ?? null;
  if (!(ATTENTION_VARIANTS as readonly string[]).includes(explicit)) {
    throw new Error(`unknown attention variant "${explicit}" (expected one of ${ATTENTION_VARIANTS.join(', ')})`);
  }
  return explicit as AttentionVariant;
}

/** The autotune cache's key for the attention kernel of one head size. */
export function attentionCacheKey(dh: number): string {
  return `attention:dh${dh}`;
}

/** The explicit stream-K grid, else PLATEAU_STREAMK_GRID, else null; throws unless a whole number 1 .. STREAM_K_MAX_GRID. */
export function resolveStreamKGrid(explicit?: number): number | null {
  const raw = explicit ?? envVar('PLATEAU_STREAMK_GRID')?.trim();
  if (raw === undefined || raw === '') return null;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > STREAM_K_MAX_GRID) {
    throw new Error(`${explicit === undefined ? `PLATEAU_STREAMK_GRID=${raw}` : `stream-K grid ${raw}`}: expected a whole number of workgroups from 1 to ${STREAM_K_MAX_GRID}`);
  }
  return n;
}

/** Largest head size the tiled attention is chosen for by default (its q and z live in registers). */
const TILED_ATTENTION_MAX_DH = 128;

export class Kernels {
  readonly gpu: Gpu;
  /** The per-adapter default variant, used for shapes the autotune cache does not cover. */
  matmulVariant: MatmulVariant;
  /** A variant forced for every shape (constructor option or PLATEAU_MATMUL), or null. */
  readonly forcedMatmul: MatmulVariant | null;
  /** Per-shape choices from the autotune cache for this adapter, or null (refreshed by reloadAutotune()). */
  matmulChooser: MatmulChooser | null;
  private readonly useAutotune: boolean;
  /** An attention kernel forced for every call (constructor option or PLATEAU_ATTENTION), or null. */
  forcedAttention: AttentionVariant | null;
  /** Attention choices of the autotune cache by head size (read lazily; cleared by reloadAutotune()). */
  private attentionTuned = new Map<number, AttentionVariant | undefined>();
  /** Stream-K grid forced for both tile widths (constructor option or PLATEAU_STREAMK_GRID), or null. */
  private readonly forcedStreamKGrid: number | null;
  private streamKGrids = new Map<number, number | null>();
  /** Partial sums of the stream-K variants, grown on demand. */
  private streamKPartials: GPUBuffer | null = null;
  private dummy: GPUBuffer;
  /** A second placeholder: two unused writable bindings must not alias one buffer. */
  private dummy2: GPUBuffer;

  constructor(gpu: Gpu, options?: MatmulVariant | KernelsOptions) {
    this.gpu = gpu;
    const opts: KernelsOptions = typeof options === 'string' ? { matmul: options } : options ?? {};
    // Workgroup memory + barriers are slow on CPU adapters and the fast path on GPUs; on CPU
    // adapters 8×8 register tiles measured 1.7–2× the 4×4 ones (bench/RESULTS.md).
    this.matmulVariant = isSoftwareAdapter(gpu) ? 'register-8x8' : 'shared';
    this.forcedMatmul = opts.matmul ?? forcedMatmulVariant() ?? null;
    if (this.forcedMatmul && !isMatmulVariant(this.forcedMatmul)) {
      throw new Error(`unknown matmul variant "${this.forcedMatmul}" (expected one of ${MATMUL_VARIANTS.join(', ')})`);
    }
    this.forcedAttention = resolveAttentionVariant(opts.attention);
    this.forcedStreamKGrid = resolveStreamKGrid(opts.streamKGrid);
    this.useAutotune = opts.autotune !== false;
    this.matmulChooser = this.forcedMatmul || !this.useAutotune ? null : autotuneChooser(gpu);
    this.dummy = gpu.createBuffer('dummy', 16);
    this.dummy2 = gpu.createBuffer('dummy2', 16);
  }

  /** Frees scratch the matmul keeps between calls (the stream-K partial sums), after submitting work that may read it. */
  releaseScratch(): void {
    if (!this.streamKPartials) return;
    this.gpu.flush();
    this.streamKPartials.destroy();
    this.streamKPartials = null;
  }

  /** A 16-byte placeholder for bindings a dispatch does not use. */
  get placeholder(): GPUBuffer {
    return this.dummy;
  }

  /** Re-reads the autotune cache's choices for this adapter (after autotuneMatmul() wrote new ones). */
  reloadAutotune(): void {
    this.attentionTuned.clear();
    this.streamKGrids.clear();
    this.matmulChooser = this.forcedMatmul || !this.useAutotune ? null : autotuneChooser(this.gpu);
  }

  /** The variant matmul() runs for these arguments: explicit, forced, autotuned, default; then alignment fallback. */
  matmulVariantFor(a: MatmulArgs, variant?: MatmulVariant): MatmulVariant {
    let v = variant ?? this.forcedMatmul
      ?? this.matmulChooser?.choose(a.M, a.N, a.K, a.wDtype, a.sN === 1 ? 'kn' : 'nk')
      ?? this.matmulVariant;
    if (!matmulSupports(v, a)) v = VEC4_FALLBACK[v] ?? 'register';
    if (STREAM_K_TWIN[v] && (this.streamKGridFor(VEC4_128_WIDTH[v]!) === null || a.K === 0)) v = STREAM_K_TWIN[v]!;
    return v;
  }

  /**
   * Workgroups in the stream-K grid for tiles 128 × bn: forced (option, PLATEAU_STREAMK_GRID), else
   * the autotune cache's figure for this adapter (measured by streamk-grid.ts tuneStreamKGrids: how
   * many such workgroups the GPU runs at once), else null (the variant runs as its data-parallel twin).
   */
  streamKGridFor(bn: 128 | 64): number | null {
    if (this.forcedStreamKGrid !== null) return this.forcedStreamKGrid;
    if (!this.streamKGrids.has(bn)) {
      const cached = this.useAutotune ? Number(cachedChoice(this.gpu, streamKCacheKey(bn))) : NaN;
      this.streamKGrids.set(bn, Number.isInteger(cached) && cached >= 1 ? Math.min(cached, STREAM_K_MAX_GRID) : null);
    }
    return this.streamKGrids.get(bn)!;
  }

  /** Y = X · W (+ bias) by a stream-K variant over `grid` workgroups: main_streamk, then main_fixup. */
  private matmulStreamK(a: MatmulArgs, key: string, bn: 128 | 64, grid: number, words: number[], work: KernelWork): void {
    const layout = a.sN === 1 ? 'kn' : 'nk';
    const source = () => matmulVec4x128Source(a.wDtype, layout, bn);
    const tilesN = Math.ceil(a.N / bn);
    const tilesM = Math.ceil(a.M / 128);
    const tiles = tilesN * tilesM;
    const g = Math.min(grid, tiles * Math.ceil(a.K / 8));
    // Whole waves run data-parallel (their K walks in step share cached X and W), only the last
    // partial wave's tiles stream-K: on the H100 this beat stream-K over every tile and over all
    // but one wave (6400 × 1600, M = 4096: 29.9 vs 25.4 and 27.9 TFLOP/s with 128 × 64 tiles;
    // bench/results/2026-11-26-h100-streamk-dp.jsonl).
    const dpTiles = Math.floor(tiles / g) * g;
    const units = (tiles - dpTiles) * Math.ceil(a.K / 8);
    const partialBytes = 2 * g * 128 * bn * 4;
    if (!this.streamKPartials || this.streamKPartials.size < partialBytes) {
      this.releaseScratch(); // submits recorded products that may still read the old buffer
      this.streamKPartials = this.gpu.createBuffer('matmul-streamk-partials', partialBytes);
    }
    words.splice(12, 5, tilesN, g, Math.floor(units / g), units % g, dpTiles);
    const buffers = [a.x, a.w, a.bias ?? this.dummy, a.y, null, this.streamKPartials];
    this.gpu.dispatch(key, this.gpu.pipeline(key, source, 'main_streamk'), buffers, [g], { words, binding: 4 }, work);
    if (units === 0) return; // whole waves only: every tile stored by one workgroup
    // One workgroup per stream-K tile (fewer than g): those split between workgroups add their partials.
    const fixupKey = `${key}-fixup`;
    const skTiles = tiles - dpTiles;
    this.gpu.dispatch(fixupKey, this.gpu.pipeline(fixupKey, source, 'main_fixup'), [null, null, a.bias ?? this.dummy, a.y, null, this.streamKPartials], [skTiles], { words, binding: 4 }, {
      flops: 0,
      bytes: 3 * skTiles * 128 * bn * 4,
    });
  }

  /** Y[M, N] = X[M, K] · W (+ bias). */
  matmul(a: MatmulArgs, variant?: MatmulVariant): void {
    variant = this.matmulVariantFor(a, variant);
    const tiled = TILED[variant];
    const layout = a.sN === 1 ? 'kn' : 'nk';
    const key = VEC4_FALLBACK[variant] ? `matmul-${variant}-${layout}-${a.wDtype}` : `matmul-${variant}-${a.wDtype}`;
    const work: KernelWork = {
      flops: 2 * a.M * a.N * a.K,
      bytes: 4 * (a.M * a.K + a.M * a.N) + (a.wDtype === 'f16' ? 2 : 4) * a.K * a.N,
    };
    const words = [a.M, a.N, a.K, a.sK, a.sN, a.wOff ?? 0, a.ldX ?? a.K, a.xOff ?? 0, a.ldY ?? a.N, a.yOff ?? 0, a.bias ? 1 : 0, a.biasOff ?? 0];
    let pipeline: GPUComputePipeline;
    let groups: [number, number];
    if (tiled) {
      pipeline = this.gpu.pipeline(key, () => matmulTiledSource(tiled, a.wDtype, layout));
      groups = [Math.ceil(a.N / (tiled.wgX * tiled.tn)), Math.ceil(a.M / (tiled.wgY * tiled.tm))];
    } else if (VEC4_128_WIDTH[variant]) {
      const bn = VEC4_128_WIDTH[variant]!;
      // matmulVariantFor keeps a stream-K variant only when its grid is known.
      if (STREAM_K_TWIN[variant]) return this.matmulStreamK(a, key, bn, this.streamKGridFor(bn)!, [...words, 0, 0, 0, 0, 0], work);
      pipeline = this.gpu.pipeline(key, () => matmulVec4x128Source(a.wDtype, layout, bn));
      groups = [Math.ceil(a.N / bn), Math.ceil(a.M / 128)];
      words.push(0, 0, 0, 0, 0); // the stream-K fields of Params
    } else if (variant === 'naive') {
      pipeline = this.gpu.pipeline(key, () => matmulNaiveSource(a.wDtype));
      groups = [Math.ceil(a.N / 16), Math.ceil(a.M / 16)];
    } else {
      const src = variant === 'register' ? matmulRegisterSrc : matmulSharedSrc;
      pipeline = this.gpu.pipeline(key, () => specializeWeights(src, { w: a.wDtype }));
      groups = variant === 'register'
        ? [Math.ceil(a.N / 32), Math.ceil(a.M / 32)]
        : [Math.ceil(a.N / 64), Math.ceil(a.M / 64)];
    }
    this.gpu.dispatch(key, pipeline, [a.x, a.w, a.bias ?? this.dummy, a.y], groups, { words }, work);
  }

  /** y = LayerNorm(x)·gamma + beta per row; stats receives (mean, rstd) per row. */
  layernorm(x: GPUBuffer, gamma: GPUBuffer, beta: GPUBuffer, y: GPUBuffer, stats: GPUBuffer, rows: number, d: number, eps: number): void {
    const pipeline = this.gpu.pipeline('layernorm', () => withIncludes(layernormSrc));
    this.gpu.dispatch('layernorm', pipeline, [x, gamma, beta, y, stats], rowGrid(rows), {
      words: [rows, d, d, d, eps],
      floatMask: [false, false, false, false, true],
    }, { flops: 8 * rows * d, bytes: 8 * rows * d });
  }

  /** y = GELU(x) for n elements ('tanh' = GPT-2's gelu_new, 'erf' = exact). */
  gelu(kind: 'tanh' | 'erf', x: GPUBuffer, y: GPUBuffer, n: number): void {
    const entry = kind === 'tanh' ? 'gelu_tanh' : 'gelu_erf';
    const pipeline = this.gpu.pipeline(`gelu-${kind}`, () => geluSrc, entry);
    const groups = Math.ceil(n / 256);
    this.gpu.dispatch(`gelu-${kind}`, pipeline, [x, y], [Math.min(groups, 65535), Math.ceil(groups / 65535)], { words: [n] }, { flops: 20 * n, bytes: 8 * n });
  }

  /**
   * The attention kernel attention() runs: 'simple' whenever hook_pattern or hook_attn_scores is
   * written; else the forced one; else the autotune cache's choice for this head size
   * (attentionCacheKey, written by `plateau profile --autotune`); else 'tiled' up to dh = 128
   * (beyond, its per-invocation q and z would spill), on GPUs and on CPU adapters alike (lavapipe,
   * 2 cores: tiled 1.6–1.9× faster than simple at T = 128–256, dh = 64).
   */
  attentionVariantFor(a: { dh: number; pattern?: GPUBuffer; scores?: GPUBuffer }): AttentionVariant {
    if (a.pattern || a.scores) return 'simple';
    if (this.forcedAttention) return this.forcedAttention;
    if (this.useAutotune && !this.attentionTuned.has(a.dh)) {
      const cached = cachedChoice(this.gpu, attentionCacheKey(a.dh));
      this.attentionTuned.set(a.dh, (ATTENTION_VARIANTS as readonly string[]).includes(cached ?? '') ? cached as AttentionVariant : undefined);
    }
    const tuned = this.useAutotune ? this.attentionTuned.get(a.dh) : undefined;
    if (tuned && (tuned === 'simple' || a.dh <= TILED_ATTENTION_MAX_DH)) return tuned;
    return a.dh > TILED_ATTENTION_MAX_DH ? 'simple' : 'tiled';
  }

  /**
   * z = causal softmax(q·kᵀ·scale)·v per (sequence, head), scale = 1/√dh; optional hook_pattern /
   * hook_attn_scores [B, H, T, T]; redirect [B, 2] = (head, query) made one-hot on key 0.
   * Kernel choice: attentionVariantFor(); the profiler sees 'attention-dh<DH>' (simple) or 'attention-dh<DH>-tiled'.
   */
  attention(a: {
    qk: GPUBuffer; v: GPUBuffer; z: GPUBuffer; pattern?: GPUBuffer; scores?: GPUBuffer; redirect: GPUBuffer;
    B: number; T: number; H: number; dh: number;
    qBase: number; kBase: number; vBase: number; rowStrideQK: number; rowStrideV: number; headStrideQK: number; headStrideV: number;
  }): void {
    const DH = Math.ceil(a.dh / 4) * 4;
    const variant = this.attentionVariantFor(a);
    let key: string;
    let pipeline: GPUComputePipeline;
    let buffers: (GPUBuffer | null)[];
    if (variant === 'tiled') {
      // K and V tiles of BK keys × DH floats: 2·BK·DH·4 bytes ≤ 16 KiB (WebGPU's default limit).
      const BK = Math.max(4, Math.min(32, 2 ** Math.floor(Math.log2(16384 / (8 * DH)))));
      key = `attention-dh${DH}-tiled`;
      // CPU adapters get run-time feature-loop bounds: fully unrolled, lavapipe took ~40 s to compile dh = 64.
      const n4 = isSoftwareAdapter(this.gpu) ? '((p.dh + 3u) / 4u)' : 'DH4';
      pipeline = this.gpu.pipeline(key, () => withIncludes(attentionTiledSrc).replace('/*DH*/64u', `${DH}u`).replace('/*BK*/32u', `${BK}u`).replace('/*N4*/DH4', n4));
      buffers = [a.qk, a.v, a.z, null, null, a.redirect];
    } else {
      key = `attention-dh${DH}`;
      pipeline = this.gpu.pipeline(key, () => withIncludes(attentionSrc).replace('/*DH*/64u', `${DH}u`));
      buffers = [a.qk, a.v, a.z, a.pattern ?? this.dummy, a.scores ?? this.dummy2, a.redirect];
    }
    this.gpu.dispatch(key, pipeline, buffers, [Math.ceil(a.T / 64), a.H, a.B], {
      words: [a.B, a.T, a.H, a.dh, a.qBase, a.kBase, a.vBase, a.rowStrideQK, a.rowStrideV, a.headStrideQK, a.headStrideV,
        a.pattern ? 1 : 0, a.scores ? 1 : 0, 1 / Math.sqrt(a.dh)],
      floatMask: [false, false, false, false, false, false, false, false, false, false, false, false, false, true],
    }, {
      flops: 2 * a.B * a.H * a.T * a.T * a.dh,
      // tiled: q and z once, K and V once per 64-query block up to its diagonal
      bytes: variant === 'tiled'
        ? 4 * a.B * a.H * a.dh * (2 * a.T + 64 * Math.ceil(a.T / 64) * (Math.ceil(a.T / 64) + 1))
        : 4 * a.B * a.T * a.H * a.dh * (2 + a.T),
    });
  }

  /**
   * Attention of rows that continue cached sequences (shaders/single-position.wgsl cached_attention):
   * rowInfo4 holds (seqBase, t, prefix, newBase) per row — keys 0..prefix−1 from the cache rows
   * seqBase + k, keys prefix..t from the new rows newBase + k − prefix. q/k share one layout (ldQK,
   * qBase, kBase, headStrideQK) in the new and the cached buffers, v the fused qkv layout (ldV, vBase, headStrideV).
   */
  cachedAttention(a: {
    qkNew: GPUBuffer; vNew: GPUBuffer; qkCache: GPUBuffer; vCache: GPUBuffer; rowInfo4: GPUBuffer; z: GPUBuffer;
    rows: number; H: number; dh: number; ldQK: number; qBase: number; kBase: number; headStrideQK: number; ldV: number; vBase: number; headStrideV: number;
    /** Σ over rows of the keys each attends to (t + 1), for the profiler's FLOP count. */
    keys: number;
  }): void {
    const DH = Math.ceil(a.dh / 4) * 4;
    const key = `single-position-cached_attention-dh${DH}`;
    const pipeline = this.gpu.pipeline(key, () => singlePositionSrc.replace('/*DH*/64u', `${DH}u`), 'cached_attention');
    this.gpu.dispatch(key, pipeline, [a.qkNew, a.vNew, a.qkCache, a.vCache, a.rowInfo4, a.z], [Math.ceil(a.rows / 64), a.H], {
      words: [a.rows, a.H, a.dh, a.ldQK, a.ldV, a.qBase, a.kBase, a.vBase, a.headStrideQK, a.headStrideV, 1 / Math.sqrt(a.dh), a.H * a.dh],
      floatMask: [false, false, false, false, false, false, false, false, false, false, true, false],
      binding: 6,
    }, { flops: 4 * a.H * a.dh * a.keys, bytes: 4 * 2 * a.H * a.dh * (a.keys + a.rows) });
  }

  rotary(a: { qkv: GPUBuffer; cosSin: GPUBuffer; positions: GPUBuffer; out: GPUBuffer; rows: number; H: number; dh: number; rot: number; ldQKV: number; qBase: number; kBase: number; headStride: number }): void {
    const pipeline = this.gpu.pipeline('rotary', () => rotarySrc);
    const [gy, gz] = rowGrid(a.rows);
    this.gpu.dispatch('rotary', pipeline, [a.qkv, a.cosSin, a.positions, a.out], [Math.ceil((a.H * a.dh) / 64), gy, gz], {
      words: [a.rows, a.H, a.dh, a.rot, a.ldQKV, a.qBase, a.kBase, a.headStride],
    }, { flops: 6 * a.rows * a.H * a.dh, bytes: 16 * a.rows * a.H * a.dh });
  }

  /** x[n] = table[ids[n] − rowStart] for ids inside this chunk. */
  embedGather(ids: GPUBuffer, table: GPUBuffer, dtype: StorageDType, x: GPUBuffer, rows: number, d: number, rowStart: number, rowCount: number): void {
    const key = `embed-gather-${dtype}`;
    const pipeline = this.gpu.pipeline(key, () => specializeWeights(embedSrc, { table: dtype }), 'embed_gather');
    const [gy, gz] = rowGrid(rows);
    this.gpu.dispatch(key, pipeline, [ids, table, x], [Math.ceil(d / 64), gy, gz], { words: [rows, d, rowStart, rowCount] }, { flops: 0, bytes: 8 * rows * d });
  }

  /** Merges one logits chunk into the per-row streaming log-sum-exp state. */
  lseUpdate(logits: GPUBuffer, targets: GPUBuffer, state: GPUBuffer, rows: number, cols: number, ldL: number, vocabStart: number, first: boolean): void {
    const pipeline = this.gpu.pipeline('lse-update', () => logsumexpSrc, 'lse_update');
    this.gpu.dispatch('lse-update', pipeline, [logits, targets, state, null], rowGrid(rows), {
      words: [rows, cols, ldL, 0, vocabStart, first ? 1 : 0],
    }, { flops: 4 * rows * cols, bytes: 4 * rows * cols });
  }

  nllFinalize(targets: GPUBuffer, state: GPUBuffer, nll: GPUBuffer, rows: number): void {
    const pipeline = this.gpu.pipeline('nll-finalize', () => logsumexpSrc, 'nll_finalize');
    this.gpu.dispatch('nll-finalize', pipeline, [null, targets, state, nll], [Math.ceil(rows / 64)], {
      words: [rows, 0, 0, 0, 0, 0],
    }, { flops: 2 * rows, bytes: 20 * rows });
  }

  /** a[i] += b[i], i < n. */
  addInPlace(a: GPUBuffer, b: GPUBuffer, n: number): void {
    const pipeline = this.gpu.pipeline('add-inplace', () => elementwiseSrc, 'add_inplace');
    const groups = Math.ceil(n / 256);
    this.gpu.dispatch('add-inplace', pipeline, [a, b, null], [Math.min(groups, 65535), Math.ceil(groups / 65535)], { words: [n, 0, 0, 0] }, { flops: n, bytes: 12 * n });
  }

  /** dst[pairs[2j]] = src[pairs[2j+1]] for rows of width d. */
  copyRows(dst: GPUBuffer, src: GPUBuffer, pairs: GPUBuffer, nPairs: number, d: number): void {
    const pipeline = this.gpu.pipeline('copy-rows', () => elementwiseSrc, 'copy_rows');
    const [gy, gz] = rowGrid(nPairs);
    this.gpu.dispatch('copy-rows', pipeline, [dst, src, pairs], [Math.ceil(d / 64), gy, gz], { words: [0, d, nPairs, 0] }, { flops: 0, bytes: 8 * nPairs * d });
  }

  /** For each j < nPairs, with slices[4j..4j+3] = (dstRow, srcRow, col0, width): dst[dstRow, col0 .. col0+width) = src[srcRow, same columns], rows of width d. */
  copyRowSlices(dst: GPUBuffer, src: GPUBuffer, slices: GPUBuffer, nPairs: number, d: number, maxWidth: number): void {
    const pipeline = this.gpu.pipeline('copy-row-slices', () => elementwiseSrc, 'copy_row_slices');
    const [gy, gz] = rowGrid(nPairs);
    this.gpu.dispatch('copy-row-slices', pipeline, [dst, src, slices], [Math.ceil(maxWidth / 64), gy, gz], { words: [0, d, nPairs, 0] }, { flops: 0, bytes: 8 * nPairs * maxWidth });
  }

  /**
   * Per-variant column overwrite: rows n of variant v = ⌊n / rowsPerVariant⌋ get
   * a[n, col0 .. col0+width) = values[valueOffset + (n mod rowsPerVariant)·valueStride ..]; edits holds
   * (col0, width, valueOffset) per variant. valueStride 0: the same values for every row (zero, mean);
   * the width of a source activation: its row n mod rowsPerVariant (resampling from another run).
   */
  setColumns(a: GPUBuffer, values: GPUBuffer, edits: GPUBuffer, rows: number, d: number, rowsPerVariant: number, maxWidth: number, valueStride = 0): void {
    const pipeline = this.gpu.pipeline('set-columns', () => elementwiseSrc, 'set_columns');
    const [gy, gz] = rowGrid(rows);
    this.gpu.dispatch('set-columns', pipeline, [a, values, edits], [Math.ceil(maxWidth / 64), gy, gz], { words: [rows, d, valueStride, rowsPerVariant] }, { flops: 0, bytes: 8 * rows * maxWidth });
  }
}
