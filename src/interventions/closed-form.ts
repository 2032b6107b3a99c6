// Strategy "final-layer-closed-form": exact final-layer neuron ablations without re-running the
// model (algebra in shaders/neuron-closed-form.wgsl). Per (row, neuron) pair one streamed pass
// over the vocabulary; the per-neuron unembedded directions B_i are produced one vocabulary chunk
// at a time by a matrix product and consumed at once, never stored whole. Each pair's log-sum-exp
// is taken against a cheap upper bound of its logits (one pass, one exp per logit); a tile whose
// bound proved too loose for f32 (flagged by the shader, not expected on real models) is rerun
// with exact per-pair maxima, so the numbers never depend on the bound.
import type { Transformer } from '../model/forward.js';
import type { Gpu } from '../gpu/device.js';
import type { CleanRun } from './clean-run.js';
import { isSoftwareAdapter, rowGrid, specializeWeights, withIncludes } from '../gpu/kernels.js';
import { envChoice } from '../gpu/env.js';
import { cachedChoice } from '../gpu/autotune.js';
import type { StorageDType } from '../gpu/tensor.js';
import type { Linear } from '../model/weights.js';
import source from '../../shaders/neuron-closed-form.wgsl';
import { allFinite } from './finite.js';

interface Bindings { [binding: number]: GPUBuffer }

/** One dispatch of an entry point of neuron-closed-form.wgsl; `w` is the matrix bound as `w` (rows i at i·sK, columns j at j·sN). */
function dispatchClosedForm(
  model: Transformer, entry: string,
  config: { rows: number; w: Linear; suffix?: string; source?: (dtype: StorageDType) => string },
  bindings: Bindings, groups: [number, number?, number?], params: Partial<Record<string, number>>, flops = 0,
): void {
  const { gpu, spec } = model;
  const { w } = config;
  const key = `neuron-closed-form-${entry}-${w.matrix.dtype}${config.suffix ?? ''}`;
  const pipeline = gpu.pipeline(key, () => config.source?.(w.matrix.dtype) ?? withIncludes(specializeWeights(source, { w: w.matrix.dtype })), entry);
  const buffers: (GPUBuffer | null)[] = [];
  for (const [k, b] of Object.entries(bindings)) buffers[Number(k)] = b;
  for (let i = 0; i < buffers.length; i++) buffers[i] ??= null;
  const v = (name: string) => params[name] ?? 0;
  const words = [config.rows, spec.dModel, spec.dMlp, v('mc'), v('i0'), spec.dMlp, v('cols'), v('vocabStart'), v('first'), v('useMeans'), w.sK, w.sN, 0, spec.eps, v('exact'), v('slack')];
  const floatMask = words.map((_, i) => i === 13 || i === 15);
  gpu.dispatch(key, pipeline, buffers, groups, { words, floatMask, binding: 6 }, { flops, bytes: 0 });
}

/** The final LayerNorm's centring of x [rows, d_model]: u = x − mean, gu = γ⊙u, norms = |u|² per row. */
export function centerRows(model: Transformer, x: GPUBuffer, rows: number, u: GPUBuffer, gu: GPUBuffer, norms: GPUBuffer): void {
  const { weights, spec } = model;
  dispatchClosedForm(model, 'center_rows', { rows, w: weights.layers[spec.nLayers - 1].mlpOut }, { 0: x, 2: weights.lnFinal.gamma, 3: u, 4: gu, 5: norms }, rowGrid(rows), {});
}

/** Rows i0 .. i0+count of a weight matrix (W(i, j), j < d_model), centred like a residual: v, gv = γ⊙v (final LayerNorm's γ), norms = |v|². */
export function centerWeightRows(model: Transformer, w: Linear, i0: number, count: number, v: GPUBuffer, gv: GPUBuffer, norms: GPUBuffer): void {
  dispatchClosedForm(model, 'center_weights', { rows: 0, w }, { 1: w.matrix.chunks[0].buffer, 2: model.weights.lnFinal.gamma, 3: v, 4: gv, 5: norms }, [count], { mc: count, i0 });
}

