// "No routing" test: BOS-redirect (or zero/mean-ablate) every screened head and measure, per
// context, the plateau neurons' total |Δa| at the final layer and the change of loss (with
// parallel-residual blocks a final-layer head cannot reach the final layer's neurons: Δa = 0); compare rare
// contexts with the others per head (permutation test) and across heads (Wilcoxon signed-rank).
import type { Transformer } from '../model/forward.js';
import { headAblationSweep } from '../interventions/sweeps.js';
import type { HeadRouting } from './results.js';
import { POSITION_RARE, POSITION_EXCLUDED } from './frequency.js';
import { permutationTest, wilcoxonSignedRank } from './stats.js';
import { mean } from './stats.js';

/** Default screened layers: all heads of the last layer up to 24 layers, else the last 6 layers. */
export function defaultHeadLayers(nLayers: number): number[] {
  return nLayers <= 24 ? [nLayers - 1] : Array.from({ length: 6 }, (_, i) => nLayers - 6 + i);
}

export interface RoutingResult {
  routing: HeadRouting[];
  wilcoxon: { statistic: number; p: number; n: number; alternative: string };
  noRouting: boolean;
  bonferroniAlpha: number;
}

export async function headRouting(
  model: Transformer,
  ids: Int32Array,
  B: number,
  T: number,
  labels: Uint8Array[],
  plateau: number[],
  options: { layers: number[]; intervention: 'bos' | 'zero' | 'mean'; permutations: number; seed: number; means?: Float32Array[] },
): Promise<RoutingResult> {
  const last = model.spec.nLayers - 1;
  const H = model.spec.nHeads;
  const runner = await headAblationSweep({ model, ids, B, T }, {
    kind: 'heads', layers: options.layers, ablation: options.intervention, means: options.means,
    // The plateau neurons' change at the final layer: at the redirected position (bos), or at every
    // position (zero / mean ablation of the head's hook_z, by re-running from its layer).
    watch: plateau.length ? { layer: last, neurons: plateau } : undefined,
  });
  let outputs: Float32Array[];
  try {
    outputs = await runner.compute(0, runner.units);
  } finally {
    runner.dispose();
  }
  const [dnll, dact] = outputs;
  // Contexts: kept positions t < T−1 (they have a loss); rare vs every other kept position.
  const contexts: { b: number; t: number; rare: number }[] = [];
  labels.forEach((row, b) => {
    for (let t = 0; t < T - 1; t++) if (row[t] !== POSITION_EXCLUDED) contexts.push({ b, t, rare: row[t] === POSITION_RARE ? 1 : 0 });
  });
  const W = plateau.length;
  const routing: HeadRouting[] = [];
  options.layers.forEach((layer, j) => {
    for (let h = 0; h < H; h++) {
      const unit = j * H + h;
      const effect = contexts.map(({ b, t }) => {
        if (!dact) return 0;
        let s = 0;
        const base = (((unit * B + b) * T) + t) * W;
        for (let w = 0; w < W; w++) s += Math.abs(dact[base + w]);
        return s;
      });
      const loss = contexts.map(({ b, t }) => dnll[(unit * B + b) * (T - 1) + t]);
      const rareLabels = contexts.map((c) => c.rare);
      const pick = (xs: number[], want: number) => xs.filter((_, k) => rareLabels[k] === want);
      const effectRare = mean(pick(effect, 1));
      const effectOther = mean(pick(effect, 0));
      // Without plateau neurons to watch, the loss change is the effect.
      const measured = dact ? effect : loss.map(Math.abs);
      const perm = permutationTest(measured, rareLabels, { nPermutations: options.permutations, seed: options.seed + unit, alternative: 'greater' });
      const eR = dact ? effectRare : mean(pick(loss.map(Math.abs), 1));
      const eO = dact ? effectOther : mean(pick(loss.map(Math.abs), 0));
      routing.push({
        layer, head: h, effectRare: eR, effectOther: eO, selectivity: eR - eO, ratio: eO > 0 ? eR / eO : NaN,
        dnllRare: mean(pick(loss, 1)), dnllOther: mean(pick(loss, 0)), pPermutation: perm.pValue,
      });
    }
  });
  const w = wilcoxonSignedRank(routing.map((r) => r.effectRare), routing.map((r) => r.effectOther), { alternative: 'greater' });
  const bonferroniAlpha = 0.05 / routing.length;
  const anyHead = routing.some((r) => r.pPermutation < bonferroniAlpha && r.ratio > 1.5);
  return {
    routing,
    wilcoxon: { statistic: w.statistic, p: w.pValue, n: w.n, alternative: 'greater' },
    noRouting: !(w.pValue < 0.05) && !anyHead,
    bonferroniAlpha,
  };
}
