// The forward pass with TransformerLens hook points, on the GPU. One code path for GPT-2 and
// GPT-NeoX (the spec's flags select the differences). Hooks are captured by in-stream copies, so
// only the requested activations are read back; `onHook` lets interventions edit any hooked
// activation in place on the GPU before the rest of the model consumes it.
import type { Gpu } from '../gpu/device.js';
import { Kernels, type KernelsOptions } from '../gpu/kernels.js';
import type { GpuMatrix } from '../gpu/tensor.js';
import type { ModelSpec } from './spec.js';
import type { Linear, ModelWeights } from './weights.js';
import { hookShape } from './hooks.js';

export interface HookSite {
  name: string;
  layer: number; // −1 before the first block, nLayers after the last
  buffer: GPUBuffer;
  /** Row width in floats (rows = B·T). */
  width: number;
  rows: number;
}

export interface ForwardRequest {
  /** Token ids, [B·T] row-major. */
  ids: ArrayLike<number>;
  batch: number;
  seq: number;
  /** Absolute position of each row (default: t within its sequence). */
  positions?: Uint32Array;
  /** Hook names to read back. */
  hooks?: Iterable<string>;
  /** 'all' reads back every logit [B·T, V]; a row list reads only those rows. */
  logits?: 'all' | 'none' | number[];
  /** Called at each hook point (in execution order) to record GPU edits of the activation. */
  onHook?: (site: HookSite) => void;
  /** Called after each layer's q, k, v exist: the fused qkv rows and the rows attention reads q, k from (rotated for rotary models). */
  onAttentionInputs?: (layer: number, qkv: { buffer: GPUBuffer; width: number }, qk: { buffer: GPUBuffer; width: number }) => void;
  /** Per layer, a [B, 2] table (head, query) redirecting that attention row to key 0 (0xffffffff = none). */
  redirect?: Map<number, Uint32Array>;
  /** Start at this layer from a given resid_pre (rows B·T, width d) instead of the embeddings. */
  start?: { layer: number; resid: GPUBuffer };
  /**
   * Rows that continue cached sequences (with `start`; B·T rows read as a flat list, T = 1): at each
   * layer l, row n attends to keys 0..prefix−1 from `qk(l)` / `v(l)` (another run's per-layer q/k and
   * fused qkv rows, e.g. CleanRun's `qk_attn` / `qkv`) and to keys prefix..t from rows of this batch —
   * rowInfo4 holds (cache row of position 0, t, prefix, row of position `prefix`) per row; `positions`
   * must hold each row's t. See shaders/single-position.wgsl (cached_attention).
   */
  cache?: { rowInfo4: Uint32Array; keys: number; qk: (layer: number) => GPUBuffer; v: (layer: number) => GPUBuffer };
  /** Stop after this layer's block (no unembedding; nll and logits are then empty). */
  stopAfterLayer?: number;
  /** false: skip the final LayerNorm's unembedding (nll and logits empty; ln_final hooks still run). */
  unembed?: boolean;
  /** false (with a `logits` row list): no loss — only those rows are unembedded (patching reads one position). */
  nll?: boolean;
  /** Next-token target of each row (−1: none) instead of the next position's id; the loss per row is then `rowNll`. */
  targets?: Int32Array;
  /**
   * At this layer the caller writes hook_z ([B·T, H·dh]) itself — e.g. from a cached run, with one
   * head's attention redirected — and ln1, q/k/v and attention are skipped (their hooks do not fire).
   */
  zAt?: { layer: number; write: (z: GPUBuffer) => void };
}

export interface CapturedHook {
  shape: number[];
  data: Float32Array;
}

export interface ForwardResult {
  /** [B, T−1] next-token loss. */
  nll: Float32Array;
  /** [B·T] loss per row (0 where a row has no target); empty without the loss. */
  rowNll: Float32Array;
  logits: Float32Array | null;
  hooks: Map<string, CapturedHook>;
  /** The final residual stream buffer (valid until the next forward of this size). */
  resid: GPUBuffer;
}

