// Typed wrappers around the WGSL kernels in shaders/: specialisation (weight dtype, head size,
// matmul variant), pipeline lookup and dispatch shapes. Each wrapper documents its operation; the
// WGSL file's header gives bindings and layouts.
import type { Gpu, KernelWork } from './device.js';
import type { StorageDType } from './tensor.js';
import matmulRegisterSrc from '../../shaders/matmul-register.wgsl';
import matmulSharedSrc from '../../shaders/matmul-shared.wgsl';
import layernormSrc from '../../shaders/layernorm.wgsl';
import geluSrc from '../../shaders/gelu.wgsl';
import attentionSrc from '../../shaders/attention.wgsl';
import rotarySrc from '../../shaders/rotary.wgsl';
import embedSrc from '../../shaders/embed.wgsl';
import logsumexpSrc from '../../shaders/vocab-logsumexp.wgsl';
import elementwiseSrc from '../../shaders/elementwise.wgsl';

export type MatmulVariant = 'register' | 'shared';

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

export class Kernels {
  readonly gpu: Gpu;
  matmulVariant: MatmulVariant;
  private dummy: GPUBuffer;
  /** A second placeholder: two unused writable bindings must not alias one buffer. */
  private dummy2: GPUBuffer;

  constructor(gpu: Gpu, matmulVariant?: MatmulVariant) {
    this.gpu = gpu;
    // Workgroup memory + barriers are slow on CPU adapters and the fast path on GPUs.
    this.matmulVariant = matmulVariant ?? (gpu.adapter.architecture === 'software' || /swiftshader|llvmpipe/i.test(gpu.adapter.description + gpu.adapter.architecture) ? 'register' : 'shared');
    this.dummy = gpu.createBuffer('dummy', 16);
    this.dummy2 = gpu.createBuffer('dummy2', 16);
  }

  /** A 16-byte placeholder for bindings a dispatch does not use. */
  get placeholder(): GPUBuffer {
    return this.dummy;
  }

  /** Y[M, N] = X[M, K] · W (+ bias). */
  matmul(a: MatmulArgs, variant: MatmulVariant = this.matmulVariant): void {
    const key = `matmul-${variant}-${a.wDtype}`;
    const src = variant === 'register' ? matmulRegisterSrc : matmulSharedSrc;
    const pipeline = this.gpu.pipeline(key, () => specializeWeights(src, { w: a.wDtype }));
    const groups: [number, number] = variant === 'register'
      ? [Math.ceil(a.N / 32), Math.ceil(a.M / 32)]
      : [Math.ceil(a.N / 64), Math.ceil(a.M / 64)];
    const work: KernelWork = {
      flops: 2 * a.M * a.N * a.K,
      bytes: 4 * (a.M * a.K + a.M * a.N) + (a.wDtype === 'f16' ? 2 : 4) * a.K * a.N,
    };
    this.gpu.dispatch(key, pipeline, [a.x, a.w, a.bias ?? this.dummy, a.y], groups, {
      words: [a.M, a.N, a.K, a.sK, a.sN, a.wOff ?? 0, a.ldX ?? a.K, a.xOff ?? 0, a.ldY ?? a.N, a.yOff ?? 0, a.bias ? 1 : 0, a.biasOff ?? 0],
    }, work);
  }

  /** y = LayerNorm(x)·gamma + beta per row; stats receives (mean, rstd) per row. */
  layernorm(x: GPUBuffer, gamma: GPUBuffer, beta: GPUBuffer, y: GPUBuffer, stats: GPUBuffer, rows: number, d: number, eps: number): void {
    const pipeline = this.gpu.pipeline('layernorm', () => layernormSrc);
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

  attention(a: {
    qk: GPUBuffer; v: GPUBuffer; z: GPUBuffer; pattern?: GPUBuffer; scores?: GPUBuffer; redirect: GPUBuffer;
    B: number; T: number; H: number; dh: number;
    qBase: number; kBase: number; vBase: number; rowStrideQK: number; rowStrideV: number; headStrideQK: number; headStrideV: number;
  }): void {
    const DH = Math.ceil(a.dh / 4) * 4;
    const key = `attention-dh${DH}`;
    const pipeline = this.gpu.pipeline(key, () => attentionSrc.replace('/*DH*/64u', `${DH}u`));
    this.gpu.dispatch(key, pipeline, [a.qk, a.v, a.z, a.pattern ?? this.dummy, a.scores ?? this.dummy2, a.redirect], [Math.ceil(a.T / 64), a.H, a.B], {
      words: [a.B, a.T, a.H, a.dh, a.qBase, a.kBase, a.vBase, a.rowStrideQK, a.rowStrideV, a.headStrideQK, a.headStrideV,
        a.pattern ? 1 : 0, a.scores ? 1 : 0, 1 / Math.sqrt(a.dh)],
      floatMask: [false, false, false, false, false, false, false, false, false, false, false, false, false, true],
    }, { flops: 2 * a.B * a.H * a.T * a.T * a.dh, bytes: 4 * a.B * a.T * a.H * a.dh * (2 + a.T) });
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

  /**
   * Per-variant column overwrite: rows n of variant v = ⌊n / rowsPerVariant⌋ get
   * a[n, col0 .. col0+width) = values[valueOffset ..]; edits holds (col0, width, valueOffset) per variant.
   */
  setColumns(a: GPUBuffer, values: GPUBuffer, edits: GPUBuffer, rows: number, d: number, rowsPerVariant: number, maxWidth: number): void {
    const pipeline = this.gpu.pipeline('set-columns', () => elementwiseSrc, 'set_columns');
    const [gy, gz] = rowGrid(rows);
    this.gpu.dispatch('set-columns', pipeline, [a, values, edits], [Math.ceil(maxWidth / 64), gy, gz], { words: [rows, d, 0, rowsPerVariant] }, { flops: 0, bytes: 8 * rows * maxWidth });
  }
}
