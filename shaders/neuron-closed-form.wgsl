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
//                      = (running max and Σ in log2 units, target logit in nats); dispatch (ceil(mc/64), ceil(rows/64)) × (16, 16),
//                      4 × 4 pairs per invocation, tiles of 16 vocabulary columns in workgroup memory
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


//#include workgroup-reduce

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

// Stores the running (max, Σexp, target logit) of a 4 × 4 block of pairs; the target's logit, when
// the target lies in this chunk, is computed straight from the chunk buffers.
fn write_pair_state(row0: u32, n0: u32, m: array<vec4<f32>, 4>, s: array<vec4<f32>, 4>, tgt: array<vec4<f32>, 4>,
                    cv: array<vec4<f32>, 4>, iv: array<vec4<f32>, 4>, tcol: array<i32, 4>) {
  for (var ri = 0u; ri < 4u; ri++) {
    let r = row0 + ri;
    if (r >= p.rows || targets[r] < 0) { continue; }
    for (var nj = 0u; nj < 4u; nj++) {
      let i = n0 + nj;
      if (i >= p.mc) { continue; }
      let st = (r * p.mc + i) * 3u;
      state[st] = m[ri][nj];
      state[st + 1u] = s[ri][nj];
      var t = tgt[ri][nj];
      if (tcol[ri] >= 0) {
        let tc = u32(tcol[ri]);
        t = (fma(bChunk[i * p.cols + tc], cv[ri][nj], aChunk[r * p.cols + tc] * iv[ri][nj]) + eChunk[tc] * LOG2E) * LN2;
      }
      state[st + 2u] = t;
    }
  }
}

const TC: u32 = 16u; // vocabulary columns per tile
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;

// Index of pair (row r, neuron i) with i clamped into range.
fn pair_index(r: u32, i: u32) -> u32 { return r * p.mc + min(i, p.mc - 1u); }
// Transposed tiles of vec4: aT[v·16 + ty] holds column v of this workgroup's rows 4·ty..4·ty+3,
// bT[v·16 + tx] column v of its neurons 4·tx..4·tx+3 (conflict-free vec4 reads).
var<workgroup> aT: array<vec4<f32>, 256>;
var<workgroup> bT: array<vec4<f32>, 256>;
var<workgroup> eT: array<f32, 16>;

