// Autotuning of the closed form's pair loop (the hot kernel of final-layer neuron sweeps): each
// variant (pair kernel tiled / direct, exp2 hardware / mixed, e inside the exp or as a factor) runs
// the real computation — a clean run of the given tokens, then the closed form over a slice of the
// final layer's neurons — and the fastest is recorded in the autotune cache for this adapter, where
// FinalLayerNeuronSweep finds it (options and PLATEAU_PAIR_* switches still take precedence).
import type { Transformer } from '../model/forward.js';
import { isSoftwareAdapter } from '../gpu/kernels.js';
import { saveCachedChoice } from '../gpu/autotune.js';
import { CleanRun } from './clean-run.js';
import { FinalLayerNeuronSweep, PAIR_CACHE_KEY, formatPairVariant, parsePairVariant, type ClosedFormOptions } from './closed-form.js';

export const PAIR_VARIANTS = ['tiled', 'tiled:mixed', 'tiled:factor', 'tiled:mixed:factor', 'direct'];

export interface PairTiming {
  variant: string;
  medianMs: number;
  /** Logits (pairs × vocabulary entries) per second, in billions. */
  glogitsPerS: number;
}

export interface PairTuneOptions {
  variants?: string[];
  /** Neurons per timed run (default 1024 on GPUs, 32 on CPU adapters, at most d_mlp). */
  neurons?: number;
  /** Timed runs per variant after one warm-up; the median counts (default 3 on GPUs, 1 on CPU adapters). */
  repeats?: number;
  /** Record the fastest in the autotune cache (default true). */
  save?: boolean;
}

/**
 * Times the closed form over neurons [0, neurons) of the final layer for each named variant (one
 * warm-up run compiles the pipelines; the median of `repeats` runs counts), on a clean run the
 * caller owns. Used by the autotune below and by bench/sweeps.ts --pair-variants.
 */
export async function timePairVariants(
  model: Transformer, clean: CleanRun, means: Float32Array,
  variants: { name: string; options: ClosedFormOptions }[], neurons: number, repeats: number,
): Promise<PairTiming[]> {
  const { gpu, spec } = model;
  const timings: PairTiming[] = [];
  for (const { name, options } of variants) {
    const sweep = new FinalLayerNeuronSweep(model, clean, { bounds: 'fast', ...options });
    try {
      await sweep.run(0, 1, means);
      const samples: number[] = [];
      for (let i = 0; i < Math.max(1, repeats); i++) {
        await gpu.sync();
        const t0 = performance.now();
        await sweep.run(0, neurons, means); // ends with a read-back: the GPU work is done
        samples.push(performance.now() - t0);
      }
      const ms = samples.sort((a, b) => a - b)[samples.length >> 1];
      timings.push({ variant: name, medianMs: ms, glogitsPerS: (clean.B * clean.T * (neurons + 1) * spec.vocab) / (ms * 1e6) });
    } finally {
      sweep.destroy();
    }
  }
  return timings;
}

export async function autotunePairLoop(model: Transformer, ids: Int32Array, B: number, T: number, options: PairTuneOptions = {}): Promise<{ best: string; timings: PairTiming[] }> {
  const { gpu, spec } = model;
  const software = isSoftwareAdapter(gpu);
  const variants = (options.variants ?? PAIR_VARIANTS).map((v) => {
    const parsed = parsePairVariant(v, 'pair autotune');
    return { name: formatPairVariant(parsed), options: parsed };
  });
  const neurons = Math.min(spec.dMlp, options.neurons ?? (software ? 32 : 1024));
  const post = `blocks.${spec.nLayers - 1}.mlp.hook_post`;
  const clean = await CleanRun.capture(model, ids, B, T, { layers: [spec.nLayers - 1], meanHooks: [post], unembed: false });
  let timings: PairTiming[];
  try {
    timings = await timePairVariants(model, clean, clean.means.get(post)!, variants, neurons, options.repeats ?? (software ? 1 : 3));
  } finally {
    clean.destroy();
  }
  const best = timings.reduce((a, b) => (b.medianMs < a.medianMs ? b : a));
  if (options.save !== false) saveCachedChoice(gpu, PAIR_CACHE_KEY, best.variant, best.glogitsPerS);
  return { best: best.variant, timings };
}
