// matmul-register: Y = X · W (+ bias), register-tiled, no workgroup memory.
// Fast on CPU adapters (lavapipe, SwiftShader) where barriers are expensive.
//
// Bindings: 0 x: array<f32>  X[m, k] at x[xOff + m*ldX + k]
//           1 w: weights (f32, or f16 pairs packed in u32)  W(k, n) at element wOff + k*sK + n*sN
//             (sK = N, sN = 1 for an [in, out] matrix; sK = 1, sN = K for [out, in])
//           2 bias: array<f32>  bias[biasOff + n] (read only when hasBias = 1)
//           3 y: array<f32>  Y[m, n] at y[yOff + m*ldY + n]
//           4 p: Params (uniform)
// Shapes: M × K times K × N; any M, N, K (edges masked).
// Dispatch: (ceil(N / (8·TN)), ceil(M / (8·TM)), 1) workgroups of 8×8; each invocation owns a
//           TM × TN block of Y (TM = TN = 4).
struct Params { M: u32, N: u32, K: u32, sK: u32, sN: u32, wOff: u32, ldX: u32, xOff: u32, ldY: u32, yOff: u32, hasBias: u32, biasOff: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
//#weight w 1
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const TM: u32 = 4u;
const TN: u32 = 4u;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * TM;
  let col0 = gid.x * TN;
  if (row0 >= p.M || col0 >= p.N) { return; }
  var acc: array<array<f32, 4>, 4>;
  var xrow: array<u32, 4>;
  var wcol: array<u32, 4>;
  var rowOk: array<f32, 4>;
  var colOk: array<f32, 4>;
  for (var i = 0u; i < TM; i++) {
    let r = min(row0 + i, p.M - 1u);
    xrow[i] = p.xOff + r * p.ldX;
    rowOk[i] = select(0.0, 1.0, row0 + i < p.M);
  }
  for (var j = 0u; j < TN; j++) {
    let c = min(col0 + j, p.N - 1u);
    wcol[j] = p.wOff + c * p.sN;
    colOk[j] = select(0.0, 1.0, col0 + j < p.N);
  }
  for (var k = 0u; k < p.K; k++) {
    var a: array<f32, 4>;
    var b: array<f32, 4>;
    for (var i = 0u; i < TM; i++) { a[i] = x[xrow[i] + k]; }
    let kOff = k * p.sK;
    for (var j = 0u; j < TN; j++) { b[j] = load_w(wcol[j] + kOff); }
    for (var i = 0u; i < TM; i++) {
      for (var j = 0u; j < TN; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
    }
  }
  for (var i = 0u; i < TM; i++) {
    if (rowOk[i] == 0.0) { continue; }
    let r = row0 + i;
    for (var j = 0u; j < TN; j++) {
      if (colOk[j] == 0.0) { continue; }
      let c = col0 + j;
      var v = acc[i][j];
      if (p.hasBias == 1u) { v += bias[p.biasOff + c]; }
      y[p.yOff + r * p.ldY + c] = v;
    }
  }
}