const NONE = 0xffffffff;

/** Activation buffers for one row count, reused across passes. */
export class Workspace {
  readonly buffers = new Map<string, GPUBuffer>();
  constructor(private gpu: Gpu, readonly rows: number) {}

  /** The per-row activations of one transformer block for `rows` rows (qkRot only with rotary embeddings). */
  blockActivations(spec: ModelSpec, rows: number) {
    const d = spec.dModel;
    return {
      resid: this.get('resid', rows * d),
      ln: this.get('ln', rows * d),
      stats: this.get('stats', rows * 2),
      qkv: this.get('qkv', rows * 3 * d),
      z: this.get('z', rows * d),
      attnOut: this.get('attn_out', rows * d),
      pre: this.get('pre', rows * spec.dMlp),
      post: this.get('post', rows * spec.dMlp),
      mlpOut: this.get('mlp_out', rows * d),
      qkRot: spec.positional === 'rotary' ? this.get('qk_rot', rows * 2 * d) : null,
    };
  }

  get(name: string, floats: number): GPUBuffer {
    const bytes = floats * 4;
    let b = this.buffers.get(name);
    if (!b || b.size < bytes) {
      b?.destroy();
      b = this.gpu.createBuffer(`act:${name}`, bytes);
      this.buffers.set(name, b);
    }
    return b;
  }
  /** The buffer `name`, sized for and filled with `data` (32-bit values). */
  upload(name: string, data: Uint32Array | Int32Array | Float32Array): GPUBuffer {
    const b = this.get(name, data.length);
    this.gpu.write(b, data);
    return b;
  }
  destroy(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
  }
}

interface PendingCapture {
  name: string;
  staging: GPUBuffer;
  floats: number;
  transform?: (raw: Float32Array) => Float32Array;
}

export class Transformer {
  readonly kernels: Kernels;
  /** Whether destroy() also frees the kernels' scratch (this model made its Kernels). */
  private readonly ownsKernels: boolean;
  private workspace: Workspace | null = null;
  /** Upper bound on vocabulary columns per logits chunk (tests lower it to exercise chunking). */
  vocabChunkCap = 32768;

  constructor(
    readonly gpu: Gpu,
    readonly spec: ModelSpec,
    readonly weights: ModelWeights,
    /** A Kernels to share (not freed by destroy()), or the options of this model's own. */
    kernels?: Kernels | KernelsOptions,
  ) {
    this.ownsKernels = !(kernels instanceof Kernels);
    this.kernels = kernels instanceof Kernels ? kernels : new Kernels(gpu, kernels);
  }

  /** Largest number of rows (B·T) per pass: each activation buffer fits one binding, all of them the memory budget. */
  maxRows(): number {
    const widest = Math.max(3 * this.spec.dModel, this.spec.dMlp, 2 * this.spec.dModel);
    const byBinding = Math.floor(this.gpu.maxBinding / (4 * widest));
    return Math.max(1, Math.min(byBinding, Math.floor(this.gpu.memoryBudget / this.bytesPerRow())));
  }

  /**
   * Budget bytes one row of a pass counts for: the block's activations (Workspace.blockActivations)
   * and a copy of its starting residual (runs from a cached layer), over 0.75 — rows get three
   * quarters of the budget, the logits chunk the last quarter (vocabChunk).
   */
  bytesPerRow(): number {
    const { dModel: d, dMlp: m } = this.spec;
    const rotary = this.spec.positional === 'rotary' ? 2 * d : 0;
    return Math.ceil((4 * (8 * d + 2 * m + rotary + 2) + 4 * d) / 0.75);
  }

  /** Vocabulary columns processed per logits chunk for `rows` rows (within one binding and a quarter of the memory budget). */
  vocabChunk(rows: number): number {
    const bytes = Math.min(this.gpu.maxBinding, this.gpu.memoryBudget / 4);
    return Math.max(1, Math.min(this.spec.vocab, this.vocabChunkCap, Math.floor(bytes / (4 * rows))));
  }

