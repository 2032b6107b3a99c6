// Autotuning of the attention kernel: whole forward passes on the given tokens with each kernel
// (tiled, simple — only the attention differs between them), the faster recorded in the autotune
// cache for this adapter and head size, where Kernels.attentionVariantFor finds it
// (an option or PLATEAU_ATTENTION still forces one; hook_pattern always needs 'simple').
import type { Transformer } from './forward.js';
import { ATTENTION_VARIANTS, attentionCacheKey, type AttentionVariant } from '../gpu/kernels.js';
import { saveCachedChoice } from '../gpu/autotune.js';

export interface AttentionTiming {
  variant: AttentionVariant;
  medianMs: number;
}

export async function autotuneAttention(model: Transformer, ids: Int32Array, B: number, T: number, repeats = 3): Promise<{ best: AttentionVariant; timings: AttentionTiming[] }> {
  const { kernels, gpu, spec } = model;
  if (kernels.forcedAttention) throw new Error(`attention autotune: a kernel is forced (${kernels.forcedAttention}, PLATEAU_ATTENTION?): unset it first`);
  const timings: AttentionTiming[] = [];
  try {
    for (const variant of ATTENTION_VARIANTS) {
      kernels.forcedAttention = variant;
      await model.forward({ ids, batch: B, seq: T, unembed: false }); // compiles the pipelines
      const samples: number[] = [];
      for (let i = 0; i < Math.max(1, repeats); i++) {
        await gpu.sync();
        const t0 = performance.now();
        await model.forward({ ids, batch: B, seq: T, unembed: false });
        await gpu.sync();
        samples.push(performance.now() - t0);
      }
      timings.push({ variant, medianMs: samples.sort((a, b) => a - b)[samples.length >> 1] });
    }
  } finally {
    kernels.forcedAttention = null;
  }
  const best = timings.reduce((a, b) => (b.medianMs < a.medianMs ? b : a));
  saveCachedChoice(gpu, attentionCacheKey(spec.dHead), best.variant, (B * T) / (best.medianMs / 1000));
  kernels.reloadAutotune();
  return { best: best.variant, timings };
}
