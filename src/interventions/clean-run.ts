// A clean forward pass whose activations are kept on the GPU for the sweeps that follow:
// per-layer resid_pre (for starting mid-model), the final residual and the final layer's
// hook_post (for the closed form), qkv / rotated qk / z / mlp_out per layer (for single-position
// re-runs against cached keys and values), and any hooks read back (e.g. for means).
import type { Transformer } from '../model/forward.js';

export interface CleanRunOptions {
  /** Layers whose activations to keep (default: all). */
  layers?: number[];
  /** Also keep what single-position re-runs need (qkv, rotated qk, z, mlp_out). */
  keepAttention?: boolean;
  /** Read back these hooks (e.g. for means). */
  readHooks?: string[];
}

export class CleanRun {
  readonly buffers = new Map<string, GPUBuffer>();
  nll: Float32Array = new Float32Array(0);
  nllRows: Float32Array = new Float32Array(0); // [B·T], 0 at the last position of each sequence
  hooks = new Map<string, { shape: number[]; data: Float32Array }>();

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
    const result = await model.forward({
      ids, batch: B, seq: T, hooks: options.readHooks ?? [],
      onHook: (site) => {
        const m = /^blocks\.(\d+)\.(.+)$/.exec(site.name);
        if (m) {
          const l = Number(m[1]);
          const what = m[2];
          const wanted = layers.has(l) && (what === 'hook_resid_pre' ||
            (options.keepAttention && (what === 'attn.hook_z' || what === 'hook_mlp_out')));
          if (wanted || (l === last && what === 'mlp.hook_post')) keep(site.name, site.buffer, N * site.width);
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

/** Mean over all rows of a [rows, width] activation. */
export function columnMeans(data: Float32Array, rows: number, width: number): Float32Array {
  const sums = new Float64Array(width);
  for (let r = 0; r < rows; r++) for (let i = 0; i < width; i++) sums[i] += data[r * width + i];
  return Float32Array.from(sums, (s) => s / rows);
}