  workspaceFor(rows: number): Workspace {
    if (!this.workspace || this.workspace.rows !== rows) {
      this.workspace?.destroy();
      this.workspace = new Workspace(this.gpu, rows);
    }
    return this.workspace;
  }

  /** y = x · W + b for `rows` rows (the weights' own layout and storage dtype). */
  linear(x: GPUBuffer, lin: Linear, y: GPUBuffer, rows: number): void {
    this.kernels.matmul({
      x, w: lin.matrix.chunks[0].buffer, wDtype: lin.matrix.dtype, bias: lin.bias ?? undefined, y,
      M: rows, N: lin.N, K: lin.K, sK: lin.sK, sN: lin.sN,
    });
  }

  private gatherRows(ids: GPUBuffer, table: GpuMatrix, x: GPUBuffer, rows: number): void {
    for (const chunk of table.chunks) {
      this.kernels.embedGather(ids, chunk.buffer, table.dtype, x, rows, table.cols, chunk.rowStart, chunk.rowCount);
    }
  }

  async forward(req: ForwardRequest): Promise<ForwardResult> {
    const { spec, weights, kernels, gpu } = this;
    const { batch: B, seq: T } = req;
    const N = B * T;
    const d = spec.dModel;
    if (req.ids.length !== N) throw new Error(`forward: expected ${N} token ids (B=${B} × T=${T}), got ${req.ids.length}`);
    if (T > spec.nCtx) throw new Error(`forward: sequence length ${T} exceeds the model's context length ${spec.nCtx}`);
    const ws = this.workspaceFor(N);
    const hookSet = new Set(req.hooks ?? []);
    const captures: PendingCapture[] = [];

    const capture = (name: string, buffer: GPUBuffer, floats: number, transform?: PendingCapture['transform']) => {
      const staging = gpu.device.createBuffer({ label: `hook:${name}`, size: Math.max(16, floats * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      gpu.copy(buffer, 0, staging, 0, floats * 4);
      captures.push({ name, staging, floats, transform });
    };
    const site = (name: string, layer: number, buffer: GPUBuffer, width: number) => {
      req.onHook?.({ name, layer, buffer, width, rows: N });
      if (hookSet.has(name)) capture(name, buffer, N * width);
    };

    // Token ids, positions and next-token targets.
    const ids = new Uint32Array(N);
    const targets = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      const id = Number(req.ids[n]);
      if (!Number.isInteger(id) || id < 0 || id >= spec.vocab) {
        throw new Error(`forward: token id ${id} at row ${Math.floor(n / T)}, position ${n % T} is outside the vocabulary [0, ${spec.vocab})`);
      }
      ids[n] = id;
    }
    if (req.targets && req.targets.length !== N) throw new Error(`forward: expected ${N} targets, got ${req.targets.length}`);
    for (let n = 0; n < N; n++) targets[n] = req.targets ? req.targets[n] : n % T < T - 1 ? ids[n + 1] : -1;
    const positions = req.positions ?? Uint32Array.from({ length: N }, (_, n) => n % T);
    for (const p of positions) if (p >= spec.nCtx) throw new Error(`forward: position ${p} exceeds the context length ${spec.nCtx}`);
    const idsBuf = ws.upload('ids', ids);
    const posBuf = ws.upload('positions', positions);
    const targetsBuf = ws.upload('targets', targets);

    const { resid, ln, stats, qkv, z, attnOut, pre, post, mlpOut, qkRot } = ws.blockActivations(spec, N);
    const noRedirect = ws.get('redirect-none', B * 2);
    gpu.write(noRedirect, new Uint32Array(B * 2).fill(NONE));

    if (req.cache && (!req.start || !req.positions || req.cache.rowInfo4.length !== 4 * N)) {
      throw new Error('forward: cached rows need `start`, `positions` and 4 rowInfo4 entries per row');
    }
    const rowInfo4 = req.cache ? ws.upload('rowInfo4', req.cache.rowInfo4) : null;
    const startLayer = req.start?.layer ?? 0;
    if (req.start) {
      gpu.copy(req.start.resid, 0, resid, 0, N * d * 4);
    } else {
      this.gatherRows(idsBuf, weights.embed, resid, N);
      site('hook_embed', -1, resid, d);
      if (weights.positions) {
        this.gatherRows(posBuf, weights.positions, ln, N);
        site('hook_pos_embed', -1, ln, d);
        kernels.addInPlace(resid, ln, N * d);
      }
    }

    const lastLayer = req.stopAfterLayer ?? spec.nLayers - 1;
    for (let l = startLayer; l <= lastLayer; l++) {
      const w = weights.layers[l];
      const b = `blocks.${l}`;
      site(`${b}.hook_resid_pre`, l, resid, d);
      if (req.zAt?.layer === l) {
        req.zAt.write(z); // the caller provides this layer's z: ln1, q/k/v and attention are skipped
      } else {
        kernels.layernorm(resid, w.ln1.gamma, w.ln1.beta, ln, stats, N, d, spec.eps);
        site(`${b}.ln1.hook_normalized`, l, ln, d);
        this.linear(ln, w.qkv, qkv, N);
        for (const [part, base] of [['q', spec.qkv.qBase], ['k', spec.qkv.kBase], ['v', spec.qkv.vBase]] as const) {
          const name = `${b}.attn.hook_${part}`;
          if (hookSet.has(name)) capture(name, qkv, N * 3 * d, (raw) => this.sliceHeads(raw, N, 3 * d, base, spec.qkv.headStride));
        }
        let qkSource = qkv;
        let qk = { qBase: spec.qkv.qBase, kBase: spec.qkv.kBase, rowStride: 3 * d, headStride: spec.qkv.headStride };
        if (qkRot && weights.rotaryTable) {
          kernels.rotary({ qkv, cosSin: weights.rotaryTable, positions: posBuf, out: qkRot, rows: N, H: spec.nHeads, dh: spec.dHead, rot: spec.rotaryDims, ldQKV: 3 * d, qBase: spec.qkv.qBase, kBase: spec.qkv.kBase, headStride: spec.qkv.headStride });
          for (const [part, base] of [['q', 0], ['k', d]] as const) {
            const name = `${b}.attn.hook_rot_${part}`;
            if (hookSet.has(name)) capture(name, qkRot, N * 2 * d, (raw) => this.sliceHeads(raw, N, 2 * d, base, spec.dHead));
          }
          qkSource = qkRot;
          qk = { qBase: 0, kBase: d, rowStride: 2 * d, headStride: spec.dHead };
        }
        req.onAttentionInputs?.(l, { buffer: qkv, width: 3 * d }, { buffer: qkSource, width: qk.rowStride });
        const patternName = `${b}.attn.hook_pattern`;
        const scoresName = `${b}.attn.hook_attn_scores`;
        const patternFloats = B * spec.nHeads * T * T;
        if ((hookSet.has(patternName) || hookSet.has(scoresName)) && patternFloats * 4 > gpu.maxBinding) {
          throw new Error(`hook_pattern for B=${B}, T=${T} needs ${patternFloats * 4} bytes, over this adapter's binding limit ${gpu.maxBinding}: use fewer sequences per batch`);
        }
        const pattern = hookSet.has(patternName) ? ws.get('pattern', patternFloats) : undefined;
        const scores = hookSet.has(scoresName) ? ws.get('scores', patternFloats) : undefined;
        const redirectTable = req.redirect?.get(l);
        let redirect = noRedirect;
        if (redirectTable) {
          redirect = ws.get(`redirect-${l}`, B * 2);
          gpu.write(redirect, redirectTable);
        }
        if (req.cache && rowInfo4) {
          if (pattern || scores || redirectTable) throw new Error('forward: cached rows give no attention pattern / scores and take no redirect');
          kernels.cachedAttention({
            qkNew: qkSource, vNew: qkv, qkCache: req.cache.qk(l), vCache: req.cache.v(l), rowInfo4, z, rows: N, H: spec.nHeads, dh: spec.dHead,
            ldQK: qk.rowStride, qBase: qk.qBase, kBase: qk.kBase, headStrideQK: qk.headStride, ldV: 3 * d, vBase: spec.qkv.vBase, headStrideV: spec.qkv.headStride,
            keys: req.cache.keys,
          });
        } else {
          kernels.attention({
            qk: qkSource, v: qkv, z, pattern, scores, redirect, B, T, H: spec.nHeads, dh: spec.dHead,
            qBase: qk.qBase, kBase: qk.kBase, vBase: spec.qkv.vBase, rowStrideQK: qk.rowStride, rowStrideV: 3 * d,
            headStrideQK: qk.headStride, headStrideV: spec.qkv.headStride,
          });
        }
        if (scores) capture(scoresName, scores, patternFloats);
        if (pattern) capture(patternName, pattern, patternFloats);
      }
      site(`${b}.attn.hook_z`, l, z, d);
      this.linear(z, w.attnOut, attnOut, N);
      site(`${b}.hook_attn_out`, l, attnOut, d);
      if (spec.parallelResidual) {
        kernels.layernorm(resid, w.ln2.gamma, w.ln2.beta, ln, stats, N, d, spec.eps);
      } else {
        kernels.addInPlace(resid, attnOut, N * d);
        site(`${b}.hook_resid_mid`, l, resid, d);
        kernels.layernorm(resid, w.ln2.gamma, w.ln2.beta, ln, stats, N, d, spec.eps);
      }
      site(`${b}.ln2.hook_normalized`, l, ln, d);
      this.linear(ln, w.mlpIn, pre, N);
      site(`${b}.mlp.hook_pre`, l, pre, spec.dMlp);
      kernels.gelu(spec.gelu, pre, post, N * spec.dMlp);
      site(`${b}.mlp.hook_post`, l, post, spec.dMlp);
      this.linear(post, w.mlpOut, mlpOut, N);
      site(`${b}.hook_mlp_out`, l, mlpOut, d);
      if (spec.parallelResidual) kernels.addInPlace(resid, attnOut, N * d);
      kernels.addInPlace(resid, mlpOut, N * d);
      site(`${b}.hook_resid_post`, l, resid, d);
    }

    let nll = new Float32Array(0);
    let rowNll: Float32Array = new Float32Array(0);
    let logits: Float32Array | null = null;
    if (lastLayer === spec.nLayers - 1) {
      kernels.layernorm(resid, weights.lnFinal.gamma, weights.lnFinal.beta, ln, stats, N, d, spec.eps);
      site('ln_final.hook_normalized', spec.nLayers, ln, d);
      if (req.unembed !== false && req.nll === false && Array.isArray(req.logits)) {
        // Only the wanted rows, gathered into a small buffer, go through the [d, V] product.
        const rows = req.logits;
        const picked = ws.get('ln-picked', Math.max(1, rows.length) * d);
        const pairs = ws.upload('ln-picked-rows', Uint32Array.from(rows.flatMap((r, j) => [j, r])));
        kernels.copyRows(picked, ln, pairs, rows.length, d);
        const noTargets = ws.upload('ln-picked-targets', new Int32Array(Math.max(1, rows.length)).fill(-1));
        if (rows.length) logits = (await this.unembed(picked, noTargets, rows.length, 'all', ws)).logits;
      } else if (req.unembed !== false) {
        const result = await this.unembed(ln, targetsBuf, N, req.logits ?? 'none', ws);
        logits = result.logits;
        rowNll = result.nll;
        nll = new Float32Array(B * (T - 1));
        for (let bb = 0; bb < B; bb++) nll.set(rowNll.subarray(bb * T, bb * T + T - 1), bb * (T - 1));
      }
    }

    await gpu.sync();
    const hooks = new Map<string, CapturedHook>();
    for (const c of captures) {
      await c.staging.mapAsync(GPUMapMode.READ);
      const raw = new Float32Array(c.staging.getMappedRange().slice(0, c.floats * 4));
      c.staging.unmap();
      c.staging.destroy();
      hooks.set(c.name, { shape: hookShape(spec, c.name, B, T), data: c.transform ? c.transform(raw) : raw });
    }
    return { nll, rowNll, logits, hooks, resid };
  }

  /** [rows, width] with head h's dh values at base + h·headStride → [rows, H, dh]. */
  private sliceHeads(raw: Float32Array, rows: number, width: number, base: number, headStride: number): Float32Array {
    const { nHeads: H, dHead: dh } = this.spec;
    const out = new Float32Array(rows * H * dh);
    for (let r = 0; r < rows; r++) {
      for (let h = 0; h < H; h++) {
        const src = r * width + base + h * headStride;
        out.set(raw.subarray(src, src + dh), (r * H + h) * dh);
      }
    }
    return out;
  }

  /**
   * Logits chunk by chunk over the vocabulary with a streaming log-sum-exp: the full [rows, V]
   * matrix never exists on the GPU. Returns nll per row (0 where there is no target) and, if asked,
   * logits read back.
   */
  async unembed(x: GPUBuffer, targets: GPUBuffer, rows: number, want: 'all' | 'none' | number[], ws: Workspace): Promise<{ nll: Float32Array; logits: Float32Array | null }> {
    const { spec, kernels, gpu } = this;
    const V = spec.vocab;
    const d = spec.dModel;
    const cols = this.vocabChunk(rows);
    const chunk = ws.get('logits-chunk', rows * cols);
    const state = ws.get('lse-state', rows * 3);
    const nllBuf = ws.get('nll', rows);
    const selected = want === 'all' ? null : want === 'none' ? [] : want;
    const outRows = selected ? selected.length : rows;
    const logits = want === 'none' ? null : new Float32Array(outRows * V);
    let pairs: GPUBuffer | null = null;
    let compact: GPUBuffer | null = null;
    if (selected && selected.length) {
      pairs = ws.get('logit-rows', selected.length * 2);
      gpu.write(pairs, Uint32Array.from(selected.flatMap((r, j) => [j, r])));
      compact = ws.get('logits-compact', selected.length * cols);
    }
    let first = true;
    for (const wChunk of this.weights.unembed.chunks) {
      for (let v0 = wChunk.rowStart; v0 < wChunk.rowStart + wChunk.rowCount; v0 += cols) {
        const n = Math.min(cols, wChunk.rowStart + wChunk.rowCount - v0);
        kernels.matmul({ x, w: wChunk.buffer, wDtype: this.weights.unembed.dtype, y: chunk, M: rows, N: n, K: d, sK: 1, sN: d, wOff: (v0 - wChunk.rowStart) * d });
        kernels.lseUpdate(chunk, targets, state, rows, n, n, v0, first);
        first = false;
        if (logits) {
          let part: Float32Array;
          if (compact && pairs && selected) {
            kernels.copyRows(compact, chunk, pairs, selected.length, n);
            part = await gpu.readF32(compact, 0, selected.length * n);
          } else {
            part = await gpu.readF32(chunk, 0, rows * n);
          }
          for (let r = 0; r < outRows; r++) logits.set(part.subarray(r * n, (r + 1) * n), r * V + v0);
        }
      }
    }
    kernels.nllFinalize(targets, state, nllBuf, rows);
    const nll = await gpu.readF32(nllBuf, 0, rows);
    return { nll, logits };
  }

  destroy(): void {
    this.workspace?.destroy();
    this.workspace = null;
    if (this.ownsKernels) this.kernels.releaseScratch();
  }
}
