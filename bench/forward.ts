// Forward throughput: tokens/s of whole forward passes (embedding → layers → unembedding with the
// streamed log-sum-exp) for a GPT-2-small-shaped model (f32 weights) and a Pythia-160M-shaped one
// (f16 weights, rotary, parallel residual), both random, written to a temp dir as Hugging Face
// folders (config.json + model.safetensors) and loaded with the real loader.
//
//   npx tsx bench/forward.ts [--layers 12] [--batch 8] [--seq 512] [--repeats 5] [--models gpt2,pythia] [--matmul VARIANT]
//     [--attention tiled,simple] [--autotune] [--d-model 1600 --heads 25]
// --attention: time each listed attention kernel on the same model in the same run (ratios in
// `attentionRatios`: ms per forward with simple / with tiled).
// --autotune: tune the matmul for this forward's shapes first (on GPUs with the stream-K grid probe;
// into a temporary cache, not the user's), then time each model with the adapter's default matmul
// and with the tuned choices (ratios in `autotuneRatios`: ms per forward default / tuned).
// --d-model, --heads: other widths (e.g. 1600 and 25: GPT-2 XL's), with --layers for the depth.
//
// Defaults on a software adapter (lavapipe): 2 layers instead of 12 (full width and vocabulary),
// batch 1 × 128 tokens, 2 timed forwards. Prints one JSON object to stdout.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { installNavigatorGpu, isMain, isSoftwareAdapter, log, registerWgslLoader, round } from './matmul.js';

export type RandomArch = 'gpt2' | 'pythia';

export interface RandomModelOptions {
  arch: RandomArch;
  layers: number;
  /** Defaults: GPT-2 small / Pythia-160M. */
  dModel?: number;
  heads?: number;
  vocab?: number;
  nCtx?: number;
}

