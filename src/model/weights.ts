// Weight mapping (Hugging Face key names → canonical roles) and upload to the GPU.
// GPT-2: Conv1D weights stored [in, out]; keys with or without `transformer.`; optional lm_head.
// GPT-NeoX: Linear weights stored [out, in]; fused qkv laid out per head as [H, 3, dh]; untied embed_out.
// Legacy buffers (attn.bias masks, masked_bias, rotary_emb.inv_freq) are never read.
import type { Checkpoint } from '../io/checkpoint.js';
import type { Gpu } from '../gpu/device.js';
import { uploadMatrix, type GpuMatrix, type StorageDType } from '../gpu/tensor.js';
import type { ModelSpec } from './spec.js';

/** A linear map y = x·W + b; W(k, n) at element k·sK + n·sN of `matrix`. */
export interface Linear {
  matrix: GpuMatrix;
  K: number;
  N: number;
  sK: number;
  sN: number;
  bias: GPUBuffer | null;
}

export interface LayerWeights {
  ln1: { gamma: GPUBuffer; beta: GPUBuffer };
  ln2: { gamma: GPUBuffer; beta: GPUBuffer };
  qkv: Linear;
  attnOut: Linear;
  mlpIn: Linear;
  mlpOut: Linear;
}

export interface ModelWeights {
  embed: GpuMatrix; // [V, d]
  positions: GpuMatrix | null; // [nCtx, d] learned positions
  rotaryTable: GPUBuffer | null; // [nCtx, rot/2, 2] (cos, sin)
  layers: LayerWeights[];
  lnFinal: { gamma: GPUBuffer; beta: GPUBuffer };
  unembed: GpuMatrix; // [V, d], logits = x · unembedᵀ
  storage: StorageDType | 'mixed';
}

export interface WeightNames {
  embed: string;
  positions: string | null;
  unembed: string;
  lnFinal: [string, string];
  layer(l: number): {
    ln1: [string, string];
    ln2: [string, string];
    qkv: [string, string];
    attnOut: [string, string];
    mlpIn: [string, string];
    mlpOut: [string, string];
  };
  /** true: weights stored [in, out] (Conv1D); false: [out, in] (Linear). */
  inOutLayout: boolean;
}

export function weightNames(spec: ModelSpec, has: (name: string) => boolean): WeightNames {
  if (spec.arch === 'gpt2') {
    const prefix = has('transformer.wte.weight') ? 'transformer.' : '';
    const p = (s: string) => prefix + s;
    const pair = (s: string): [string, string] => [p(`${s}.weight`), p(`${s}.bias`)];
    return {
      embed: p('wte.weight'),
      positions: p('wpe.weight'),
      unembed: has('lm_head.weight') ? 'lm_head.weight' : p('wte.weight'),
      lnFinal: pair('ln_f'),
      layer: (l) => ({
        ln1: pair(`h.${l}.ln_1`), ln2: pair(`h.${l}.ln_2`),
        qkv: pair(`h.${l}.attn.c_attn`), attnOut: pair(`h.${l}.attn.c_proj`),
        mlpIn: pair(`h.${l}.mlp.c_fc`), mlpOut: pair(`h.${l}.mlp.c_proj`),
      }),
      inOutLayout: true,
    };
  }
  const p = (s: string) => `gpt_neox.${s}`;
  const pair = (s: string): [string, string] => [p(`${s}.weight`), p(`${s}.bias`)];
  return {
    embed: p('embed_in.weight'),
    positions: null,
    unembed: spec.tiedEmbeddings && !has('embed_out.weight') ? p('embed_in.weight') : 'embed_out.weight',
    lnFinal: pair('final_layer_norm'),
    layer: (l) => ({
      ln1: pair(`layers.${l}.input_layernorm`), ln2: pair(`layers.${l}.post_attention_layernorm`),
      qkv: pair(`layers.${l}.attention.query_key_value`), attnOut: pair(`layers.${l}.attention.dense`),
      mlpIn: pair(`layers.${l}.mlp.dense_h_to_4h`), mlpOut: pair(`layers.${l}.mlp.dense_4h_to_h`),
    }),
    inOutLayout: false,
  };
}

export interface LoadOptions {
  /** 'auto': keep f16 checkpoints in f16 (decoded in-shader), everything else f32. */
  storage?: 'auto' | 'f32';
  onProgress?: (done: number, total: number, name: string) => void;
}

class WeightLoader {
  loaded = 0;
  storages = new Set<StorageDType>();
  constructor(
    private gpu: Gpu,
    private ckpt: Checkpoint,
    private where: string,
    private options: LoadOptions,
    private total: number,
  ) {}

