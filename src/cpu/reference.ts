// Float64 CPU references for every WGSL kernel, written for clarity, not speed. Tests compare each
// kernel against these on random shapes (including sizes that are not tile multiples).

export function matmulRef(x: ArrayLike<number>, w: ArrayLike<number>, M: number, N: number, K: number, sK: number, sN: number, bias?: ArrayLike<number>): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k] * w[k * sK + n * sN];
      y[m * N + n] = acc;
    }
  }
  return y;
}

export function layernormRef(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, rows: number, d: number, eps: number): Float64Array {
  const y = new Float64Array(rows * d);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[r * d + i];
    mean /= d;
    let variance = 0;
    for (let i = 0; i < d; i++) variance += (x[r * d + i] - mean) ** 2;
    variance /= d;
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < d; i++) y[r * d + i] = (x[r * d + i] - mean) * rstd * gamma[i] + beta[i];
  }
  return y;
}

/** erf in float64: Maclaurin series for |x| < 2.5, Lentz continued fraction of erfc beyond (error < 1e-13). */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const contrib = term / (2 * n + 1);
      sum += contrib;
      if (Math.abs(contrib) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = exp(-z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + ...))))
  let f = ax;
  let C = ax;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    D = ax + a * D;
    D = 1 / D;
    C = ax + a / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

export function geluTanhRef(v: number): number {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
}

export function geluErfRef(v: number): number {
  return 0.5 * v * (1 + erf64(v / Math.SQRT2));
}

/** Causal attention for q, k, v given as [B, T, H, dh]; returns z [B, T, H, dh] and pattern [B, H, T, T]. */
export function attentionRef(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, B: number, T: number, H: number, dh: number): { z: Float64Array; pattern: Float64Array } {
  const z = new Float64Array(B * T * H * dh);
  const pattern = new Float64Array(B * H * T * T);
  const at = (b: number, t: number, h: number) => ((b * T + t) * H + h) * dh;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let t = 0; t < T; t++) {
        const scores = new Float64Array(t + 1);
        let max = -Infinity;
        for (let s = 0; s <= t; s++) {
          let acc = 0;
          for (let i = 0; i < dh; i++) acc += q[at(b, t, h) + i] * k[at(b, s, h) + i];
          scores[s] = acc / Math.sqrt(dh);
          max = Math.max(max, scores[s]);
        }
        let sum = 0;
        for (let s = 0; s <= t; s++) { scores[s] = Math.exp(scores[s] - max); sum += scores[s]; }
        for (let s = 0; s <= t; s++) {
          const p = scores[s] / sum;
          pattern[((b * H + h) * T + t) * T + s] = p;
          for (let i = 0; i < dh; i++) z[at(b, t, h) + i] += p * v[at(b, s, h) + i];
        }
      }
    }
  }
  return { z, pattern };
}

/** Rotate-half rotary on the first `rot` dims of a [rows, H, dh] tensor at the given positions. */
export function rotaryRef(x: ArrayLike<number>, positions: ArrayLike<number>, rows: number, H: number, dh: number, rot: number, base: number): Float64Array {
  const out = Float64Array.from(x as ArrayLike<number>);
  const half = rot / 2;
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < H; h++) {
      const o = (r * H + h) * dh;
      for (let j = 0; j < half; j++) {
        const angle = positions[r] / Math.pow(base, (2 * j) / rot);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const a = x[o + j];
        const b = x[o + j + half];
        out[o + j] = a * c - b * s;
        out[o + j + half] = b * c + a * s;
      }
    }
  }
  return out;
}

/** −log softmax(logits[row])[target[row]] for each row (0 where target < 0). */
export function nllRef(logits: ArrayLike<number>, targets: ArrayLike<number>, rows: number, V: number): Float64Array {
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    if (targets[r] < 0) continue;
    let max = -Infinity;
    for (let c = 0; c < V; c++) max = Math.max(max, logits[r * V + c]);
    let sum = 0;
    for (let c = 0; c < V; c++) sum += Math.exp(logits[r * V + c] - max);
    out[r] = max + Math.log(sum) - logits[r * V + targets[r]];
  }
  return out;
}
