// neuron-closed-form: exact final-layer neuron ablation without re-running the model.
// Ablating neuron i at row t moves the final residual by c·w_i (c = ā_i − a_i(t), or −a_i(t) for
// zero ablation). With u = centred residual, v_i = centred w_i, γ/β the final LayerNorm:
//   logits' = (A_t + c·B_i)·(1/σ') + e,  A_t = W_U(γ⊙u_t), B_i = W_U(γ⊙v_i), e = W_U β,
//   σ'² = (|u|² + 2c·u·v_i + c²|v_i|²)/d + eps,
// so each (row, neuron) pair costs one streamed pass over the vocabulary (log-sum-exp).
// The last of the p.mc pair columns is the clean model itself (c = 0, zero v): its log-sum-exp and
// target logit give the clean nll through the same arithmetic, so dnll = nll' − nll has correlated
// rounding (a no-op ablation gives exactly 0) and the clean run needs no unembedding of its own.
//
// One pass, one exp per logit: per vocabulary chunk each pair's log-sum-exp is taken relative to an
// upper bound of its logits, M = ⌈inv·max A_t + |c·inv|·max|B_i|⌉ + ⌈max e⌉ (log2 units), instead of
// the exact maximum, which would need a second pass. Terms far below M only lose precision once
// exp2 underflows (< 2^-126): if a pair's final Σ is < 2^-80 (relative to its bound), pair_finalize
// raises a flag and the host reruns that neuron tile with exact per-pair maxima (pair_max_exact),
// so the result is exact either way; the bound is normally within a few tens of log2 units.
//
// Bindings: 0 x, 1 w, 2 gamma, 3 outA, 4 outB, 5 norms (centring); 6 p (uniform); 7 post, 8 means,
// 9 uv, 10 uNormSq, 11 vNormSq, 12 pairs (pair_prep); 13 targets, 14 state, 15 aChunk, 16 bChunk,
// 17 eChunk, 20 bounds, 21 pairBound (pair_lse_update); 19 dnll, 22 flags (pair_finalize). Each entry point's 'auto' layout holds only the bindings it uses.
// Entry points:
//   center_rows      — x [rows, d] → u [rows, d], gu = γ⊙u, norms[r] = |u_r|²
//                      dispatch (min(rows,65535), ceil(rows/65535)) × 64
//   center_weights   — W_out row i (element wOff + i·sRow + j·sCol of w) → v [m, d], gv, norms[i] = |v_i|²
//                      dispatch (m) × 64
//   pair_prep        — post [rows, ldPost] (col i0 + i), means [m] (p.useMeans 1; with 2 another run's
//                      post [rows, ldPost], resampling position by position), uv [rows, mc], uNormSq [rows], vNormSq [mc]
//                      → pairs [rows, mc, 2] = (c, 1/σ'), c = 0 in the clean column mc − 1;
//                      dispatch (ceil(mc/64), rows split y/z)
//   chunk_bounds     — aChunk [rows, cols], bChunk [mc, cols], eChunk [cols] → bounds [rows + mc + 1] =
//                      (max_v A, max_v |B|, max_v e); dispatch (rows + mc + 1 split x/y) × 64
//   pair_max_exact   — (exact mode) pairs, chunks → pairBound [rows, mc] = max_v logit (log2 units)
//                      dispatch (ceil(mc/64), rows split y/z)
//   pair_lse_update  — aChunk, bChunk, eChunk, pairs, bounds or pairBound (p.exact), targets → state
//                      [rows, mc, 3] = (reference, Σexp2 relative to it — both log2 units — and the
//                      target logit in nats); dispatch (ceil(mc/64), ceil(rows/64)) × (16, 16),
//                      4 × 4 pairs per invocation, tiles of 16 vocabulary columns in workgroup memory
//   pair_lse_update_direct — the same for CPU adapters without workgroup memory;
//                      dispatch (ceil(mc/32), ceil(rows/32)) × (8, 8)
//   pair_finalize    — state, targets → dnll [mc, rows]: rows i < mc − 1 nll(pair) − nll(clean column), row
//                      mc − 1 the clean column's nll (0 where no target); flags[0] = 1 if any pair's Σ fell
//                      below 2^-80; dispatch (ceil(mc/64), rows split y/z)
struct Params {
  rows: u32, d: u32, m: u32, mc: u32,
  i0: u32, ldPost: u32, cols: u32, vocabStart: u32,
  first: u32, useMeans: u32, sRow: u32, sCol: u32,
  wOff: u32, eps: f32, exact: u32, slack: f32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
//#weight w 1
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read_write> outA: array<f32>;
@group(0) @binding(4) var<storage, read_write> outB: array<f32>;
@group(0) @binding(5) var<storage, read_write> norms: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;

// pair_prep / chunk_bounds / pair_lse_update / pair_finalize inputs
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
@group(0) @binding(19) var<storage, read_write> dnll: array<f32>;
@group(0) @binding(20) var<storage, read_write> bounds: array<f32>;
@group(0) @binding(21) var<storage, read_write> pairBound: array<f32>;
@group(0) @binding(22) var<storage, read_write> flags: array<atomic<u32>>;

//#include workgroup-reduce
//#include exp2-fma

const TC: u32 = 16u; // vocabulary columns per tile
const LOG2E: f32 = 1.4426950408889634;
const LN2: f32 = 0.6931471805599453;
// A pair whose Σexp2 relative to its bound ends below this was bounded too loosely (see header).
const MIN_SAFE_SUM: f32 = 8.271806e-25; // 2^-80

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
  var c = 0.0; // the clean column (i = mc − 1) ablates nothing
  if (i + 1u < p.mc) {
    let a = post[r * p.ldPost + p.i0 + i];
    c = -a;
    if (p.useMeans == 1u) { c = means[p.i0 + i] - a; }
    if (p.useMeans == 2u) { c = means[r * p.ldPost + p.i0 + i] - a; } // resample: another run's post
  }
  let dot = uv[r * p.mc + i];
  let variance = (uNormSq[r] + 2.0 * c * dot + c * c * vNormSq[i]) / f32(p.d) + p.eps;
  let k = (r * p.mc + i) * 2u;
  pairs[k] = c;
  pairs[k + 1u] = inverseSqrt(variance);
}