@compute @workgroup_size(16, 16, 1)
fn pair_lse_update(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // Each invocation owns 4 rows × 4 neurons (vec4 over neurons); a workgroup 64 × 64 pairs. Per
  // tile of 16 columns: the tile maximum first, then Σexp, so every logit costs one exp.
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * 16u + tx;
  let row0 = wg.y * 64u + ty * 4u;
  let n0 = wg.x * 64u + tx * 4u;
  var cv: array<vec4<f32>, 4>;
  var iv: array<vec4<f32>, 4>;
  var m: array<vec4<f32>, 4>;
  var s: array<vec4<f32>, 4>;
  var tgt: array<vec4<f32>, 4>;
  var tcol: array<i32, 4>;
  for (var ri = 0u; ri < 4u; ri++) {
    let r = min(row0 + ri, p.rows - 1u);
    let tgtId = targets[r];
    tcol[ri] = select(-1, tgtId - i32(p.vocabStart), tgtId >= i32(p.vocabStart) && tgtId < i32(p.vocabStart + p.cols));
    // This invocation's 4 neurons of row r (clamped at the edge; those lanes are never written).
    let k0 = pair_index(r, n0);
    let k1 = pair_index(r, n0 + 1u);
    let k2 = pair_index(r, n0 + 2u);
    let k3 = pair_index(r, n0 + 3u);
    // Logits in log2 units: l·log2(e) = a·(inv·log2 e) + b·(c·inv·log2 e) + e·log2 e, two FMAs.
    let inv = vec4<f32>(pairs[k0 * 2u + 1u], pairs[k1 * 2u + 1u], pairs[k2 * 2u + 1u], pairs[k3 * 2u + 1u]);
    iv[ri] = inv * LOG2E;
    cv[ri] = vec4<f32>(pairs[k0 * 2u], pairs[k1 * 2u], pairs[k2 * 2u], pairs[k3 * 2u]) * iv[ri];
    m[ri] = vec4<f32>(-3.0e38);
    if (p.first == 0u) {
      m[ri] = vec4<f32>(state[k0 * 3u], state[k1 * 3u], state[k2 * 3u], state[k3 * 3u]);
      s[ri] = vec4<f32>(state[k0 * 3u + 1u], state[k1 * 3u + 1u], state[k2 * 3u + 1u], state[k3 * 3u + 1u]);
      tgt[ri] = vec4<f32>(state[k0 * 3u + 2u], state[k1 * 3u + 2u], state[k2 * 3u + 2u], state[k3 * 3u + 2u]);
    }
  }
  for (var c0 = 0u; c0 < p.cols; c0 += TC) {
    {
      // Invocation tid fills one vec4 of each tile: column tid % 16, rows (or neurons) 4·(tid / 16)..+3.
      let col = tid % TC;
      let group = tid / TC;
      let gc = min(c0 + col, p.cols - 1u);
      let colOk = c0 + col < p.cols;
      var av: vec4<f32>;
      var bv: vec4<f32>;
      for (var j = 0u; j < 4u; j++) {
        let ar = wg.y * 64u + group * 4u + j;
        let bi = wg.x * 64u + group * 4u + j;
        av[j] = select(0.0, aChunk[min(ar, p.rows - 1u) * p.cols + gc], ar < p.rows && colOk);
        bv[j] = select(0.0, bChunk[min(bi, p.mc - 1u) * p.cols + gc], bi < p.mc && colOk);
      }
      aT[col * 16u + group] = av;
      bT[col * 16u + group] = bv;
    }
    if (tid < TC) { eT[tid] = select(0.0, eChunk[min(c0 + tid, p.cols - 1u)], c0 + tid < p.cols); }
    workgroupBarrier();
    let n = min(TC, p.cols - c0);
    var tileMax = array<vec4<f32>, 4>(vec4<f32>(-3.0e38), vec4<f32>(-3.0e38), vec4<f32>(-3.0e38), vec4<f32>(-3.0e38));
    for (var v = 0u; v < n; v++) {
      let a = aT[v * 16u + ty];
      let b = bT[v * 16u + tx];
      let ev = vec4<f32>(eT[v] * LOG2E);
      for (var ri = 0u; ri < 4u; ri++) {
        tileMax[ri] = max(tileMax[ri], fma(b, cv[ri], fma(vec4<f32>(a[ri]), iv[ri], ev)));
      }
    }
    // Explicit initialisers: on lavapipe a var declared without one inside a loop body kept its
    // value from the previous iteration instead of starting at zero.
    var mNew = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var sum = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    for (var ri = 0u; ri < 4u; ri++) { mNew[ri] = max(m[ri], tileMax[ri]); }
    for (var v = 0u; v < n; v++) {
      let a = aT[v * 16u + ty];
      let b = bT[v * 16u + tx];
      let ev = vec4<f32>(eT[v] * LOG2E);
      for (var ri = 0u; ri < 4u; ri++) {
        sum[ri] += exp2(fma(b, cv[ri], fma(vec4<f32>(a[ri]), iv[ri], ev)) - mNew[ri]);
      }
    }
    for (var ri = 0u; ri < 4u; ri++) {
      s[ri] = s[ri] * exp2(m[ri] - mNew[ri]) + sum[ri];
      m[ri] = mNew[ri];
    }
    workgroupBarrier();
  }
  write_pair_state(row0, n0, m, s, tgt, cv, iv, tcol);
}

