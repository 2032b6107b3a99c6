// layernorm: y = (x − mean) / sqrt(var + eps) · gamma + beta, biased variance, two-pass.
//
// Bindings: 0 x: array<f32> [rows, d] (row stride ldX)   1 gamma: array<f32> [d]
//           2 beta: array<f32> [d]                       3 y: array<f32> [rows, d] (row stride ldY)
//           4 stats: array<f32> [rows, 2] = (mean, 1/sqrt(var + eps))   5 p: Params (uniform)
// Dispatch: (min(rows, 65535), ceil(rows / 65535), 1) workgroups of 64; one workgroup per row.
struct Params { rows: u32, d: u32, ldX: u32, ldY: u32, eps: f32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> gamma: array<f32>;
@group(0) @binding(2) var<storage, read> beta: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<uniform> p: Params;

const WG: u32 = 64u;

//#include workgroup-reduce

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.ldX;
  var s = 0.0;
  for (var i = lid; i < p.d; i += WG) { s += x[base + i]; }
  let mean = reduce_sum(s, lid) / f32(p.d);
  var s2 = 0.0;
  for (var i = lid; i < p.d; i += WG) { let c = x[base + i] - mean; s2 += c * c; }
  let variance = reduce_sum(s2, lid) / f32(p.d);
  let rstd = 1.0 / sqrt(variance + p.eps);
  let out = row * p.ldY;
  for (var i = lid; i < p.d; i += WG) { y[out + i] = (x[base + i] - mean) * rstd * gamma[i] + beta[i]; }
  if (lid == 0u) { stats[row * 2u] = mean; stats[row * 2u + 1u] = rstd; }
}