  private check(name: string, shape: number[]): void {
    if (!this.ckpt.has(name)) throw new Error(`${this.where}: missing tensor ${name} (expected shape [${shape.join(', ')}])`);
    const info = this.ckpt.info(name);
    const ok = info.shape.length === shape.length && info.shape.every((s, i) => s === shape[i]);
    if (!ok) throw new Error(`${this.where}: tensor ${name} has shape [${info.shape.join(', ')}], expected [${shape.join(', ')}]`);
    if (!['F32', 'F16', 'BF16'].includes(info.dtype)) throw new Error(`${this.where}: tensor ${name} has dtype ${info.dtype}, expected F32, F16 or BF16`);
  }

  private progress(name: string): void {
    this.loaded++;
    this.options.onProgress?.(this.loaded, this.total, name);
  }

  async vector(name: string, length: number): Promise<GPUBuffer> {
    this.check(name, [length]);
    const buffer = this.gpu.upload(name, await this.ckpt.readF32(name));
    this.progress(name);
    return buffer;
  }

  async matrix(name: string, rows: number, cols: number): Promise<GpuMatrix> {
    this.check(name, [rows, cols]);
    const keepF16 = this.ckpt.info(name).dtype === 'F16' && this.options.storage !== 'f32' && cols % 2 === 0;
    const data = keepF16 ? await this.ckpt.readF16Bits(name) : await this.ckpt.readF32(name);
    const matrix = uploadMatrix(this.gpu, name, data, rows, cols);
    this.storages.add(matrix.dtype);
    this.progress(name);
    return matrix;
  }

  async linear([wName, bName]: [string, string], inDim: number, outDim: number, inOut: boolean): Promise<Linear> {
    const matrix = inOut ? await this.matrix(wName, inDim, outDim) : await this.matrix(wName, outDim, inDim);
    if (matrix.chunks.length !== 1) throw new Error(`${this.where}: ${wName} does not fit one binding on this adapter`);
    const bias = await this.vector(bName, outDim);
    return inOut
      ? { matrix, K: inDim, N: outDim, sK: outDim, sN: 1, bias }
      : { matrix, K: inDim, N: outDim, sK: 1, sN: inDim, bias };
  }

  async layerNorm([g, b]: [string, string], d: number) {
    return { gamma: await this.vector(g, d), beta: await this.vector(b, d) };
  }
}

/** cos/sin of position · base^(−2j/rot) tabulated in float64, stored f32: [nCtx, rot/2, 2]. */
export function rotaryTable(spec: ModelSpec): Float32Array {
  const half = spec.rotaryDims / 2;
  const table = new Float32Array(spec.nCtx * Math.max(half, 1) * 2);
  for (let pos = 0; pos < spec.nCtx; pos++) {
    for (let j = 0; j < half; j++) {
      const angle = pos / Math.pow(spec.rotaryBase, (2 * j) / spec.rotaryDims);
      table[(pos * half + j) * 2] = Math.cos(angle);
      table[(pos * half + j) * 2 + 1] = Math.sin(angle);
    }
  }
  return table;
}

export async function loadWeights(gpu: Gpu, spec: ModelSpec, ckpt: Checkpoint, where: string, options: LoadOptions = {}): Promise<ModelWeights> {
  const names = weightNames(spec, (n) => ckpt.has(n));
  const total = 3 + spec.nLayers * 12 + (names.positions ? 1 : 0) + (names.unembed !== names.embed ? 1 : 0);
  const load = new WeightLoader(gpu, ckpt, where, options, total);
  const d = spec.dModel;
  const embed = await load.matrix(names.embed, spec.vocab, d);
  const positions = names.positions ? await load.matrix(names.positions, spec.nCtx, d) : null;
  const layers: LayerWeights[] = [];
  for (let l = 0; l < spec.nLayers; l++) {
    const n = names.layer(l);
    layers.push({
      ln1: await load.layerNorm(n.ln1, d),
      ln2: await load.layerNorm(n.ln2, d),
      qkv: await load.linear(n.qkv, d, 3 * d, names.inOutLayout),
      attnOut: await load.linear(n.attnOut, d, d, names.inOutLayout),
      mlpIn: await load.linear(n.mlpIn, d, spec.dMlp, names.inOutLayout),
      mlpOut: await load.linear(n.mlpOut, spec.dMlp, d, names.inOutLayout),
    });
  }
  const lnFinal = await load.layerNorm(names.lnFinal, d);
  const unembed = names.unembed === names.embed ? embed : await load.matrix(names.unembed, spec.vocab, d);
  const rotary = spec.positional === 'rotary' ? gpu.upload('rotary-table', rotaryTable(spec)) : null;
  const storage = load.storages.size === 1 ? [...load.storages][0] : 'mixed';
  return { embed, positions, rotaryTable: rotary, layers, lnFinal, unembed, storage };
}
