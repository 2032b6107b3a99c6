// Strategy "final-layer-closed-form" for heads: exact zero / mean / resample ablations of the final layer's
// attention heads without re-running the model, where the head's output reaches the final residual
// directly (parallel-residual blocks: GPT-NeoX / Pythia; in sequential blocks the final MLP reads
// the attention output, so GPT-2 keeps the batched strategy). Algebra in
// shaders/final-layer-heads.wgsl: per head one [rows, dh]·[dh, V] product with the per-head
// factor F_h = W_U diag(γ) V_hᵀ — made one vocabulary chunk at a time for all heads by one
// [count·dh, d]·[d, chunk] product, never stored whole — then a streaming log-sum-exp per row.
// Per vocabulary entry that costs d·dh per head for F plus rows·dh per head for δ·F, against
// rows·d per head for unembedding each head's shifted residual directly; so with few rows
// (rows·(d − dh) ≤ d·dh, e.g. ≤ 70 rows at d 768, dh 64) the direct product is used instead.
// Either way a head costs at most one unembedding, not a forward pass. The clean nll comes from a
// clean column through the same arithmetic, so a no-op ablation gives exactly 0.
import type { Transformer } from '../model/forward.js';
import type { CleanRun } from './clean-run.js';
import { rowGrid, withIncludes } from '../gpu/kernels.js';
import { centerRows, centerWeightRows } from './closed-form.js';
import { finalHeadsHaveClosedForm } from './plan.js';
import source from '../../shaders/final-layer-heads.wgsl';
import { allFinite } from './finite.js';

export type FinalHeadsMode = 'factor' | 'direct';

export class FinalLayerHeadSweep {
  private readonly rows: number;
  private readonly owned: GPUBuffer[] = [];
  private readonly gu: GPUBuffer;
  private readonly targets: GPUBuffer;
  /** γ⊙(centred rows of W_O), [d, d]: rows h·dh + j. */
  private readonly gv: GPUBuffer;
  /** Per head δ = m − z [rows, dh] and 1/σ' [rows]; index H is the clean column (inv only). */
  private readonly delta: GPUBuffer[] = [];
  private readonly inv: GPUBuffer[] = [];

  /** 'factor': δ·F_h with F_h made per chunk; 'direct': the unembedded γ⊙δ·V_h; default by cost (header). */
  readonly mode: FinalHeadsMode;
  /** The clean column's nll [B, T−1] from the last run: the same arithmetic as every ablation, checkable against a forward pass. */
  cleanNll = new Float32Array(0);

  /**
   * Heads are set to 0, to `means` ([H·dh], hook_z's column means), or to `source` (another run's
   * hook_z of the final layer [B·T, H·dh], position by position: resampling).
   */
  constructor(private model: Transformer, private clean: CleanRun, means: Float32Array | null, mode?: FinalHeadsMode, source?: GPUBuffer) {
    if (!finalHeadsHaveClosedForm(model.spec)) throw new Error('the final-layer head closed form needs parallel-residual blocks (GPT-NeoX / Pythia)');
    const { spec, weights, kernels } = model;
    const { nHeads: H, dHead: dh, dModel: d } = spec;
    const L = spec.nLayers - 1;
    const N = clean.B * clean.T;
    this.rows = N;
    this.mode = mode ?? (N * (d - dh) > d * dh ? 'factor' : 'direct');
    if (means && means.length !== d) throw new Error(`mean activations of blocks.${L}.attn.hook_z: expected ${d} values, got ${means.length}`);
    const u = this.buffer('fh:u', N * d);
    this.gu = this.buffer('fh:gu', N * d);
    centerRows(model, clean.buffer('final_resid'), N, u, this.gu, this.buffer('fh:unorm', N));
    const v = this.buffer('fh:v', d * d);
    this.gv = this.buffer('fh:gv', d * d);
    const wO = weights.layers[L].attnOut;
    centerWeightRows(model, wO, 0, d, v, this.gv, this.buffer('fh:vnorm', d));
    const targets = new Int32Array(N);
    for (let n = 0; n < N; n++) targets[n] = n % clean.T < clean.T - 1 ? clean.ids[n + 1] : -1;
    this.targets = this.upload('fh:targets', targets);
    const z = clean.buffer(`blocks.${L}.attn.hook_z`);
    const meansBuf = source ?? (means ? this.upload('fh:means', means) : kernels.placeholder);
    const shift = this.buffer('fh:shift', N * d);
    const [gy, gz] = rowGrid(N);
    for (let h = 0; h < H; h++) {
      const delta = this.buffer(`fh:delta${h}`, N * dh);
      this.delta.push(delta);
      this.dispatch('head_delta', { 0: z, 1: meansBuf, 2: delta }, [Math.ceil(dh / 64), gy, gz], { head: h, useMeans: source ? 2 : means ? 1 : 0 });
      // δ·V_h: the centred residual's shift (rows h·dh .. of V).
      kernels.matmul({ x: delta, w: v, wDtype: 'f32', y: shift, M: N, N: d, K: dh, sK: d, sN: 1, wOff: h * dh * d });
      this.inv.push(this.buffer(`fh:inv${h}`, N));
      this.dispatch('shifted_inv', { 3: u, 4: shift, 5: this.inv[h] }, rowGrid(N), { shifted: 1 });
    }
    // The clean column (index H): no shift (the binding is required but not read).
    this.inv.push(this.buffer('fh:inv-clean', N));
    this.dispatch('shifted_inv', { 3: u, 4: shift, 5: this.inv[H] }, rowGrid(N), { shifted: 0 });
  }

  private buffer(label: string, floats: number): GPUBuffer {
    const b = this.model.gpu.createBuffer(label, floats * 4);
    this.owned.push(b);
    return b;
  }