@compute @workgroup_size(64, 1, 1)
fn chunk_bounds(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  // Virtual row r: A row r (r < rows), |B| row r − rows (r < rows + mc), e (r = rows + mc).
  let r = wg.x + wg.y * 65535u;
  if (r > p.rows + p.mc) { return; }
  let lid = lid3.x;
  var best = -3.0e38;
  for (var j = lid; j < p.cols; j += 64u) {
    var value = 0.0;
    if (r < p.rows) {
      value = aChunk[r * p.cols + j];
    } else if (r < p.rows + p.mc) {
      value = abs(bChunk[(r - p.rows) * p.cols + j]);
    } else {
      value = eChunk[j];
    }
    best = max(best, value);
  }
  let total = reduce_max(best, lid);
  if (lid == 0u) { bounds[r] = total; }
}

@compute @workgroup_size(64, 1, 1)
fn pair_max_exact(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let r = gid.y + gid.z * 65535u;
  if (i >= p.mc || r >= p.rows) { return; }
  let k = r * p.mc + i;
  let iv = pairs[k * 2u + 1u] * LOG2E;
  let cv = pairs[k * 2u] * iv;
  var best = -3.0e38;
  for (var v = 0u; v < p.cols; v++) {
    best = max(best, fma(bChunk[i * p.cols + v], cv, aChunk[r * p.cols + v] * iv) + eChunk[v] * LOG2E);
  }
  pairBound[k] = best;
}

// Index of pair (row r, neuron i), both clamped into range (edge lanes compute but never write).
fn pair_index(r: u32, i: u32) -> u32 { return min(r, p.rows - 1u) * p.mc + min(i, p.mc - 1u); }

// An invocation's 4 rows × 4 neurons (vec4 over neurons), in log2 units: logit·log2 e − M =
// fma(b, cv, fma(a, iv, nb)) + e·log2 e with iv = inv·log2 e, cv = c·iv, nb = −M (the pair's bound;
// in the fast mode an integer, ⌈A, B part⌉ + e_ref()).
struct PairBlock {
  iv: array<vec4<f32>, 4>,
  cv: array<vec4<f32>, 4>,
  nb: array<vec4<f32>, 4>,
  tcol: array<i32, 4>, // column of row's target token in this chunk, or −1
}

// ⌈max_v e⌉ of this chunk in log2 units: the e part of every pair's fast bound (an integer, so that
// the FACTOR_E loop's −bound + eRef is exact).
fn e_ref() -> f32 { return ceil(bounds[p.rows + p.mc] * LOG2E); }