/** A pair-loop variant as text: KERNEL[:mixed][:factor], e.g. 'tiled:mixed' (bench --pair-variants, the autotune cache). */
export type PairVariant = Required<Pick<ClosedFormOptions, 'kernel' | 'exp' | 'bias'>>;

/** The autotune cache's key for the pair-loop variant (src/gpu/autotune.ts cachedChoice). */
export const PAIR_CACHE_KEY = 'closed-form-pair';

export function formatPairVariant(v: PairVariant): string {
  return `${v.kernel}${v.exp === 'mixed' ? ':mixed' : ''}${v.bias === 'factor' ? ':factor' : ''}`;
}

/** Parses KERNEL[:mixed][:factor]; an error naming `where` when it is not one. */
export function parsePairVariant(text: string, where: string): PairVariant {
  const [kernel, ...flags] = text.split(':');
  if (kernel !== 'tiled' && kernel !== 'direct') throw new Error(`${where}: unknown pair kernel "${kernel}" in "${text}" (tiled or direct)`);
  const v: PairVariant = { kernel, exp: 'hardware', bias: 'in-exp' };
  for (const f of flags) {
    if (f === 'mixed') v.exp = 'mixed';
    else if (f === 'factor') v.bias = 'factor';
    else throw new Error(`${where}: unknown pair-loop flag "${f}" in "${text}" (mixed or factor)`);
  }
  return v;
}

/**
 * The pair-loop variant a sweep on this adapter runs. Each of kernel / exp / bias: the option, else
 * its environment switch, else the autotune cache's choice for this adapter (`plateau profile
 * --sweep neurons --autotune`), else the adapter default (tiled on GPUs, direct on CPU adapters).
 */
export function pairVariantFor(gpu: Gpu, options: ClosedFormOptions = {}): PairVariant {
  const tunedText = cachedChoice(gpu, PAIR_CACHE_KEY);
  let tuned: PairVariant | undefined;
  try {
    tuned = tunedText ? parsePairVariant(tunedText, 'autotune cache') : undefined;
  } catch {
    tuned = undefined; // written by another version: ignore
  }
  return {
    kernel: options.kernel ?? envChoice('PLATEAU_PAIR_KERNEL', ['tiled', 'direct'] as const, 'unknown pair kernel') ?? tuned?.kernel ?? (isSoftwareAdapter(gpu) ? 'direct' : 'tiled'),
    exp: options.exp ?? envChoice('PLATEAU_PAIR_EXP', ['hardware', 'mixed'] as const, 'unknown pair exp') ?? tuned?.exp ?? 'hardware',
    bias: options.bias ?? envChoice('PLATEAU_PAIR_BIAS', ['in-exp', 'factor'] as const, 'unknown pair bias') ?? tuned?.bias ?? 'in-exp',
  };
}

export interface ClosedFormOptions {
  /** Pair kernel: workgroup tiles (GPUs) or direct reads (CPU adapters); default by adapter, env PLATEAU_PAIR_KERNEL. */
  kernel?: 'tiled' | 'direct';
  /** Per-pair reference: the cheap bound with exact fallback, or always the exact maximum (a second pass); env PLATEAU_PAIR_BOUNDS. */
  bounds?: 'fast' | 'exact';
  /**
   * exp2 of the pair loop: the hardware's, or 'mixed' — a quarter of the terms from an FMA-only
   * polynomial (same accuracy), for GPUs whose special-function units limit the loop; env PLATEAU_PAIR_EXP.
   */
  exp?: 'hardware' | 'mixed';
  /**
   * How e (the unembedded LayerNorm bias) enters each term: inside the exp2 (an add per term), or
   * 'factor' — 2^e once per column, multiplied in with the accumulation (one op per term less; fast
   * mode only); env PLATEAU_PAIR_BIAS.
   */
  bias?: 'in-exp' | 'factor';
  /** Test hook: added to every fast bound (log2 units), to exercise the fallback. */
  slack?: number;
  /** Benchmark hook: a named edit of the shader text (diagnostic variants in bench/sweeps.ts). */
  sourceEdit?: { name: string; apply: (code: string) => string };
}

