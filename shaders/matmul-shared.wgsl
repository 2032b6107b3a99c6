// matmul-shared: Y = X · W (+ bias), workgroup-memory tiled (the fast path on real GPUs).
//
// Bindings and Params: identical to matmul-register.wgsl (x, w, bias, y, p).
// Tile: 64 × 64 outputs per workgroup of 16×16 invocations, each owning 4×4 outputs;
//       K is walked in steps of 16 through workgroup arrays As[64][16], Bs[16][64].
// Dispatch: (ceil(N / 64), ceil(M / 64), 1).
struct Params { M: u32, N: u32, K: u32, sK: u32, sN: u32, wOff: u32, ldX: u32, xOff: u32, ldY: u32, yOff: u32, hasBias: u32, biasOff: u32 }

@group(0) @binding(0) var<storage, read> x: array<f32>;
//#weight w 1
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const TILE: u32 = 64u;
const BK: u32 = 16u;
var<workgroup> As: array<f32, 1024>; // [64 rows][16 k]
var<workgroup> Bs: array<f32, 1024>; // [16 k][64 cols]

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let tid = lid.y * 16u + lid.x;
  let rowBase = wg.y * TILE;
  let colBase = wg.x * TILE;
  var acc: array<array<f32, 4>, 4>;
  let nTiles = (p.K + BK - 1u) / BK;
  for (var t = 0u; t < nTiles; t++) {
    let k0 = t * BK;
    // 1024 elements of each tile, 4 per invocation.
    for (var e = 0u; e < 4u; e++) {
      let idx = tid * 4u + e;
      let ar = idx / BK;
      let ak = idx % BK;
      let gr = rowBase + ar;
      let gk = k0 + ak;
      var av = 0.0;
      if (gr < p.M && gk < p.K) { av = x[p.xOff + gr * p.ldX + gk]; }
      As[idx] = av;
      let bk = idx / TILE;
      let bc = idx % TILE;
      let gk2 = k0 + bk;
      let gc = colBase + bc;
      var bv = 0.0;
      if (gk2 < p.K && gc < p.N) { bv = load_w(p.wOff + gk2 * p.sK + gc * p.sN); }
      Bs[idx] = bv;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) { a[i] = As[(lid.y * 4u + i) * BK + k]; }
      for (var j = 0u; j < 4u; j++) { b[j] = Bs[k * TILE + lid.x * 4u + j]; }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = rowBase + lid.y * 4u + i;
    if (r >= p.M) { continue; }
    for (var j = 0u; j < 4u; j++) {
      let c = colBase + lid.x * 4u + j;
      if (c >= p.N) { continue; }
      var v = acc[i][j];
      if (p.hasBias == 1u) { v += bias[p.biasOff + c]; }
      y[p.yOff + r * p.ldY + c] = v;
    }
  }
}
