// A clean forward pass whose activations are kept on the GPU for the sweeps that follow:
// per-layer resid_pre (for starting mid-model), the final residual and the final layer's
// hook_post (for the closed form), qkv / rotated qk / z / mlp_out per layer (for single-position
// re-runs against cached keys and values), any hooks read back, and column means of hooks taken
// on the GPU (only [width] floats come back, not the whole [B·T, width] activation).
import type { Transformer } from '../model/forward.js';

export interface CleanRunOptions {
  /** Layers whose activations to keep (default: all). */
  layers?: number[];
  /** Also keep what single-position re-runs need (qkv, rotated qk, z, mlp_out). */
  keepAttention?: boolean;
  /** Read back these hooks. */
  readHooks?: string[];
  /** Column means over all B·T rows of these hooks, computed on the GPU (→ CleanRun.means). */
  meanHooks?: string[];
  /** Keep these hooks' activations on the GPU (→ CleanRun.buffer(name)). */
  keepHooks?: string[];
  /** false: skip the unembedding (nll stays empty) — for strategies that compute the clean nll themselves. */
  unembed?: boolean;
}

export class CleanRun {
  readonly buffers = new Map<string, GPUBuffer>();
  nll: Float32Array = new Float32Array(0);
  nllRows: Float32Array = new Float32Array(0); // [B·T], 0 at the last position of each sequence (all 0 without unembedding)
  hooks = new Map<string, { shape: number[]; data: Float32Array }>();
  means = new Map<string, Float32Array>();

  private constructor(
    readonly model: Transformer,
    readonly ids: Int32Array,
    readonly B: number,
    readonly T: number,
  ) {}

  static async capture(model: Transformer, ids: Int32Array, B: number, T: number, options: CleanRunOptions = {}): Promise<CleanRun> {
    const run = new CleanRun(model, ids, B, T);
    const layers = new Set(options.layers ?? Array.from({ length: model.spec.nLayers }, (_, l) => l));
    const last = model.spec.nLayers - 1;
    const keep = (key: string, buffer: GPUBuffer, floats: number) => {
      const copy = model.gpu.createBuffer(`clean:${key}`, floats * 4);
      model.gpu.copy(buffer, 0, copy, 0, floats * 4);
      run.buffers.set(key, copy);
    };
    const N = B * T;
    const meanHooks = new Set(options.meanHooks ?? []);
    const keepHooks = new Set(options.keepHooks ?? []);
    const meanBuffers = new Map<string, { buffer: GPUBuffer; width: number }>();
    const rowWeights = meanHooks.size ? model.gpu.upload('clean:1/rows', new Float32Array(N).fill(1 / N)) : null;
    const result = await model.forward({
      ids, batch: B, seq: T, hooks: options.readHooks ?? [], unembed: options.unembed,
      onHook: (site) => {
        if (meanHooks.has(site.name) && rowWeights) {
          // [1, N] · [N, width]: the activation read as a weight matrix (element (r, j) at r·width + j).
          const buffer = model.gpu.createBuffer(`clean:mean:${site.name}`, site.width * 4);
          model.kernels.matmul({ x: rowWeights, w: site.buffer, wDtype: 'f32', y: buffer, M: 1, N: site.width, K: N, sK: site.width, sN: 1 });
          meanBuffers.set(site.name, { buffer, width: site.width });
        }
        if (keepHooks.has(site.name)) keep(site.name, site.buffer, N * site.width);
        const m = /^blocks\.(\d+)\.(.+)$/.exec(site.name);
        if (m) {
          const l = Number(m[1]);
          const what = m[2];
          const wanted = layers.has(l) && (what === 'hook_resid_pre' ||
            (options.keepAttention && (what === 'attn.hook_z' || what === 'hook_mlp_out')));
          if ((wanted || (l === last && what === 'mlp.hook_post')) && !keepHooks.has(site.name)) keep(site.name, site.buffer, N * site.width);
        }
      },
      onAttentionInputs: options.keepAttention
        ? (l, qkv, qk) => {
          if (!layers.has(l)) return;
          keep(`blocks.${l}.qkv`, qkv.buffer, N * qkv.width);
          keep(`blocks.${l}.qk_attn`, qk.buffer, N * qk.width);
        }
        : undefined,
    });
    keep('final_resid', result.resid, N * model.spec.dModel);
    run.hooks = result.hooks;
    run.nll = result.nll;
    run.nllRows = new Float32Array(N);
    for (let b = 0; b < B; b++) run.nllRows.set(result.nll.subarray(b * (T - 1), (b + 1) * (T - 1)), b * T);
    for (const name of meanHooks) {
      const mean = meanBuffers.get(name);
      if (!mean) throw new Error(`clean run: no hook named ${name} to average`);
      run.means.set(name, await model.gpu.readF32(mean.buffer, 0, mean.width));
      mean.buffer.destroy();
    }
    rowWeights?.destroy();
    await model.gpu.sync();
    return run;
  }

  buffer(key: string): GPUBuffer {
    const b = this.buffers.get(key);
    if (!b) throw new Error(`internal: the clean run did not keep ${key}`);
    return b;
  }

  destroy(): void {
    for (const b of this.buffers.values()) b.destroy();
    this.buffers.clear();
  }
}
