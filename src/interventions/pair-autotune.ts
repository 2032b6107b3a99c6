// Autotuning of the closed form's pair loop (the hot kernel of final-layer neuron sweeps): each
// variant (pair kernel tiled / direct, exp2 hardware / mixed, e inside the exp or as a factor) runs
// the real computation — a clean run of the given tokens, then the closed form over a slice of the
// final layer's neurons — and the fastest is recorded in the autotune cache for this adapter, where
// FinalLayerNeuronSweep finds it (options and PLATEAU_PAIR_* switches still take precedence).
import type { Transformer } from '../model/forward.js';
import { isSoftwareAdapter } from '../gpu/kernels.js';
import { saveCachedChoice } from '../gpu/autotune.js';
import { CleanRun } from './clean-run.js';
import { FinalLayerNeuronSweep, PAIR_CACHE_KEY, formatPairVariant, parsePairVariant } from './closed-form.js';

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

export async function autotunePairLoop(model: Transformer, ids: Int32Array, B: number, T: number, options: PairTuneOptions = {}): Promise<{ best: string; timings: PairTiming[] }> {
  const { gpu, spec } = model;
  const software = isSoftwareAdapter(gpu);
  const variants = (options.variants ?? PAIR_VARIANTS).map((v) => formatPairVariant(parsePairVariant(v, 'pair autotune')));
  const neurons = Math.min(spec.dMlp, options.neurons ?? (software ? 32 : 1024));
  const repeats = Math.max(1, options.repeats ?? (software ? 1 : 3));
  const post = `blocks.${spec.nLayers - 1}.mlp.hook_post`;
  const clean = await CleanRun.capture(model, ids, B, T, { layers: [spec.nLayers - 1], meanHooks: [post], unembed: false });
  const means = clean.means.get(post)!;
  const timings: PairTiming[] = [];
  try {
    for (const variant of variants) {
      const sweep = new FinalLayerNeuronSweep(model, clean, { ...parsePairVariant(variant, 'pair autotune'), bounds: 'fast' });
      try {
        await sweep.run(0, 1, means); // compiles the pipelines
        const samples: number[] = [];
        for (let i = 0; i < repeats; i++) {
          await gpu.sync();
          const t0 = performance.now();
          await sweep.run(0, neurons, means);
          samples.push(performance.now() - t0);
        }
        const ms = samples.sort((a, b) => a - b)[samples.length >> 1];
        timings.push({ variant, medianMs: ms, glogitsPerS: (B * T * (neurons + 1) * spec.vocab) / (ms * 1e6) });
      } finally {
        sweep.destroy();
      }
    }
  } finally {
    clean.destroy();
  }
  const best = timings.reduce((a, b) => (b.medianMs < a.medianMs ? b : a));
  if (options.save !== false) saveCachedChoice(gpu, PAIR_CACHE_KEY, best.variant, best.glogitsPerS);
  return { best: best.variant, timings };
}
