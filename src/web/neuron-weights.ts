// The final layer's per-neuron weight vectors read from an open Checkpoint (the browser has no model
// folder to reopen): the same mapping as src/analysis/neuron-weights.ts, each [d_mlp × d].
import type { Checkpoint } from '../io/checkpoint.js';
import type { ModelSpec } from '../model/spec.js';
import { weightNames } from '../model/weights.js';

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c];
  return out;
}

export async function finalLayerNeuronWeightsFromCheckpoint(ckpt: Checkpoint, spec: ModelSpec): Promise<{ Win: Float32Array; Wout: Float32Array }> {
  const names = weightNames(spec, (n) => ckpt.has(n)).layer(spec.nLayers - 1);
  const win = await ckpt.readF32(names.mlpIn[0]);
  const wout = await ckpt.readF32(names.mlpOut[0]);
  const { dModel: d, dMlp: m } = spec;
  // GPT-2 stores [in, out]: c_fc [d, m] (neuron = column), c_proj [m, d] (neuron = row);
  // GPT-NeoX stores [out, in]: h_to_4h [m, d] (row), 4h_to_h [d, m] (column).
  return spec.arch === 'gpt2' ? { Win: transpose(win, d, m), Wout: wout } : { Win: win, Wout: transpose(wout, d, m) };
}