export class FinalLayerNeuronSweep {
  private readonly rows: number;
  private readonly u: GPUBuffer;
  private readonly gu: GPUBuffer;
  private readonly unorm: GPUBuffer;
  private readonly targets: GPUBuffer;
  private readonly beta: GPUBuffer;
  private readonly owned: GPUBuffer[] = [];
  /** Direct-read pair kernel (CPU adapters) instead of workgroup tiles. */
  private readonly software: boolean;
  private readonly alwaysExact: boolean;
  private readonly slack: number;
  private readonly mixedExp: boolean;
  private readonly factorE: boolean;
  private readonly sourceEdit?: ClosedFormOptions['sourceEdit'];
  /** The pair-loop variant in use (KERNEL[:mixed][:factor]). */
  get variant(): string {
    return formatPairVariant({ kernel: this.software ? 'direct' : 'tiled', exp: this.mixedExp ? 'mixed' : 'hardware', bias: this.factorE ? 'factor' : 'in-exp' });
  }

  /** Neuron tiles recomputed with exact maxima because a fast bound was too loose. */
  exactReruns = 0;
  /** The clean column's nll [B, T−1] from the last tile: the same arithmetic as every ablation, checkable against a forward pass. */
  cleanNll = new Float32Array(0);

  constructor(private model: Transformer, private clean: CleanRun, options: ClosedFormOptions = {}) {
    const { gpu, spec } = model;
    const d = spec.dModel;
    const N = clean.B * clean.T;
    this.rows = N;
    const variant = pairVariantFor(gpu, options);
    this.software = variant.kernel === 'direct';
    this.alwaysExact = (options.bounds ?? envChoice('PLATEAU_PAIR_BOUNDS', ['fast', 'exact'] as const, 'unknown bounds mode')) === 'exact';
    this.slack = options.slack ?? 0;
    this.sourceEdit = options.sourceEdit;
    this.factorE = variant.bias === 'factor';
    this.mixedExp = variant.exp === 'mixed';
    // State per pair: 3 floats; at least one neuron plus the clean column per tile.
    if (N * 24 > gpu.maxBinding) throw new Error(`closed-form neuron sweep: ${N} rows exceed this adapter's binding limit; use fewer rows`);
    this.u = this.buffer('cf:u', N * d);
    this.gu = this.buffer('cf:gu', N * d);
    this.unorm = this.buffer('cf:unorm', N);
    const targets = new Int32Array(N);
    for (let n = 0; n < N; n++) targets[n] = n % clean.T < clean.T - 1 ? clean.ids[n + 1] : -1;
    this.targets = this.owned[this.owned.push(gpu.upload('cf:targets', targets)) - 1];
    this.beta = model.weights.lnFinal.beta;
    centerRows(model, clean.buffer('final_resid'), N, this.u, this.gu, this.unorm);
  }

  private buffer(label: string, floats: number): GPUBuffer {
    const b = this.model.gpu.createBuffer(label, floats * 4);
    this.owned.push(b);
    return b;
  }

  private dispatch(entry: string, bindings: Bindings, groups: [number, number?, number?], params: Partial<Record<string, number>>, flops = 0): void {
    const { spec, weights } = this.model;
    const suffix = `${this.mixedExp ? '-mixed-exp' : ''}${this.factorE ? '-factor-e' : ''}${this.sourceEdit ? `-${this.sourceEdit.name}` : ''}`;
    dispatchClosedForm(this.model, entry, { rows: this.rows, w: weights.layers[spec.nLayers - 1].mlpOut, suffix, source: (dtype) => this.shaderSource(dtype) }, bindings, groups, params, flops);
  }

  private shaderSource(wDtype: StorageDType): string {
    let code = withIncludes(specializeWeights(source, { w: wDtype }));
    const enable = (name: string) => {
      const fixed = code.replace(`const ${name}: bool = false;`, `const ${name}: bool = true;`);
      if (fixed === code) throw new Error(`neuron-closed-form.wgsl: constant ${name} not found`);
      code = fixed;
    };
    if (this.mixedExp) enable('MIXED_EXP');
    if (this.factorE) enable('FACTOR_E');
    return this.sourceEdit ? this.sourceEdit.apply(code) : code;
  }

