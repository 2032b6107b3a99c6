// Neuron influence on rare and common tokens: every final-layer neuron ablated (mean by default)
// at every kept position through the closed-form sweep, Δℓ_i(t) kept as [neurons × positions]
// matrices for the rare and the common positions, and D_i / I_i per neuron and set.
import type { Transformer } from '../model/forward.js';
import { neuronSweep } from '../interventions/sweeps.js';
import type { Strategy } from '../interventions/plan.js';
import { POSITION_COMMON, POSITION_RARE } from './frequency.js';

export interface PositionSet {
  /** Flat indices b·(T−1) + t into the [B, T−1] dnll layout. */
  positions: Int32Array;
  /** Row-major [neurons × positions] signed Δℓ. */
  deltas: Float32Array;
  /** Per neuron: mean Δℓ (D) and mean |Δℓ| (I). */
  D: Float64Array;
  I: Float64Array;
}

export interface InfluenceResult {
  rare: PositionSet;
  common: PositionSet;
  neurons: number;
}

function positionsWithLabel(labels: Uint8Array[], T: number, label: number): Int32Array {
  const out: number[] = [];
  labels.forEach((row, b) => {
    for (let t = 0; t < T - 1; t++) if (row[t] === label) out.push(b * (T - 1) + t);
  });
  return Int32Array.from(out);
}

function summarize(set: { positions: Int32Array; deltas: Float32Array }, neurons: number): PositionSet {
  const P = set.positions.length;
  const D = new Float64Array(neurons);
  const I = new Float64Array(neurons);
  for (let i = 0; i < neurons; i++) {
    let s = 0;
    let a = 0;
    for (let j = 0; j < P; j++) {
      const v = set.deltas[i * P + j];
      s += v;
      a += Math.abs(v);
    }
    D[i] = P ? s / P : NaN;
    I[i] = P ? a / P : NaN;
  }
  return { ...set, D, I };
}

export async function neuronInfluence(
  model: Transformer,
  ids: Int32Array,
  B: number,
  T: number,
  labels: Uint8Array[],
  options: { ablation: 'mean' | 'zero'; means?: Float32Array; strategy?: Strategy; onProgress?: (done: number, total: number) => void },
): Promise<InfluenceResult> {
  const layer = model.spec.nLayers - 1;
  const m = model.spec.dMlp;
  const runner = await neuronSweep({ model, ids, B, T }, { kind: 'neurons', layer, ablation: options.ablation, means: options.means }, options.strategy);
  const sets = [POSITION_RARE, POSITION_COMMON].map((label) => {
    const positions = positionsWithLabel(labels, T, label);
    return { positions, deltas: new Float32Array(m * positions.length) };
  });
  try {
    const chunk = Math.max(1, runner.chunkUnits);
    for (let start = 0; start < m; start += chunk) {
      const end = Math.min(m, start + chunk);
      const [dnll] = await runner.compute(start, end, (f) => options.onProgress?.(start + Math.floor(f * (end - start)), m));
      const perNeuron = B * (T - 1);
      for (let i = start; i < end; i++) {
        const base = (i - start) * perNeuron;
        for (const set of sets) {
          const P = set.positions.length;
          for (let j = 0; j < P; j++) set.deltas[i * P + j] = dnll[base + set.positions[j]];
        }
      }
      options.onProgress?.(end, m);
    }
  } finally {
    runner.dispose();
  }
  return { rare: summarize(sets[0], m), common: summarize(sets[1], m), neurons: m };
}
