// neuron-closed-form: exact final-layer neuron ablation without re-running the model.
// Ablating neuron i at row t moves the final residual by c·w_i (c = ā_i − a_i(t), or −a_i(t) for
// zero ablation). With u = centred residual, v_i = centred w_i, γ/β the final LayerNorm:
//   logits' = (A_t + c·B_i)·(1/σ') + e,  A_t = W_U(γ⊙u_t), B_i = W_U(γ⊙v_i), e = W_U β,
//   σ'² = (|u|² + 2c·u·v_i + c²|v_i|²)/d + eps,
// so each (row, neuron) pair costs one streamed pass over the vocabulary (online log-sum-exp).
//
// Bindings: 0 x, 1 w, 2 gamma, 3 outA, 4 outB, 5 norms (centring); 6 p (uniform); 7 post, 8 means,
// 9 uv, 10 uNormSq, 11 vNormSq, 12 pairs (pair_prep); 13 targets, 14 state, 15 aChunk, 16 bChunk,
// 17 eChunk (pair_lse_update); 18 cleanNll, 19 dnll (pair_finalize). Each entry point's 'auto'
// layout holds only the bindings it uses.
// Entry points:
//   center_rows      — x [rows, d] → u [rows, d], gu = γ⊙u, norms[r] = |u_r|²
//                      dispatch (min(rows,65535), ceil(rows/65535)) × 64
//   center_weights   — W_out row i (element wOff + i·sRow + j·sCol of w) → v [m, d], gv, norms[i] = |v_i|²
//                      dispatch (m) × 64
//   pair_prep        — post [rows, ldPost] (col i0 + i), means [m], uv [rows, mc], uNormSq [rows], vNormSq [mc]
//                      → pairs [rows, mc, 2] = (c, 1/σ'); dispatch (ceil(mc/64), rows split y/z)
//   pair_lse_update  — aChunk [rows, cols], bChunk [mc, cols], eChunk [cols], pairs, targets → state [rows, mc, 3]
//                      = (running max, Σexp, target logit); dispatch (ceil(mc/16), ceil(rows/16)) × (16, 16),
//                      tiles of 32 vocabulary columns shared in workgroup memory
//   pair_finalize    — state, targets, cleanNll [rows] → dnll [mc, rows] (0 where no target)
//                      dispatch (ceil(mc/64), rows split y/z)
struct Params {
  rows: u32, d: u32, m: u32, mc: u32,
  i0: u32, ldPost: u32, cols: u32, vocabStart: u32,
  first: u32, useMeans: u32, sRow: u32, sCol: u32,
  wOff: u32, eps: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
//#weight w 1
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> outA: array<f32>;
@group(0) @binding(4) var<storage, read_write> outB: array<f32>;
@group(0) @binding(5) var<storage, read_write> norms: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

// pair_prep / pair_lse_update / pair_finalize inputs
@group(0) @binding(7) var<storage, read> post: array<f32>;
@group(0) @binding(8) var<storage, read> means: array<f32>;
@group(0) @binding(9) var<storage, read> uv: array<f32>;
@group(0) @binding(10) var<storage, read> uNormSq: array<f32>;
@group(0) @binding(11) var<storage, read> vNormSq: array<f32>;
@group(0) @binding(12) var<storage, read_write> pairs: array<f32>;
@group(0) @binding(13) var<storage, read> targets: array<i32>;
@group(0) @binding(14) var<storage, read_write> state: array<f32>;
@group(0) @binding(15) var<storage, read> aChunk: array<f32>;
@group(0) @binding(16) var<storage, read> bChunk: array<f32>;
@group(0) @binding(17) var<storage, read> eChunk: array<f32>;
@group(0) @binding(18) var<storage, read> cleanNll: array<f32>;
@group(0) @binding(19) var<storage, read_write> dnll: array<f32>;

var<workgroup> partial: array<f32, 64>;

fn reduce_sum(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  var stride = 32u;
  while (stride > 0u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
    stride /= 2u;
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(64, 1, 1)
fn center_rows(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let r = wg.x + wg.y * 65535u;
  if (r >= p.rows) { return; }
  let lid = lid3.x;
  var s = 0.0;
  for (var j = lid; j < p.d; j += 64u) { s += x[r * p.d + j]; }
  let mean = reduce_sum(s, lid) / f32(p.d);
  var s2 = 0.0;
  for (var j = lid; j < p.d; j += 64u) {
    let c = x[r * p.d + j] - mean;
    outA[r * p.d + j] = c;
    outB[r * p.d + j] = c * gamma[j];
    s2 += c * c;
  }
  let total = reduce_sum(s2, lid);
  if (lid == 0u) { norms[r] = total; }
}

@compute @workgroup_size(64, 1, 1)
fn center_weights(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let i = wg.x;
  if (i >= p.mc) { return; }
  let lid = lid3.x;
  let base = p.wOff + (p.i0 + i) * p.sRow;
  var s = 0.0;
  for (var j = lid; j < p.d; j += 64u) { s += load_w(base + j * p.sCol); }
  let mean = reduce_sum(s, lid) / f32(p.d);
  var s2 = 0.0;
  for (var j = lid; j < p.d; j += 64u) {
    let c = load_w(base + j * p.sCol) - mean;
    outA[i * p.d + j] = c;
    outB[i * p.d + j] = c * gamma[j];
    s2 += c * c;
  }
  let total = reduce_sum(s2, lid);
  if (lid == 0u) { norms[i] = total; }
}

@compute @workgroup_size(64, 1, 1)
fn pair_prep(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let r = gid.y + gid.z * 65535u;
  if (i >= p.mc || r >= p.rows) { return; }
  let a = post[r * p.ldPost + p.i0 + i];
  var c = -a;
  if (p.useMeans == 1u) { c = means[p.i0 + i] - a; }
  let dot = uv[r * p.mc + i];
  let variance = (uNormSq[r] + 2.0 * c * dot + c * c * vNormSq[i]) / f32(p.d) + p.eps;
  let k = (r * p.mc + i) * 2u;
  pairs[k] = c;
  pairs[k + 1u] = inverseSqrt(variance);
}

const TC: u32 = 32u; // vocabulary columns per shared tile
var<workgroup> aTile: array<f32, 512>; // [16 rows][TC]
var<workgroup> bTile: array<f32, 512>; // [16 neurons][TC]
var<workgroup> eTile: array<f32, 32>;

@compute @workgroup_size(16, 16, 1)
fn pair_lse_update(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // A 16 × 16 block of (row, neuron) pairs shares tiles of A, B and e in workgroup memory; each
  // pair takes its tile maximum first, so every logit costs one exp.
  let i = wg.x * 16u + lid.x;
  let r = wg.y * 16u + lid.y;
  let tid = lid.y * 16u + lid.x;
  let isLive = i < p.mc && r < p.rows && targets[min(r, p.rows - 1u)] >= 0;
  var c = 0.0;
  var inv = 0.0;
  if (isLive) {
    let k = (r * p.mc + i) * 2u;
    c = pairs[k];
    inv = pairs[k + 1u];
  }
  var m = -3.0e38;
  var s = 0.0;
  var tgt = 0.0;
  var tgtCol = 0xffffffffu;
  if (isLive) {
    let tgtId = targets[r];
    if (tgtId >= i32(p.vocabStart) && tgtId < i32(p.vocabStart + p.cols)) { tgtCol = u32(tgtId) - p.vocabStart; }
  }
  for (var c0 = 0u; c0 < p.cols; c0 += TC) {
    for (var e = 0u; e < 2u; e++) {
      let idx = tid * 2u + e;       // 0..511
      let row = idx / TC;           // 0..15
      let col = c0 + idx % TC;
      let ar = wg.y * 16u + row;
      let bi = wg.x * 16u + row;
      aTile[idx] = select(0.0, aChunk[min(ar, p.rows - 1u) * p.cols + min(col, p.cols - 1u)], ar < p.rows && col < p.cols);
      bTile[idx] = select(0.0, bChunk[min(bi, p.mc - 1u) * p.cols + min(col, p.cols - 1u)], bi < p.mc && col < p.cols);
    }
    if (tid < TC) { eTile[tid] = select(0.0, eChunk[min(c0 + tid, p.cols - 1u)], c0 + tid < p.cols); }
    workgroupBarrier();
    if (isLive) {
      let n = min(TC, p.cols - c0);
      var tileMax = -3.0e38;
      for (var v = 0u; v < n; v++) {
        tileMax = max(tileMax, (aTile[lid.y * TC + v] + c * bTile[lid.x * TC + v]) * inv + eTile[v]);
      }
      let mNew = max(m, tileMax);
      var sum = 0.0;
      for (var v = 0u; v < n; v++) {
        sum += exp((aTile[lid.y * TC + v] + c * bTile[lid.x * TC + v]) * inv + eTile[v] - mNew);
      }
      s = s * exp(m - mNew) + sum;
      m = mNew;
      if (tgtCol >= c0 && tgtCol < c0 + n) {
        let v = tgtCol - c0;
        tgt = (aTile[lid.y * TC + v] + c * bTile[lid.x * TC + v]) * inv + eTile[v];
      }
    }
    workgroupBarrier();
  }
  if (!isLive) { return; }
  let st = (r * p.mc + i) * 3u;
  var mOld = -3.0e38;
  var sOld = 0.0;
  if (p.first == 0u) {
    mOld = state[st];
    sOld = state[st + 1u];
    if (tgtCol == 0xffffffffu) { tgt = state[st + 2u]; }
  }
  let mm = max(mOld, m);
  state[st] = mm;
  state[st + 1u] = sOld * exp(mOld - mm) + s * exp(m - mm);
  state[st + 2u] = tgt;
}

@compute @workgroup_size(64, 1, 1)
fn pair_finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let r = gid.y + gid.z * 65535u;
  if (i >= p.mc || r >= p.rows) { return; }
  var value = 0.0;
  if (targets[r] >= 0) {
    let st = (r * p.mc + i) * 3u;
    value = state[st] + log(state[st + 1u]) - state[st + 2u] - cleanNll[r];
  }
  dnll[i * p.rows + r] = value;
}