  /**
   * Neurons per tile so that the per-pair state (plus the clean column) fits one binding and all
   * per-pair buffers (state 12, pair factors 8, u·v 4, dnll 4, exact maxima 4 bytes) the memory budget.
   */
  neuronsPerTile(): number {
    const { maxBinding, memoryBudget } = this.model.gpu;
    return Math.max(1, Math.min(Math.floor(maxBinding / (12 * this.rows)), Math.floor(memoryBudget / (32 * this.rows))) - 1);
  }

  /**
   * dnll [count, B, T−1] for neurons i0 .. i0+count of the final layer, each set to 0, to `means`
   * (one value per neuron), or to `source` (another run's hook_post [B·T, d_mlp], position by position).
   */
  async run(i0: number, count: number, means: Float32Array | null, source?: GPUBuffer, onProgress?: (fraction: number) => void): Promise<Float32Array> {
    const { clean } = this;
    const out = new Float32Array(count * clean.B * (clean.T - 1));
    const tile = this.neuronsPerTile();
    for (let t0 = 0; t0 < count; t0 += tile) {
      const mc = Math.min(tile, count - t0);
      // Progress within the tile, by vocabulary chunk (a rerun starts the tile's share again).
      const tileProgress = onProgress && ((f: number) => onProgress((t0 + f * mc) / count));
      let part = await this.runTile(i0 + t0, mc, means, source, this.alwaysExact, tileProgress);
      if (!part) {
        this.exactReruns++;
        part = (await this.runTile(i0 + t0, mc, means, source, true, tileProgress))!;
      }
      out.set(part, t0 * clean.B * (clean.T - 1));
    }
    return out;
  }

