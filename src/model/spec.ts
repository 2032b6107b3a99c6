// Architecture specs from Hugging Face config.json. An architecture is a weight mapping plus a few
// flags (parallel residual, rotary, GELU kind, layouts) — never a second forward pass.
import { z } from 'zod';

export type Arch = 'gpt2' | 'gpt_neox';
export type GeluKind = 'tanh' | 'erf';

export interface ModelSpec {
  arch: Arch;
  vocab: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  dHead: number;
  dMlp: number;
  nCtx: number;
  eps: number;
  gelu: GeluKind;
  /** x + attn(ln1 x) + mlp(ln2 x) (GPT-NeoX default) instead of sequential blocks. */
  parallelResidual: boolean;
  positional: 'learned' | 'rotary';
  rotaryDims: number;
  rotaryBase: number;
  tiedEmbeddings: boolean;
  /** Where q, k, v of head h live in the fused qkv output: q at qBase + h·headStride + i, etc. */
  qkv: { qBase: number; kBase: number; vBase: number; headStride: number };
}

const GELU_NAMES: Record<string, GeluKind> = {
  gelu_new: 'tanh',
  gelu_pytorch_tanh: 'tanh',
  gelu_fast: 'tanh',
  gelu: 'erf',
};

const positiveInt = z.number().int().positive();

const gpt2Config = z.object({
  model_type: z.literal('gpt2'),
  vocab_size: positiveInt,
  n_positions: positiveInt,
  n_embd: positiveInt,
  n_layer: positiveInt,
  n_head: positiveInt,
  n_inner: positiveInt.nullish(),
  activation_function: z.string().default('gelu_new'),
  layer_norm_epsilon: z.number().positive().default(1e-5),
  tie_word_embeddings: z.boolean().default(true),
});

const neoxConfig = z.object({
  model_type: z.literal('gpt_neox'),
  vocab_size: positiveInt,
  hidden_size: positiveInt,
  num_hidden_layers: positiveInt,
  num_attention_heads: positiveInt,
  intermediate_size: positiveInt,
  max_position_embeddings: positiveInt,
  rotary_pct: z.number().min(0).max(1).default(0.25),
  rotary_emb_base: z.number().positive().optional(),
  rope_theta: z.number().positive().optional(),
  use_parallel_residual: z.boolean().default(true),
  layer_norm_eps: z.number().positive().default(1e-5),
  hidden_act: z.string().default('gelu'),
  tie_word_embeddings: z.boolean().default(false),
});

function geluKind(name: string, where: string): GeluKind {
  const kind = GELU_NAMES[name];
  if (!kind) throw new Error(`${where}: activation "${name}" is not supported (expected one of ${Object.keys(GELU_NAMES).join(', ')})`);
  return kind;
}

function parseOrExplain<T>(schema: z.ZodType<T>, config: unknown, where: string): T {
  const result = schema.safeParse(config);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${where}: invalid config — ${issues}`);
  }
  return result.data;
}

/** Builds a ModelSpec from a parsed config.json; `where` names the file in errors. */
export function specFromConfig(config: unknown, where = 'config.json'): ModelSpec {
  const modelType = (config as { model_type?: unknown })?.model_type;
  if (modelType === 'gpt2') {
    const c = parseOrExplain(gpt2Config, config, where);
    if (c.n_embd % c.n_head !== 0) throw new Error(`${where}: n_embd ${c.n_embd} is not divisible by n_head ${c.n_head}`);
    const dHead = c.n_embd / c.n_head;
    return {
      arch: 'gpt2', vocab: c.vocab_size, dModel: c.n_embd, nLayers: c.n_layer, nHeads: c.n_head, dHead,
      dMlp: c.n_inner ?? 4 * c.n_embd, nCtx: c.n_positions, eps: c.layer_norm_epsilon,
      gelu: geluKind(c.activation_function, where), parallelResidual: false, positional: 'learned',
      rotaryDims: 0, rotaryBase: 0, tiedEmbeddings: c.tie_word_embeddings,
      qkv: { qBase: 0, kBase: c.n_embd, vBase: 2 * c.n_embd, headStride: dHead },
    };
  }
  if (modelType === 'gpt_neox') {
    const c = parseOrExplain(neoxConfig, config, where);
    if (c.hidden_size % c.num_attention_heads !== 0) {
      throw new Error(`${where}: hidden_size ${c.hidden_size} is not divisible by num_attention_heads ${c.num_attention_heads}`);
    }
    const dHead = c.hidden_size / c.num_attention_heads;
    const rotaryDims = Math.floor(dHead * c.rotary_pct);
    if (rotaryDims % 2 !== 0) throw new Error(`${where}: rotary dims ${rotaryDims} (head size × rotary_pct) must be even`);
    return {
      arch: 'gpt_neox', vocab: c.vocab_size, dModel: c.hidden_size, nLayers: c.num_hidden_layers,
      nHeads: c.num_attention_heads, dHead, dMlp: c.intermediate_size, nCtx: c.max_position_embeddings,
      eps: c.layer_norm_eps, gelu: geluKind(c.hidden_act, where), parallelResidual: c.use_parallel_residual,
      positional: 'rotary', rotaryDims, rotaryBase: c.rotary_emb_base ?? c.rope_theta ?? 10000,
      tiedEmbeddings: c.tie_word_embeddings,
      qkv: { qBase: 0, kBase: dHead, vBase: 2 * dHead, headStride: 3 * dHead },
    };
  }
  throw new Error(`${where}: model_type ${JSON.stringify(modelType)} is not supported (expected "gpt2" or "gpt_neox")`);
}

/** The final layer's index. */
export function lastLayer(spec: ModelSpec): number {
  return spec.nLayers - 1;
}
