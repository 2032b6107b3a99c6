// The BOS-redirect head sweep: for head h of layer l and query position t, the attention row of t
// is replaced by a one-hot on key 0 (so z[t, h] = v[0, h]); dnll at t and the watched neurons'
// change at t are measured. Three strategies, all giving the same numbers:
//   single-position-cached — only position t is re-run from layer l on, attending to the clean
//     run's cached keys/values (earlier positions are untouched); all (head, position, sequence)
//     variants go through in large row batches;
//   batched-from-layer — every position t is a variant copy of the batch, started at layer l;
//   naive — one full forward pass per (layer, head, position).
import type { Transformer } from '../model/forward.js';
import { rowGrid } from '../gpu/kernels.js';
import { CleanRun } from './clean-run.js';
import { forwardCachedRows, type CachedRows } from './suffix.js';
import type { HeadSweepPlan, Strategy } from './plan.js';
import type { SweepContext } from './sweeps.js';
import source from '../../shaders/single-position.wgsl';

export class BosRedirectSweep {
  private constructor(
    private model: Transformer,
    private ctx: SweepContext,
    private plan: HeadSweepPlan,
    private strategy: Strategy,
    private clean: CleanRun,
    private cleanWatch: Float32Array | null,
  ) {}

  static async create(ctx: SweepContext, plan: HeadSweepPlan, strategy: Strategy): Promise<BosRedirectSweep> {
    const { model, ids, B, T } = ctx;
    const watchHook = plan.watch ? [`blocks.${plan.watch.layer}.mlp.hook_post`] : [];
    const minLayer = Math.min(...plan.layers);
    const layers = Array.from({ length: model.spec.nLayers - minLayer }, (_, i) => minLayer + i);
    const clean = await CleanRun.capture(model, ids, B, T, { layers, keepAttention: strategy === 'single-position-cached', readHooks: watchHook });
    const cleanWatch = plan.watch ? clean.hooks.get(watchHook[0])!.data : null;
    return new BosRedirectSweep(model, ctx, plan, strategy, clean, cleanWatch);
  }

  private get nWatch(): number {
    return this.plan.watch?.neurons.length ?? 0;
  }

  /** Units are (layer j, head h) = j·H + h. Returns [dnll [units, B, T−1], dact [units, B, T, W]?]. */
  async compute(start: number, end: number): Promise<Float32Array[]> {
    const { B, T } = this.ctx;
    const H = this.model.spec.nHeads;
    const count = end - start;
    const dnll = new Float32Array(count * B * (T - 1));
    const dact = this.plan.watch ? new Float32Array(count * B * T * this.nWatch) : null;
    const perBatch = Math.max(1, Math.floor(this.model.maxRows() / (B * T)));
    for (let u = start; u < end;) {
      const j = Math.floor(u / H);
      const stop = Math.min(end, (j + 1) * H, u + (this.strategy === 'single-position-cached' ? perBatch : 1));
      const heads = Array.from({ length: stop - u }, (_, k) => u + k - j * H);
      const layer = this.plan.layers[j];
      const part = this.strategy === 'single-position-cached'
        ? await this.cachedRows(layer, heads)
        : await this.fullPasses(layer, heads, this.strategy === 'naive');
      dnll.set(part.dnll, (u - start) * B * (T - 1));
      if (dact && part.dact) dact.set(part.dact, (u - start) * B * T * this.nWatch);
      u = stop;
    }
    return dact ? [dnll, dact] : [dnll];
  }