  private upload(label: string, data: Float32Array | Int32Array): GPUBuffer {
    const b = this.model.gpu.upload(label, data);
    this.owned.push(b);
    return b;
  }

  private dispatch(entry: string, bindings: Record<number, GPUBuffer>, groups: [number, number?, number?], params: Partial<Record<string, number>>): void {
    const { gpu, spec } = this.model;
    const key = `final-layer-heads-${entry}`;
    const pipeline = gpu.pipeline(key, () => withIncludes(source), entry);
    const buffers: (GPUBuffer | null)[] = [];
    for (const [k, b] of Object.entries(bindings)) buffers[Number(k)] = b;
    for (let i = 0; i < buffers.length; i++) buffers[i] ??= null;
    const v = (name: string) => params[name] ?? 0;
    const words = [this.rows, spec.dModel, spec.dHead, v('head'), spec.nHeads * spec.dHead, v('useMeans'), v('cols'), v('shifted'), spec.eps];
    gpu.dispatch(key, pipeline, buffers, groups, { words, floatMask: words.map((_, i) => i === 8), binding: 9 });
  }

  /** dnll [count, B, T−1] for heads h0 .. h0+count of the final layer. */
  async run(h0: number, count: number): Promise<Float32Array> {
    const { model, clean, rows: N } = this;
    const { gpu, spec, kernels, weights } = model;
    const { nHeads: H, dHead: dh, dModel: d } = spec;
    const scratch: GPUBuffer[] = [];
    const tmp = (label: string, floats: number) => {
      const b = gpu.createBuffer(label, floats * 4);
      scratch.push(b);
      return b;
    };
    // Columns: heads h0 .. h0+count−1, then the clean column (state index count).
    const columns = [...Array.from({ length: count }, (_, i) => h0 + i), H];
    const states = columns.map((h) => tmp(`fh:state${h}`, N * 3));
    const factor = this.mode === 'factor';
    const cols = Math.max(1, Math.min(model.vocabChunk(Math.max(N, factor ? count * dh : 0)), 8192));
    const aChunk = tmp('fh:A', N * cols);
    const logits = tmp('fh:logits', N * cols);
    const eChunk = tmp('fh:e', cols);
    // factor: F of heads h0.. for one chunk [count·dh, n]; direct: γ⊙(δ·V_h) [N, d] per head.
    const ftChunk = factor && count > 0 ? tmp('fh:F', count * dh * cols) : null;
    const shifted = factor ? [] : columns.slice(0, count).map((h) => {
      const g = tmp(`fh:gshift${h}`, N * d);
      kernels.matmul({ x: this.delta[h], w: this.gv, wDtype: 'f32', y: g, M: N, N: d, K: dh, sK: d, sN: 1, wOff: h * dh * d });
      return g;
    });
    const [gy, gz] = rowGrid(N);
    let first = true;
    for (const w of weights.unembed.chunks) {
      for (let v0 = w.rowStart; v0 < w.rowStart + w.rowCount; v0 += cols) {
        const n = Math.min(cols, w.rowStart + w.rowCount - v0);
        const unembed = { w: w.buffer, wDtype: weights.unembed.dtype, N: n, K: d, sK: 1, sN: d, wOff: (v0 - w.rowStart) * d };
        kernels.matmul({ ...unembed, x: this.gu, y: aChunk, M: N });
        kernels.matmul({ ...unembed, x: weights.lnFinal.beta, y: eChunk, M: 1 });
        if (ftChunk) kernels.matmul({ ...unembed, x: this.gv, xOff: h0 * dh * d, y: ftChunk, M: count * dh });
        columns.forEach((h, c) => {
          const isHead = h < H;
          // The head's logit shift W_U(γ⊙δ·V_h) for this chunk, into `logits`.
          if (isHead && ftChunk) kernels.matmul({ x: this.delta[h], w: ftChunk, wDtype: 'f32', y: logits, M: N, N: n, K: dh, sK: n, sN: 1, wOff: (h - h0) * dh * n });
          if (isHead && !ftChunk) kernels.matmul({ ...unembed, x: shifted[c], y: logits, M: N });
          this.dispatch('head_logits', { 5: this.inv[h], 6: aChunk, 7: logits, 8: eChunk }, [Math.ceil(n / 64), gy, gz], { cols: n, shifted: isHead ? 1 : 0 });
          kernels.lseUpdate(logits, this.targets, states[c], N, n, n, v0, first);
        });
        first = false;
      }
    }
    const nll = columns.map((h, c) => {
      const out = tmp(`fh:nll${h}`, N);
      kernels.nllFinalize(this.targets, states[c], out, N);
      return out;
    });
    const values = await Promise.all(nll.map((b) => gpu.readF32(b, 0, N)));
    for (const b of scratch) b.destroy();
    const cleanNll = values[count];
    const { B, T } = clean;
    this.cleanNll = new Float32Array(B * (T - 1));
    for (let b = 0; b < B; b++) this.cleanNll.set(cleanNll.subarray(b * T, b * T + T - 1), b * (T - 1));
    const out = new Float32Array(count * B * (T - 1));
    for (let i = 0; i < count; i++) {
      for (let b = 0; b < B; b++) for (let t = 0; t < T - 1; t++) {
        const r = b * T + t;
        out[(i * B + b) * (T - 1) + t] = values[i][r] - cleanNll[r];
      }
    }
    if (!allFinite(out)) throw new Error(`final-layer head sweep: non-finite nll for heads ${h0}..${h0 + count - 1} (NaN or infinity in the final residual, W_O or the unembedding?)`);
    return out;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