fn load_pair_block(row0: u32, n0: u32) -> PairBlock {
  var blk = PairBlock(array<vec4<f32>, 4>(), array<vec4<f32>, 4>(), array<vec4<f32>, 4>(), array<i32, 4>(-1, -1, -1, -1));
  let eRef = e_ref();
  var bAbs = vec4<f32>(0.0);
  for (var j = 0u; j < 4u; j++) { bAbs[j] = bounds[p.rows + min(n0 + j, p.mc - 1u)]; }
  for (var ri = 0u; ri < 4u; ri++) {
    let r = min(row0 + ri, p.rows - 1u);
    let tgtId = targets[r];
    if (tgtId >= i32(p.vocabStart) && tgtId < i32(p.vocabStart + p.cols)) { blk.tcol[ri] = tgtId - i32(p.vocabStart); }
    var c = vec4<f32>(0.0);
    var inv = vec4<f32>(0.0);
    var exactMax = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
      let k = pair_index(r, n0 + j);
      c[j] = pairs[k * 2u];
      inv[j] = pairs[k * 2u + 1u];
      if (p.exact == 1u) { exactMax[j] = pairBound[k]; }
    }
    blk.iv[ri] = inv * LOG2E;
    blk.cv[ri] = c * blk.iv[ri];
    // Both parts rounded up to integers: the bound loosens by < 2 log2 units, harmless for Σ.
    var bound = ceil(blk.iv[ri] * bounds[r] + abs(blk.cv[ri]) * bAbs + vec4<f32>(p.slack)) + vec4<f32>(eRef);
    if (p.exact == 1u) { bound = exactMax; }
    blk.nb[ri] = -bound;
  }
  return blk;
}

// Merges this chunk's (bound, Σ) of a 4 × 4 block into the running state and, when a row's target
// lies in this chunk, stores its logit (computed straight from the chunk buffers).
fn write_pair_state(row0: u32, n0: u32, blk: PairBlock, sum: array<vec4<f32>, 4>) {
  for (var ri = 0u; ri < 4u; ri++) {
    let r = row0 + ri;
    if (r >= p.rows || targets[r] < 0) { continue; }
    for (var nj = 0u; nj < 4u; nj++) {
      let i = n0 + nj;
      if (i >= p.mc) { continue; }
      let st = (r * p.mc + i) * 3u;
      var reference = -blk.nb[ri][nj];
      var s = sum[ri][nj];
      if (p.first == 0u) {
        let m0 = state[st];
        let merged = max(m0, reference);
        s = state[st + 1u] * exp2(m0 - merged) + s * exp2(reference - merged);
        reference = merged;
      }
      state[st] = reference;
      state[st + 1u] = s;
      if (blk.tcol[ri] >= 0) {
        let tc = u32(blk.tcol[ri]);
        let logit2 = fma(bChunk[i * p.cols + tc], blk.cv[ri][nj], aChunk[r * p.cols + tc] * blk.iv[ri][nj]) + eChunk[tc] * LOG2E;
        state[st + 2u] = logit2 * LN2;
      }
    }
  }
}

// Set by the host (PLATEAU_PAIR_EXP=mixed): the 4th row of every block takes its exp2 from FMAs,
// so that on GPUs whose special-function units limit the loop, a quarter of the exps run on the
// (8× wider) FMA pipes instead.
const MIXED_EXP: bool = false;

fn exp2_row3(x: vec4<f32>) -> vec4<f32> {
  if (MIXED_EXP) { return exp2_fma(x); }
  return exp2(x);
}

// Set by the host (PLATEAU_PAIR_BIAS=factor): in the fast mode each term is taken as
// 2^(A, B part − ⌈A, B bound⌉) · 2^(e·log2 e − e_ref()), the second factor once per column, so a term
// costs two FMAs, one exp2 and one FMA into Σ instead of two FMAs, an add, an exp2 and an add.
// Exact mode keeps the plain form (its per-pair maxima include e, so the split factors could overflow).
const FACTOR_E: bool = false;