// The same computation without workgroup memory or barriers, for CPU adapters (lavapipe,
// SwiftShader) where those are slow: each invocation reads its 4 rows and 4 neurons straight from
// the chunk buffers. Dispatch (ceil(mc/32), ceil(rows/32)) × (8, 8).
@compute @workgroup_size(8, 8, 1)
fn pair_lse_update_direct(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (row0 >= p.rows || n0 >= p.mc) { return; }
  var cv = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  var iv = cv;
  var m = array<vec4<f32>, 4>(vec4<f32>(-3.0e38), vec4<f32>(-3.0e38), vec4<f32>(-3.0e38), vec4<f32>(-3.0e38));
  var s = cv;
  var tgt = cv;
  var aOff: array<u32, 4>;
  var tcol = array<i32, 4>(-1, -1, -1, -1);
  for (var ri = 0u; ri < 4u; ri++) {
    let r = min(row0 + ri, p.rows - 1u);
    aOff[ri] = r * p.cols;
    let tgtId = targets[r];
    if (tgtId >= i32(p.vocabStart) && tgtId < i32(p.vocabStart + p.cols)) { tcol[ri] = tgtId - i32(p.vocabStart); }
    let k0 = pair_index(r, n0);
    let k1 = pair_index(r, n0 + 1u);
    let k2 = pair_index(r, n0 + 2u);
    let k3 = pair_index(r, n0 + 3u);
    // Logits in log2 units: l·log2(e) = a·(inv·log2 e) + b·(c·inv·log2 e) + e·log2 e, two FMAs.
    let inv = vec4<f32>(pairs[k0 * 2u + 1u], pairs[k1 * 2u + 1u], pairs[k2 * 2u + 1u], pairs[k3 * 2u + 1u]);
    iv[ri] = inv * LOG2E;
    cv[ri] = vec4<f32>(pairs[k0 * 2u], pairs[k1 * 2u], pairs[k2 * 2u], pairs[k3 * 2u]) * iv[ri];
    if (p.first == 0u) {
      m[ri] = vec4<f32>(state[k0 * 3u], state[k1 * 3u], state[k2 * 3u], state[k3 * 3u]);
      s[ri] = vec4<f32>(state[k0 * 3u + 1u], state[k1 * 3u + 1u], state[k2 * 3u + 1u], state[k3 * 3u + 1u]);
      tgt[ri] = vec4<f32>(state[k0 * 3u + 2u], state[k1 * 3u + 2u], state[k2 * 3u + 2u], state[k3 * 3u + 2u]);
    }
  }
  let b0 = min(n0, p.mc - 1u) * p.cols;
  let b1 = min(n0 + 1u, p.mc - 1u) * p.cols;
  let b2 = min(n0 + 2u, p.mc - 1u) * p.cols;
  let b3 = min(n0 + 3u, p.mc - 1u) * p.cols;
  for (var c0 = 0u; c0 < p.cols; c0 += TC) {
    let n = min(TC, p.cols - c0);
    var tileMax = array<vec4<f32>, 4>(vec4<f32>(-3.0e38), vec4<f32>(-3.0e38), vec4<f32>(-3.0e38), vec4<f32>(-3.0e38));
    for (var v = c0; v < c0 + n; v++) {
      let b = vec4<f32>(bChunk[b0 + v], bChunk[b1 + v], bChunk[b2 + v], bChunk[b3 + v]);
      let ev = vec4<f32>(eChunk[v] * LOG2E);
      for (var ri = 0u; ri < 4u; ri++) {
        tileMax[ri] = max(tileMax[ri], fma(b, cv[ri], fma(vec4<f32>(aChunk[aOff[ri] + v]), iv[ri], ev)));
      }
    }
    var sum = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var mNew = sum;
    for (var ri = 0u; ri < 4u; ri++) { mNew[ri] = max(m[ri], tileMax[ri]); }
    for (var v = c0; v < c0 + n; v++) {
      let b = vec4<f32>(bChunk[b0 + v], bChunk[b1 + v], bChunk[b2 + v], bChunk[b3 + v]);
      let ev = vec4<f32>(eChunk[v] * LOG2E);
      for (var ri = 0u; ri < 4u; ri++) {
        sum[ri] += exp2(fma(b, cv[ri], fma(vec4<f32>(aChunk[aOff[ri] + v]), iv[ri], ev)) - mNew[ri]);
      }
    }
    for (var ri = 0u; ri < 4u; ri++) {
      s[ri] = s[ri] * exp2(m[ri] - mNew[ri]) + sum[ri];
      m[ri] = mNew[ri];
    }
  }
  write_pair_state(row0, n0, m, s, tgt, cv, iv, tcol);
}

@compute @workgroup_size(64, 1, 1)
fn pair_finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let r = gid.y + gid.z * 65535u;
  if (i >= p.mc || r >= p.rows) { return; }
  var value = 0.0;
  if (targets[r] >= 0) {
    let st = (r * p.mc + i) * 3u;
    value = (state[st] + log2(state[st + 1u])) * LN2 - state[st + 2u] - cleanNll[r];
  }
  dnll[i * p.rows + r] = value;
}
