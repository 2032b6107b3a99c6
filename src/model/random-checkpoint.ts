// Random Hugging Face checkpoints of any GPT-2 / GPT-NeoX shape (benchmarks, scale checks and
// strategy-equivalence tests). Weights are drawn with a seeded generator at scales that keep
// attention non-uniform and the MLP in GELU's non-linear regime, as in the fixtures.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { f32ToF16Bits, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';

export interface RandomModelShape {
  arch: 'gpt2' | 'gpt_neox';
  dModel: number;
  nLayers: number;
  nHeads: number;
  vocab: number;
  nCtx: number;
  dMlp?: number;
  dtype?: 'F32' | 'F16';
  parallelResidual?: boolean;
  rotaryPct?: number;
  seed?: number;
}

/** Shapes of the real models, for benchmarks. */
export const SHAPES = {
  'gpt2-small': { arch: 'gpt2', dModel: 768, nLayers: 12, nHeads: 12, vocab: 50257, nCtx: 1024 },
  'gpt2-xl': { arch: 'gpt2', dModel: 1600, nLayers: 48, nHeads: 25, vocab: 50257, nCtx: 1024 },
  'pythia-160m': { arch: 'gpt_neox', dModel: 768, nLayers: 12, nHeads: 12, vocab: 50304, nCtx: 2048 },
} satisfies Record<string, RandomModelShape>;

/** Seeded standard normal generator (xorshift128+ with Box–Muller). */
function normalGenerator(seed: number): () => number {
  let s0 = (seed * 2654435761) >>> 0 || 1;
  let s1 = (seed * 40503 + 12345) >>> 0 || 2;
  const uniform = () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return ((s0 + s1) >>> 0) / 4294967296 + 1e-12;
  };
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const v = spare; spare = null; return v; }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}

export async function writeRandomCheckpoint(dir: string, shape: RandomModelShape): Promise<void> {
  const { arch, dModel: d, nLayers, nHeads, vocab, nCtx } = shape;
  const m = shape.dMlp ?? 4 * d;
  const dtype = shape.dtype ?? 'F32';
  const normal = normalGenerator(shape.seed ?? 1);
  const tensors: TensorToWrite[] = [];
  const add = (name: string, dims: number[], scale: number, offset = 0) => {
    const n = dims.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = offset + scale * normal();
    const isMatrix = dims.length === 2;
    tensors.push(dtype === 'F16' && isMatrix
      ? { name, dtype: 'F16', shape: dims, data: f32ToF16Bits(values) }
      : { name, dtype: 'F32', shape: dims, data: values });
  };
  const ln = (prefix: string) => { add(`${prefix}.weight`, [d], 0.1, 1); add(`${prefix}.bias`, [d], 0.05); };
  const inv = 1 / Math.sqrt(d);
  if (arch === 'gpt2') {
    add('wte.weight', [vocab, d], 2 * inv);
    add('wpe.weight', [nCtx, d], 0.1);
    for (let l = 0; l < nLayers; l++) {
      const p = `h.${l}`;
      ln(`${p}.ln_1`); ln(`${p}.ln_2`);
      add(`${p}.attn.c_attn.weight`, [d, 3 * d], 1.4 * inv); add(`${p}.attn.c_attn.bias`, [3 * d], 0.05);
      add(`${p}.attn.c_proj.weight`, [d, d], 0.4 * inv); add(`${p}.attn.c_proj.bias`, [d], 0.05);
      add(`${p}.mlp.c_fc.weight`, [d, m], 1.2 * inv); add(`${p}.mlp.c_fc.bias`, [m], 0.05);
      add(`${p}.mlp.c_proj.weight`, [m, d], 0.5 / Math.sqrt(m)); add(`${p}.mlp.c_proj.bias`, [d], 0.05);
    }
    ln('ln_f');
  } else {
    add('gpt_neox.embed_in.weight', [vocab, d], 0.2);
    for (let l = 0; l < nLayers; l++) {
      const p = `gpt_neox.layers.${l}`;
      ln(`${p}.input_layernorm`); ln(`${p}.post_attention_layernorm`);
      add(`${p}.attention.query_key_value.weight`, [3 * d, d], 1.4 * inv); add(`${p}.attention.query_key_value.bias`, [3 * d], 0.05);
      add(`${p}.attention.dense.weight`, [d, d], 0.4 * inv); add(`${p}.attention.dense.bias`, [d], 0.05);
      add(`${p}.mlp.dense_h_to_4h.weight`, [m, d], 1.2 * inv); add(`${p}.mlp.dense_h_to_4h.bias`, [m], 0.05);
      add(`${p}.mlp.dense_4h_to_h.weight`, [d, m], 0.5 / Math.sqrt(m)); add(`${p}.mlp.dense_4h_to_h.bias`, [d], 0.05);
    }
    ln('gpt_neox.final_layer_norm');
    add('embed_out.weight', [vocab, d], 2 * inv);
  }
  await mkdir(dir, { recursive: true });
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const config = arch === 'gpt2'
    ? { model_type: 'gpt2', vocab_size: vocab, n_positions: nCtx, n_embd: d, n_layer: nLayers, n_head: nHeads, n_inner: m === 4 * d ? null : m, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true }
    : { model_type: 'gpt_neox', vocab_size: vocab, hidden_size: d, num_hidden_layers: nLayers, num_attention_heads: nHeads, intermediate_size: m, max_position_embeddings: nCtx, rotary_pct: shape.rotaryPct ?? 0.25, rotary_emb_base: 10000, use_parallel_residual: shape.parallelResidual ?? true, layer_norm_eps: 1e-5, hidden_act: 'gelu', tie_word_embeddings: false };
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2));
}