  /** dnll of one neuron tile, or null when a fast bound was too loose (then rerun with exact = true). */
  private async runTile(i0: number, mc: number, means: Float32Array | null, source: GPUBuffer | undefined, exact: boolean, onProgress?: (fraction: number) => void): Promise<Float32Array | null> {
    const { model, clean, rows: N } = this;
    const { gpu, spec, kernels, weights } = model;
    const d = spec.dModel;
    const L = spec.nLayers - 1;
    const wOut = weights.layers[L].mlpOut;
    const scratch: GPUBuffer[] = [];
    const tmp = (label: string, floats: number) => {
      const b = gpu.createBuffer(label, floats * 4);
      scratch.push(b);
      return b;
    };
    // Pair columns: the tile's mc neurons, then the clean column (v = 0 and c = 0: nothing ablated).
    const pc = mc + 1;
    const v = tmp('cf:v', pc * d);
    const gv = tmp('cf:gv', pc * d);
    const vnorm = tmp('cf:vnorm', pc);
    centerWeightRows(model, wOut, i0, mc, v, gv, vnorm); // the clean column's v stays 0
    const uv = tmp('cf:uv', N * pc);
    kernels.matmul({ x: this.u, w: v, wDtype: 'f32', y: uv, M: N, N: pc, K: d, sK: 1, sN: d });
    const pairs = tmp('cf:pairs', N * pc * 2);
    const meansBuf = source ?? (means ? gpu.upload('cf:means', means) : kernels.placeholder);
    if (means && !source) scratch.push(meansBuf);
    const post = clean.buffer(`blocks.${L}.mlp.hook_post`);
    const [gy, gz] = rowGrid(N);
    this.dispatch('pair_prep', { 7: post, 8: meansBuf, 9: uv, 10: this.unorm, 11: vnorm, 12: pairs }, [Math.ceil(pc / 64), gy, gz], { mc: pc, i0, useMeans: source ? 2 : means ? 1 : 0 });
    const cols = Math.max(1, Math.min(model.vocabChunk(Math.max(N, pc)), 8192));
    const aChunk = tmp('cf:A', N * cols);
    const bChunk = tmp('cf:B', pc * cols);
    const eChunk = tmp('cf:e', cols);
    const state = tmp('cf:state', N * pc * 3);
    const bounds = tmp('cf:bounds', N + pc + 1);
    const pairBound = exact ? tmp('cf:pair-bound', N * pc) : kernels.placeholder;
    let first = true;
    for (const w of weights.unembed.chunks) {
      for (let v0 = w.rowStart; v0 < w.rowStart + w.rowCount; v0 += cols) {
        const n = Math.min(cols, w.rowStart + w.rowCount - v0);
        const wOff = (v0 - w.rowStart) * d;
        const wDtype = weights.unembed.dtype;
        kernels.matmul({ x: this.gu, w: w.buffer, wDtype, y: aChunk, M: N, N: n, K: d, sK: 1, sN: d, wOff });
        kernels.matmul({ x: gv, w: w.buffer, wDtype, y: bChunk, M: pc, N: n, K: d, sK: 1, sN: d, wOff });
        kernels.matmul({ x: this.beta, w: w.buffer, wDtype, y: eChunk, M: 1, N: n, K: d, sK: 1, sN: d, wOff });
        const chunkParams = { mc: pc, cols: n, vocabStart: v0, first: first ? 1 : 0, exact: exact ? 1 : 0, slack: this.slack };
        this.dispatch('chunk_bounds', { 15: aChunk, 16: bChunk, 17: eChunk, 20: bounds }, rowGrid(N + pc + 1), chunkParams);
        if (exact) this.dispatch('pair_max_exact', { 12: pairs, 15: aChunk, 16: bChunk, 17: eChunk, 21: pairBound }, [Math.ceil(pc / 64), gy, gz], chunkParams, 4 * N * pc * n);
        // Workgroup-memory tiles on GPUs; direct reads on CPU adapters, where barriers are slow.
        const [entry, perGroup] = this.software ? ['pair_lse_update_direct', 32] : ['pair_lse_update', 64];
        this.dispatch(entry, { 12: pairs, 13: this.targets, 14: state, 15: aChunk, 16: bChunk, 17: eChunk, 20: bounds, 21: pairBound },
          [Math.ceil(pc / perGroup), Math.ceil(N / perGroup)], chunkParams, 6 * N * pc * n);
        first = false;
        if (onProgress) {
          // Only when someone watches: waiting for the GPU per chunk makes the fraction true.
          await gpu.sync();
          onProgress((v0 + n) / spec.vocab);
        }
      }
    }
    const dnllBuf = tmp('cf:dnll', pc * N); // the last row: the clean column's nll
    const flags = gpu.upload('cf:flags', new Uint32Array(1));
    scratch.push(flags);
    this.dispatch('pair_finalize', { 13: this.targets, 14: state, 19: dnllBuf, 22: flags }, [Math.ceil(pc / 64), gy, gz], { mc: pc });
    const raw = await gpu.readF32(dnllBuf, 0, pc * N);
    // A NaN or infinite logit shows in the Σ flag or, where the FMA exp2 hides it, in the target logit.
    const tooLoose = new Uint32Array((await gpu.readF32(flags, 0, 1)).buffer)[0] !== 0 || !allFinite(raw);
    for (const b of scratch) b.destroy();
    if (tooLoose && !exact) return null;
    // With exact maxima every pair's Σ is ≥ 1 unless a logit is NaN or infinite.
    if (tooLoose) throw new Error(`closed-form neuron sweep: non-finite logits for neurons ${i0}..${i0 + mc - 1} of the final layer (NaN or infinity in the final residual, W_out or the unembedding?)`);
    const { B, T } = clean;
    const out = new Float32Array(pc * B * (T - 1));
    for (let i = 0; i < pc; i++) for (let b = 0; b < B; b++) {
      out.set(raw.subarray(i * N + b * T, i * N + b * T + T - 1), (i * B + b) * (T - 1));
    }
    this.cleanNll = out.slice(mc * B * (T - 1));
    return out.subarray(0, mc * B * (T - 1));
  }

  destroy(): void {
    // The constructor records work on these buffers (centerRows): submit it before they go, or the
    // next submit of this device would reference destroyed buffers.
    this.model.gpu.flush();
    for (const b of this.owned) b.destroy();
  }
}
