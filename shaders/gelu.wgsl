// gelu: y = GELU(x) elementwise. Entry points:
//   gelu_tanh — GPT-2's "gelu_new": 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))
//   gelu_erf  — exact GELU: 0.5·x·(1 + erf(x/√2)), with erfc from a rational approximation
//               (Numerical Recipes' erfcc, fractional error < 1.2e-7 everywhere), evaluated on
//               |x| so the negative tail keeps its relative accuracy.
// Bindings: 0 x: array<f32> [n]   1 y: array<f32> [n]   2 p: Params (uniform)
// Dispatch: (ceil(n / 256), 1, 1) workgroups of 256 (2-D split when n/256 > 65535: x + y·65535·256).
struct Params { n: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;

fn tanh_safe(v: f32) -> f32 {
  let c = clamp(v, -15.0, 15.0);
  let e = exp(2.0 * c);
  return (e - 1.0) / (e + 1.0);
}

fn gelu_tanh_of(v: f32) -> f32 {
  let inner = 0.7978845608028654 * (v + 0.044715 * v * v * v);
  return 0.5 * v * (1.0 + tanh_safe(inner));
}

// erfc(z) for z >= 0.
fn erfc_pos(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.5 * z);
  let poly = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277))))))));
  return t * exp(poly);
}

fn gelu_erf_of(v: f32) -> f32 {
  let z = abs(v) * 0.7071067811865476;
  let c = erfc_pos(z);
  // v >= 0: 0.5·v·(2 − erfc);  v < 0: 0.5·v·erfc(|v|/√2)
  return select(0.5 * v * c, 0.5 * v * (2.0 - c), v >= 0.0);
}

fn index_of(gid: vec3<u32>) -> u32 { return gid.x + gid.y * 65535u * 256u; }

@compute @workgroup_size(256, 1, 1)
fn gelu_tanh(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = index_of(gid);
  if (i < p.n) { y[i] = gelu_tanh_of(x[i]); }
}

@compute @workgroup_size(256, 1, 1)
fn gelu_erf(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = index_of(gid);
  if (i < p.n) { y[i] = gelu_erf_of(x[i]); }
}
