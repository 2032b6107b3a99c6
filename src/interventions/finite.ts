// Whether read-back results are all finite. A plain loop: Array.prototype.every with a callback
// took 68 ms over a GPT-2-small neuron sweep's 3.1 M results on the H100 machine's CPU — a third
// of the whole sweep — where this loop takes a few milliseconds.

/** true when no value is NaN or ±∞ (x·0 is NaN exactly for those, and a sum keeps any NaN). */
export function allFinite(values: Float32Array): boolean {
  let probe = 0;
  for (let i = 0; i < values.length; i++) probe += values[i] * 0;
  return probe === 0;
}
