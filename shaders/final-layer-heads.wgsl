// final-layer-heads: exact zero / mean ablation of the final layer's attention heads in models whose
// attention output goes straight to the final residual (parallel residual: GPT-NeoX / Pythia), with
// the algebra of the neuron closed form. Ablating head h at row t sets its z to m (mean or 0):
// δ = m − z_t (dh values), the final residual moves by δ·W_O[h], and with u = centred residual,
// V_h = centred rows of W_O[h], γ/β the final LayerNorm:
//   logits' = (A_t + δ·F_h)·(1/σ') + e,  A_t = W_U(γ⊙u_t),  F_h = W_U diag(γ) V_hᵀ (V × dh),
//   σ'² = |u_t + δ·V_h|²/d + eps,
// so a head costs a [rows, dh]·[dh, V] product plus one log-sum-exp per row, instead of a forward.
// The host (src/interventions/final-layer-heads.ts) forms δ·V_h and δ·F_h by matrix products.
//
// Bindings: 0 z [rows, ldz] (hook_z), 1 means [H·dh], 2 delta [rows, dh] (head_delta);
//   3 u [rows, d], 4 shift [rows, d] (δ·V_h), 5 inv [rows] (shifted_inv);
//   6 a [rows, cols], 7 logits [rows, cols] (in: δ·F_h; out: logits), 8 e [cols] (head_logits);
//   9 p (uniform).
// Entry points:
//   head_delta  — delta[r, j] = m[h·dh + j] − z[r, h·dh + j] (m = 0 without means; p.useMeans 2:
//                 m[r, h·dh + j] of another run's hook_z, resampling position by position);
//                 dispatch (ceil(dh/64), rows split y/z)
//   shifted_inv — inv[r] = 1/sqrt(|u_r + shift_r|²/d + eps) (shift read only when p.shifted = 1:
//                 the clean column has none); dispatch (rows split x/y) × 64
//   head_logits — logits[r, v] = inv[r]·(a[r, v] + logits[r, v]) + e[v], in place (with p.shifted
//                 = 0, logits' input is ignored: the clean column); dispatch (ceil(cols/64), rows split y/z)
// A no-op ablation (m = z) gives δ = 0 exactly, so its logits are bit-identical to the clean column's.
struct Params { rows: u32, d: u32, dh: u32, head: u32, ldz: u32, useMeans: u32, cols: u32, shifted: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> z: array<f32>;
@group(0) @binding(1) var<storage, read> means: array<f32>;
@group(0) @binding(2) var<storage, read_write> delta: array<f32>;
@group(0) @binding(3) var<storage, read> u: array<f32>;
@group(0) @binding(4) var<storage, read> shift: array<f32>;
@group(0) @binding(5) var<storage, read_write> inv: array<f32>;
@group(0) @binding(6) var<storage, read> a: array<f32>;
@group(0) @binding(7) var<storage, read_write> logits: array<f32>;
@group(0) @binding(8) var<storage, read> e: array<f32>;
@group(0) @binding(9) var<uniform> p: Params;

//#include workgroup-reduce

@compute @workgroup_size(64, 1, 1)
fn head_delta(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let r = gid.y + gid.z * 65535u;
  if (j >= p.dh || r >= p.rows) { return; }
  let col = p.head * p.dh + j;
  var m = 0.0;
  if (p.useMeans == 1u) { m = means[col]; }
  if (p.useMeans == 2u) { m = means[r * p.ldz + col]; } // resample: another run's hook_z
  delta[r * p.dh + j] = m - z[r * p.ldz + col];
}

@compute @workgroup_size(64, 1, 1)
fn shifted_inv(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let r = wg.x + wg.y * 65535u;
  if (r >= p.rows) { return; }
  let lid = lid3.x;
  var s = 0.0;
  for (var k = lid; k < p.d; k += 64u) {
    var x = u[r * p.d + k];
    if (p.shifted == 1u) { x += shift[r * p.d + k]; }
    s += x * x;
  }
  let total = reduce_sum(s, lid);
  if (lid == 0u) { inv[r] = inverseSqrt(total / f32(p.d) + p.eps); }
}

@compute @workgroup_size(64, 1, 1)
fn head_logits(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = gid.x;
  let r = gid.y + gid.z * 65535u;
  if (v >= p.cols || r >= p.rows) { return; }
  let k = r * p.cols + v;
  var x = a[k];
  if (p.shifted == 1u) { x += logits[k]; }
  logits[k] = inv[r] * x + e[v];
}
