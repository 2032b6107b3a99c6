// Mean activations over a named population (for mean ablation): column means of hooks over every
// position of a set of token rows that need not be the swept batch — e.g. a corpus sample, as the
// rare-token papers take them. Averaged on the GPU batch by batch (only [width] floats per hook
// and batch come back), combined in float64 weighted by each batch's positions.
import type { Transformer } from '../model/forward.js';
import { sequencesPerBatch } from '../model/run.js';
import { CleanRun } from './clean-run.js';

export async function populationMeans(
  model: Transformer,
  population: { ids: Int32Array; B: number; T: number },
  hooks: string[],
  onProgress?: (rowsDone: number, rows: number) => void,
): Promise<Map<string, Float32Array>> {
  const { ids, B, T } = population;
  if (ids.length !== B * T || B < 1 || T < 1) throw new Error(`population means: ${ids.length} token ids do not form ${B} rows of ${T}`);
  const perBatch = sequencesPerBatch(model, T, false);
  const sums = new Map<string, Float64Array>();
  for (let b0 = 0; b0 < B; b0 += perBatch) {
    const rows = Math.min(perBatch, B - b0);
    const run = await CleanRun.capture(model, ids.subarray(b0 * T, (b0 + rows) * T), rows, T, { layers: [], meanHooks: hooks, unembed: false });
    run.destroy();
    for (const hook of hooks) {
      const mean = run.means.get(hook)!;
      const sum = sums.get(hook) ?? sums.set(hook, new Float64Array(mean.length)).get(hook)!;
      for (let i = 0; i < mean.length; i++) sum[i] += mean[i] * rows;
    }
    onProgress?.(b0 + rows, B);
  }
  return new Map([...sums].map(([hook, sum]) => [hook, Float32Array.from(sum, (s) => s / B)]));
}