// add_column with e as a factor: ef = 2^(e·log2 e − e_ref()) of this column; the block's nb must
// hold nb + e_ref() (shift_nb).
fn add_column_scaled(sum: ptr<function, array<vec4<f32>, 4>>, blk: ptr<function, PairBlock>, a: vec4<f32>, b: vec4<f32>, ef: f32) {
  (*sum)[0] = fma(exp2(fma(b, (*blk).cv[0], fma(vec4<f32>(a.x), (*blk).iv[0], (*blk).nb[0]))), vec4<f32>(ef), (*sum)[0]);
  (*sum)[1] = fma(exp2(fma(b, (*blk).cv[1], fma(vec4<f32>(a.y), (*blk).iv[1], (*blk).nb[1]))), vec4<f32>(ef), (*sum)[1]);
  (*sum)[2] = fma(exp2(fma(b, (*blk).cv[2], fma(vec4<f32>(a.z), (*blk).iv[2], (*blk).nb[2]))), vec4<f32>(ef), (*sum)[2]);
  (*sum)[3] = fma(exp2_row3(fma(b, (*blk).cv[3], fma(vec4<f32>(a.w), (*blk).iv[3], (*blk).nb[3]))), vec4<f32>(ef), (*sum)[3]);
}

// Adds `by` to every nb of the block, in place: e_ref() before an add_column_scaled loop and back
// after it (exact: both integers), so the scaled loop needs no second copy of the block in registers.
fn shift_nb(blk: ptr<function, PairBlock>, by: f32) {
  (*blk).nb[0] += vec4<f32>(by);
  (*blk).nb[1] += vec4<f32>(by);
  (*blk).nb[2] += vec4<f32>(by);
  (*blk).nb[3] += vec4<f32>(by);
}

// Adds one vocabulary column's 16 terms of a 4 × 4 block: a = the column's A of the block's 4 rows,
// b = its B of the 4 neurons, ev = e·log2 e. Constant indices only, so everything stays in registers.
fn add_column(sum: ptr<function, array<vec4<f32>, 4>>, blk: ptr<function, PairBlock>, a: vec4<f32>, b: vec4<f32>, ev: f32) {
  (*sum)[0] += exp2(fma(b, (*blk).cv[0], fma(vec4<f32>(a.x), (*blk).iv[0], (*blk).nb[0])) + ev);
  (*sum)[1] += exp2(fma(b, (*blk).cv[1], fma(vec4<f32>(a.y), (*blk).iv[1], (*blk).nb[1])) + ev);
  (*sum)[2] += exp2(fma(b, (*blk).cv[2], fma(vec4<f32>(a.z), (*blk).iv[2], (*blk).nb[2])) + ev);
  (*sum)[3] += exp2_row3(fma(b, (*blk).cv[3], fma(vec4<f32>(a.w), (*blk).iv[3], (*blk).nb[3])) + ev);
}

// Transposed tiles of vec4: aT[v·16 + ty] holds column v of this workgroup's rows 4·ty..4·ty+3,
// bT[v·16 + tx] column v of its neurons 4·tx..4·tx+3 (conflict-free vec4 reads); eT in log2 units.
var<workgroup> aT: array<vec4<f32>, 256>;
var<workgroup> bT: array<vec4<f32>, 256>;
var<workgroup> eT: array<f32, 16>;

@compute @workgroup_size(16, 16, 1)
fn pair_lse_update(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  // A workgroup owns 64 rows × 64 neurons; per tile of 16 columns each logit costs two FMAs, an
  // add, one exp2 and the accumulation. The column loop has a constant trip count (so the
  // compiler can unroll it): columns past the chunk's end have A = B = 0 and e = −3e38, whose
  // terms are exactly 0.
  let tx = lid.x;
  let ty = lid.y;
  let tid = ty * 16u + tx;
  let row0 = wg.y * 64u + ty * 4u;
  let n0 = wg.x * 64u + tx * 4u;
  var blk = load_pair_block(row0, n0);
  let factorE = FACTOR_E && p.exact == 0u;
  if (factorE) { shift_nb(&blk, e_ref()); }
  var sum = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  for (var c0 = 0u; c0 < p.cols; c0 += TC) {
    {
      // Invocation tid fills one vec4 of each tile: column tid % 16, rows (or neurons) 4·(tid / 16)..+3.
      let col = tid % TC;
      let group = tid / TC;
      let gc = min(c0 + col, p.cols - 1u);
      let colOk = c0 + col < p.cols;
      var av = vec4<f32>(0.0);
      var bv = vec4<f32>(0.0);
      for (var j = 0u; j < 4u; j++) {
        let ar = wg.y * 64u + group * 4u + j;
        let bi = wg.x * 64u + group * 4u + j;
        av[j] = select(0.0, aChunk[min(ar, p.rows - 1u) * p.cols + gc], ar < p.rows && colOk);
        bv[j] = select(0.0, bChunk[min(bi, p.mc - 1u) * p.cols + gc], bi < p.mc && colOk);
      }
      aT[col * 16u + group] = av;
      bT[col * 16u + group] = bv;
    }
    if (tid < TC) {
      let ok = c0 + tid < p.cols;
      let e2 = eChunk[min(c0 + tid, p.cols - 1u)] * LOG2E;
      if (factorE) { eT[tid] = select(0.0, exp2(e2 - e_ref()), ok); } else { eT[tid] = select(-3.0e38, e2, ok); }
    }
    workgroupBarrier();
    if (factorE) {
      for (var v = 0u; v < TC; v++) { add_column_scaled(&sum, &blk, aT[v * 16u + ty], bT[v * 16u + tx], eT[v]); }
    } else {
      for (var v = 0u; v < TC; v++) { add_column(&sum, &blk, aT[v * 16u + ty], bT[v * 16u + tx], eT[v]); }
    }
    workgroupBarrier();
  }
  if (factorE) { shift_nb(&blk, -e_ref()); }
  write_pair_state(row0, n0, blk, sum);
}