  /** Position-major results for `heads` of `layer`: per-row nll and watched activations → dnll, dact. */
  private assemble(heads: number[], nllOf: (k: number, b: number, t: number) => number, watchOf: ((k: number, b: number, t: number, w: number) => number) | null) {
    const { B, T } = this.ctx;
    const W = this.nWatch;
    const dnll = new Float32Array(heads.length * B * (T - 1));
    const dact = watchOf ? new Float32Array(heads.length * B * T * W) : null;
    const m = this.model.spec.dMlp;
    for (let k = 0; k < heads.length; k++) {
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < T; t++) {
          if (t < T - 1) dnll[(k * B + b) * (T - 1) + t] = nllOf(k, b, t) - this.clean.nllRows[b * T + t];
          if (dact && watchOf && this.cleanWatch && this.plan.watch) {
            for (let w = 0; w < W; w++) {
              const clean = this.cleanWatch[(b * T + t) * m + this.plan.watch.neurons[w]];
              dact[((k * B + b) * T + t) * W + w] = watchOf(k, b, t, w) - clean;
            }
          }
        }
      }
    }
    return { dnll, dact };
  }

  /** naive: one forward per (head, position); batched-from-layer: all positions of a head in one batch from layer l. */
  private async fullPasses(layer: number, heads: number[], naive: boolean) {
    const { model, clean, plan } = this;
    const { B, T, ids } = this.ctx;
    const N = B * T;
    const m = model.spec.dMlp;
    const watchHook = plan.watch ? `blocks.${plan.watch.layer}.mlp.hook_post` : null;
    const nll = new Float32Array(heads.length * T * N);
    const post = watchHook ? new Float32Array(heads.length * T * N * m) : null;
    for (let k = 0; k < heads.length; k++) {
      const variantsPerPass = naive ? 1 : T;
      for (let t0 = 0; t0 < T; t0 += variantsPerPass) {
        const nv = Math.min(variantsPerPass, T - t0);
        const table = new Uint32Array(nv * B * 2);
        for (let v = 0; v < nv; v++) for (let b = 0; b < B; b++) table.set([heads[k], t0 + v], (v * B + b) * 2);
        const repIds = new Int32Array(nv * N);
        for (let v = 0; v < nv; v++) repIds.set(ids, v * N);
        let start: { layer: number; resid: GPUBuffer } | undefined;
        let replicated: GPUBuffer | null = null;
        if (!naive && layer > 0) {
          replicated = model.gpu.createBuffer('bos:resid', nv * N * model.spec.dModel * 4);
          const src = clean.buffer(`blocks.${layer}.hook_resid_pre`);
          for (let v = 0; v < nv; v++) model.gpu.copy(src, 0, replicated, v * N * model.spec.dModel * 4, N * model.spec.dModel * 4);
          start = { layer, resid: replicated };
        }
        const res = await model.forward({ ids: repIds, batch: nv * B, seq: T, start, redirect: new Map([[layer, table]]), hooks: watchHook ? [watchHook] : [] });
        replicated?.destroy();
        for (let v = 0; v < nv; v++) {
          for (let b = 0; b < B; b++) {
            const t = t0 + v;
            const base = ((k * T + t) * N) + b * T;
            nll.set(res.nll.subarray((v * B + b) * (T - 1), (v * B + b + 1) * (T - 1)), base);
            if (post && watchHook) post.set(res.hooks.get(watchHook)!.data.subarray((v * B + b) * T * m, (v * B + b + 1) * T * m), base * m);
          }
        }
      }
    }
    // nll/post are laid out [head k, variant t, b·T + position]; only position t of variant t counts.
    const at = (k: number, b: number, t: number) => (k * T + t) * N + b * T + t;
    return this.assemble(heads, (k, b, t) => nll[at(k, b, t)], post && plan.watch ? (k, b, t, w) => post[at(k, b, t) * m + plan.watch!.neurons[w]] : null);
  }

  /**
   * single-position-cached: every (head, sequence, position) is one row re-run from `layer` by the
   * forward's cached rows (position t attends to the clean run's keys/values before t and its own
   * at t); at the intervention layer z is the clean run's with head h redirected to position 0.
   */
  private async cachedRows(layer: number, heads: number[]) {
    const { model, clean, plan } = this;
    const { gpu, spec } = model;
    const { B, T, ids } = this.ctx;
    const N = B * T;
    const R = heads.length * N;
    const d = spec.dModel;
    const rowInfo = new Uint32Array(R * 2);
    const headOf = new Uint32Array(R);
    const targets = new Int32Array(R);
    const rows: CachedRows = { ids: new Int32Array(R), rowInfo4: new Uint32Array(R * 4), sources: new Uint32Array(R) };
    for (let k = 0; k < heads.length; k++) {
      for (let n = 0; n < N; n++) {
        const r = k * N + n;
        const b = Math.floor(n / T);
        const t = n % T;
        rowInfo.set([b * T, t], 2 * r);
        rows.rowInfo4.set([b * T, t, t, r], 4 * r); // keys before t from the cache, key t its own
        rows.ids[r] = ids[n];
        rows.sources[r] = n;
        headOf[r] = heads[k];
        targets[r] = t < T - 1 ? ids[n + 1] : -1;
      }
    }
    const temporaries = [gpu.upload('bos:rowInfo', rowInfo), gpu.upload('bos:heads', headOf)];
    const [rowInfoBuf, headsBuf] = temporaries;
    const DH = Math.ceil(spec.dHead / 4) * 4;
    const redirect = gpu.pipeline(`single-position-redirect_z-dh${DH}`, () => source.replace('/*DH*/64u', `${DH}u`), 'redirect_z');
    const watchHook = plan.watch ? `blocks.${plan.watch.layer}.mlp.hook_post` : null;
    const [gy, gz] = rowGrid(R);
    const result = await forwardCachedRows(model, clean, layer, rows, {
      targets,
      hooks: watchHook && plan.watch!.layer >= layer ? [watchHook] : [],
      // At the intervention layer z comes from the clean cache, head h reading only position 0's value vector.
      zAt: {
        layer,
        write: (z) => gpu.dispatch('single-position-redirect-z', redirect,
          [clean.buffer(`blocks.${layer}.attn.hook_z`), clean.buffer(`blocks.${layer}.qkv`), null, null, null, null, null, rowInfoBuf, headsBuf, z],
          [Math.ceil(d / 64), gy, gz], {
            words: [R, spec.nHeads, spec.dHead, 3 * d, 3 * d, 0, 0, spec.qkv.vBase, 0, spec.qkv.headStride, 1 / Math.sqrt(spec.dHead), d],
            floatMask: [false, false, false, false, false, false, false, false, false, false, true, false],
            binding: 6,
          }),
      },
    });
    for (const b of temporaries) b.destroy();

    const m = spec.dMlp;
    const watched = plan.watch;
    const captured = watchHook ? result.hooks.get(watchHook)?.data ?? null : null;
    let watchOf: ((k: number, b: number, t: number, w: number) => number) | null = null;
    if (watched && this.cleanWatch) {
      const cleanWatch = this.cleanWatch;
      // A watched layer before the intervention is not re-run: nothing changes there.
      watchOf = captured
        ? (k, b, t, w) => captured[(k * N + b * T + t) * m + watched.neurons[w]]
        : (_k, b, t, w) => cleanWatch[(b * T + t) * m + watched.neurons[w]];
    }
    return this.assemble(heads, (k, b, t) => result.rowNll[k * N + b * T + t], watchOf);
  }

  destroy(): void {
    this.clean.destroy();
  }
}