/** Deterministic fast random fill in [-scale, scale). */
function randomF32(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let a = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = ((a / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/** Random f16 bits with magnitudes in [2^-8, 2^-4), random sign. */
function randomF16Bits(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let a = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    const sign = (a >>> 31) << 15;
    const exp = 7 + ((a >>> 10) & 3); // biased exponents 7..10
    out[i] = sign | (exp << 10) | (a & 0x3ff);
  }
  return out;
}

/**
 * Writes a random model folder (config.json + model.safetensors) and returns its size in bytes.
 * GPT-2: f32, Conv1D [in, out] weights, tied embedding. Pythia: f16, Linear [out, in], untied.
 */
export async function writeRandomModel(dir: string, o: RandomModelOptions): Promise<{ bytes: number; config: object }> {
  const { writeSafetensors, f32ToF16Bits } = await import('../src/io/safetensors.js');
  type T = import('../src/io/safetensors.js').TensorToWrite;
  const d = o.dModel ?? 768;
  const heads = o.heads ?? 12;
  const nCtx = o.nCtx ?? (o.arch === 'gpt2' ? 1024 : 2048);
  const vocab = o.vocab ?? (o.arch === 'gpt2' ? 50257 : 50304);
  const tensors: T[] = [];
  let seed = 1;
  const f16 = o.arch === 'pythia';
  const mat = (name: string, shape: number[], scale = 0.02) => {
    const n = shape.reduce((x, y) => x * y, 1);
    tensors.push(f16 ? { name, dtype: 'F16', shape, data: randomF16Bits(n, seed++) } : { name, dtype: 'F32', shape, data: randomF32(n, seed++, scale) });
  };
  const vec = (name: string, n: number, base = 0) => {
    const v = randomF32(n, seed++, 0.01);
    if (base) for (let i = 0; i < n; i++) v[i] += base;
    tensors.push(f16 ? { name, dtype: 'F16', shape: [n], data: f32ToF16Bits(v) } : { name, dtype: 'F32', shape: [n], data: v });
  };
  let config: object;
  if (o.arch === 'gpt2') {
    config = { model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: vocab, n_positions: nCtx, n_ctx: nCtx, n_embd: d, n_layer: o.layers, n_head: heads, n_inner: null, activation_function: 'gelu_new', layer_norm_epsilon: 1e-5, tie_word_embeddings: true, torch_dtype: 'float32' };
    mat('wte.weight', [vocab, d]);
    mat('wpe.weight', [nCtx, d], 0.01);
    for (let l = 0; l < o.layers; l++) {
      const p = `h.${l}.`;
      vec(p + 'ln_1.weight', d, 1); vec(p + 'ln_1.bias', d);
      mat(p + 'attn.c_attn.weight', [d, 3 * d]); vec(p + 'attn.c_attn.bias', 3 * d);
      mat(p + 'attn.c_proj.weight', [d, d]); vec(p + 'attn.c_proj.bias', d);
      vec(p + 'ln_2.weight', d, 1); vec(p + 'ln_2.bias', d);
      mat(p + 'mlp.c_fc.weight', [d, 4 * d]); vec(p + 'mlp.c_fc.bias', 4 * d);
      mat(p + 'mlp.c_proj.weight', [4 * d, d]); vec(p + 'mlp.c_proj.bias', d);
    }
    vec('ln_f.weight', d, 1); vec('ln_f.bias', d);
  } else {
    config = { model_type: 'gpt_neox', architectures: ['GPTNeoXForCausalLM'], vocab_size: vocab, hidden_size: d, num_hidden_layers: o.layers, num_attention_heads: heads, intermediate_size: 4 * d, max_position_embeddings: nCtx, rotary_pct: 0.25, rotary_emb_base: 10000, use_parallel_residual: true, layer_norm_eps: 1e-5, hidden_act: 'gelu', tie_word_embeddings: false, torch_dtype: 'float16' };
    mat('gpt_neox.embed_in.weight', [vocab, d]);
    for (let l = 0; l < o.layers; l++) {
      const p = `gpt_neox.layers.${l}.`;
      vec(p + 'input_layernorm.weight', d, 1); vec(p + 'input_layernorm.bias', d);
      vec(p + 'post_attention_layernorm.weight', d, 1); vec(p + 'post_attention_layernorm.bias', d);
      mat(p + 'attention.query_key_value.weight', [3 * d, d]); vec(p + 'attention.query_key_value.bias', 3 * d);
      mat(p + 'attention.dense.weight', [d, d]); vec(p + 'attention.dense.bias', d);
      mat(p + 'mlp.dense_h_to_4h.weight', [4 * d, d]); vec(p + 'mlp.dense_h_to_4h.bias', 4 * d);
      mat(p + 'mlp.dense_4h_to_h.weight', [d, 4 * d]); vec(p + 'mlp.dense_4h_to_h.bias', d);
    }
    vec('gpt_neox.final_layer_norm.weight', d, 1); vec('gpt_neox.final_layer_norm.bias', d);
    mat('embed_out.weight', [vocab, d]);
  }
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(config, null, 1));
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  const bytes = tensors.reduce((s, t) => s + t.data.byteLength, 0);
  return { bytes, config };
}

export interface ForwardBenchOptions {
  layers?: number;
  batch?: number;
  seq?: number;
  repeats?: number;
  models?: RandomArch[];
  /** Force a matmul variant (as PLATEAU_MATMUL does); default: the autotune cache, else the adapter default. */
  matmul?: string;
  /** Attention kernels to time one after the other on each model (default: the adapter's choice only). */
  attention?: ('tiled' | 'simple')[];
  /** Tune the matmul first, then time default and tuned matmul choices. */
  autotune?: boolean;
  dModel?: number;
  heads?: number;
}

export async function runForwardBench(opts: ForwardBenchOptions = {}): Promise<object> {
  registerWgslLoader();
  await installNavigatorGpu();
  if (opts.matmul && opts.autotune) throw new Error('--matmul and --autotune: choose one');
  if (opts.matmul) process.env.PLATEAU_MATMUL = opts.matmul;
  const tuneDir = opts.autotune ? mkdtempSync(path.join(os.tmpdir(), 'plateau-bench-tune-')) : null;
  if (tuneDir) process.env.PLATEAU_AUTOTUNE_CACHE = path.join(tuneDir, 'autotune.json');
  const { Gpu } = await import('../src/gpu/device.js');
  const { loadModel } = await import('../src/model/load.js');
  const { runSequences } = await import('../src/model/run.js');
  const { Profiler } = await import('../src/gpu/profiler.js');
  const gpu = await Gpu.create();
  const software = isSoftwareAdapter(gpu);
  const layers = opts.layers ?? (software ? 2 : 12);
  const B = opts.batch ?? (software ? 1 : 8);
  const T = opts.seq ?? (software ? 128 : 512);
  const repeats = opts.repeats ?? (software ? 2 : 5);
  const models = opts.models ?? ['gpt2', 'pythia'];
  log(`adapter ${gpu.describe()}; ${layers} layers, ${B}×${T} tokens, ${repeats} timed forwards`);
  const results: { model: string; attention: string; msPerForward: number; [k: string]: unknown }[] = [];
  for (const arch of models) {
    const dir = mkdtempSync(path.join(os.tmpdir(), `plateau-bench-${arch}-`));
    try {
      const { bytes } = await writeRandomModel(dir, { arch, layers, dModel: opts.dModel, heads: opts.heads });
      const model = await loadModel(gpu, dir);
      const ids = Array.from({ length: B * T }, (_, i) => (i * 7919) % model.spec.vocab);
      if (opts.autotune) {
        const { autotuneMatmul, recordMatmulShapes } = await import('../src/gpu/autotune.js');
        const { tuneStreamKGrids } = await import('../src/gpu/streamk-grid.js');
        const shapes = await recordMatmulShapes(model.kernels, () => runSequences(model, ids, B, T));
        if (!software) for (const p of await tuneStreamKGrids(model.kernels)) log(`stream-K grid 128×${p.bn}: ${p.grid}`);
        for (const r of await autotuneMatmul(model.kernels, shapes, { repeats: 3 })) log(`${r.shape.M}×${r.shape.K}·${r.shape.K}×${r.shape.N} ${r.shape.layout}: ${r.best}`);
      }
      const configs = (opts.attention ?? [null]).flatMap((attention) => (opts.autotune ? ['default', 'tuned'] : [null]).map((tuning) => ({ attention, tuning })));
      for (const { attention, tuning } of configs) {
        model.kernels.forcedAttention = attention;
        if (tuning) model.kernels.reloadAutotune();
        if (tuning === 'default') model.kernels.matmulChooser = null;
        await runSequences(model, ids, B, T); // warm-up (pipeline compilation)
        const profiler = Profiler.attach(gpu);
        const wall: number[] = [];
        for (let r = 0; r < repeats; r++) {
          const t0 = performance.now();
          await runSequences(model, ids, B, T);
          wall.push(performance.now() - t0);
        }
        const report = await profiler.collect();
        profiler.detach();
        const wallMs = wall.reduce((a, b) => a + b, 0) / repeats;
        const gpuMs = report.gpuSumMs / repeats;
        const flopsPerForward = report.dispatches.reduce((s, d) => s + d.flops, 0) / repeats;
        const row = {
          model: opts.dModel ? `${arch}-d${opts.dModel}-shaped` : arch === 'gpt2' ? 'gpt2-small-shaped' : 'pythia-160m-shaped',
          weights: model.weights.storage,
          layers, ...(opts.dModel ? {} : { fullLayers: 12 }), dModel: model.spec.dModel, vocab: model.spec.vocab,
          batch: B, seq: T, checkpointBytes: bytes,
          matmul: model.kernels.forcedMatmul ?? (model.kernels.matmulChooser ? 'autotuned' : model.kernels.matmulVariant),
          attention: attention ?? 'default',
          ...(tuning ? { tuning } : {}),
          msPerForward: round(wallMs, 1),
          gpuMsPerForward: round(gpuMs, 1),
          tokensPerSecond: round((B * T) / (wallMs / 1000), 1),
          gflopsEffective: round(flopsPerForward / (gpuMs * 1e6), 2),
          topKernels: report.kernels.slice(0, 4).map((k) => ({ kernel: k.kernel, share: round(k.share, 3), gflops: round(k.gflops, 2) })),
        };
        log(`${row.model}: ${row.tokensPerSecond} tokens/s (${row.msPerForward} ms per forward, GPU ${row.gpuMsPerForward} ms)`);
        results.push(row);
      }
      model.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const attentionRatios = Object.fromEntries(models.flatMap((arch) => {
    const rows = results.filter((r) => r.model.startsWith(arch));
    const ms = (a: string) => rows.find((r) => r.attention === a && r.tuning !== 'default')?.msPerForward;
    const simple = ms('simple'), tiled = ms('tiled');
    return simple && tiled ? [[rows[0].model, round(simple / tiled, 2)]] : [];
  }));
  const autotuneRatios = Object.fromEntries(opts.autotune ? [...new Set(results.map((r) => `${r.model}/${r.attention}`))].map((key) => {
    const ms = (tuning: string) => results.find((r) => `${r.model}/${r.attention}` === key && r.tuning === tuning)!.msPerForward;
    return [key, round(ms('default') / ms('tuned'), 2)];
  }) : []);
  const out = {
    bench: 'forward', adapter: gpu.describe(), date: new Date().toISOString(),
    note: opts.dModel ? `${layers} layers of width ${opts.dModel}` : layers < 12 ? `${layers} of 12 layers (full width and vocabulary) to fit the adapter's speed` : 'full depth',
    models: results,
    ...(Object.keys(attentionRatios).length ? { attentionRatios } : {}),
    ...(opts.autotune ? { autotuneRatios } : {}),
  };
  gpu.destroy();
  if (tuneDir) rmSync(tuneDir, { recursive: true, force: true });
  return out;
}

if (isMain(import.meta.url, 'forward')) {
  const { values } = parseArgs({
    options: {
      layers: { type: 'string' },
      batch: { type: 'string' },
      seq: { type: 'string' },
      repeats: { type: 'string' },
      models: { type: 'string' },
      matmul: { type: 'string' },
      attention: { type: 'string' },
      autotune: { type: 'boolean' },
      'd-model': { type: 'string' },
      heads: { type: 'string' },
    },
  });
  const num = (v?: string) => (v ? Number(v) : undefined);
  const result = await runForwardBench({
    layers: num(values.layers), batch: num(values.batch), seq: num(values.seq), repeats: num(values.repeats),
    models: values.models?.split(',') as RandomArch[] | undefined,
    matmul: values.matmul,
    autotune: values.autotune,
    dModel: num(values['d-model']),
    heads: num(values.heads),
    attention: values.attention?.split(',').map((a) => {
      if (a !== 'tiled' && a !== 'simple') throw new Error(`--attention: expected tiled and/or simple, got "${a}"`);
      return a;
    }),
  });
  console.log(JSON.stringify(result, null, 1));
  process.exit(0);
}