// The same computation without workgroup memory or barriers, for CPU adapters (lavapipe,
// SwiftShader) where those are slow: each invocation reads its 4 rows and 4 neurons straight from
// the chunk buffers. Dispatch (ceil(mc/32), ceil(rows/32)) × (8, 8).
@compute @workgroup_size(8, 8, 1)
fn pair_lse_update_direct(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row0 = gid.y * 4u;
  let n0 = gid.x * 4u;
  if (row0 >= p.rows || n0 >= p.mc) { return; }
  var blk = load_pair_block(row0, n0);
  let a0 = min(row0, p.rows - 1u) * p.cols;
  let a1 = min(row0 + 1u, p.rows - 1u) * p.cols;
  let a2 = min(row0 + 2u, p.rows - 1u) * p.cols;
  let a3 = min(row0 + 3u, p.rows - 1u) * p.cols;
  let b0 = min(n0, p.mc - 1u) * p.cols;
  let b1 = min(n0 + 1u, p.mc - 1u) * p.cols;
  let b2 = min(n0 + 2u, p.mc - 1u) * p.cols;
  let b3 = min(n0 + 3u, p.mc - 1u) * p.cols;
  var sum = array<vec4<f32>, 4>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
  if (FACTOR_E && p.exact == 0u) {
    let eRef = e_ref();
    shift_nb(&blk, eRef);
    for (var v = 0u; v < p.cols; v++) {
      let a = vec4<f32>(aChunk[a0 + v], aChunk[a1 + v], aChunk[a2 + v], aChunk[a3 + v]);
      let b = vec4<f32>(bChunk[b0 + v], bChunk[b1 + v], bChunk[b2 + v], bChunk[b3 + v]);
      add_column_scaled(&sum, &blk, a, b, exp2(eChunk[v] * LOG2E - eRef));
    }
    shift_nb(&blk, -eRef);
  } else {
    for (var v = 0u; v < p.cols; v++) {
      let a = vec4<f32>(aChunk[a0 + v], aChunk[a1 + v], aChunk[a2 + v], aChunk[a3 + v]);
      let b = vec4<f32>(bChunk[b0 + v], bChunk[b1 + v], bChunk[b2 + v], bChunk[b3 + v]);
      add_column(&sum, &blk, a, b, eChunk[v] * LOG2E);
    }
  }
  write_pair_state(row0, n0, blk, sum);
}

@compute @workgroup_size(64, 1, 1)
fn pair_finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let r = gid.y + gid.z * 65535u;
  if (i >= p.mc || r >= p.rows) { return; }
  var value = 0.0;
  if (targets[r] >= 0) {
    let st = (r * p.mc + i) * 3u;
    let sc = (r * p.mc + p.mc - 1u) * 3u; // the clean column
    let s = state[st + 1u];
    let sClean = state[sc + 1u];
    if (i + 1u == p.mc) {
      // The clean column's own row: its absolute nll (the host checks it against a forward pass).
      dnll[i * p.rows + r] = (state[sc] + log2(sClean)) * LN2 - state[sc + 2u];
      return;
    }
    // nll = (m + log2 Σ)·ln 2 − target logit, for the pair and for the clean column
    value = ((state[st] - state[sc]) + (log2(s) - log2(sClean))) * LN2 - (state[st + 2u] - state[sc + 2u]);
    // Also true for NaN: such a pair is recomputed with exact maxima.
    if (!(s >= MIN_SAFE_SUM) || !(sClean >= MIN_SAFE_SUM)) { atomicStore(&flags[0], 1u); }
  }
  dnll[i * p.rows + r] = value;
}
