// vocab-logsumexp: streaming log-sum-exp and target logit over vocabulary chunks, so that the
// full [rows, V] logits never need to exist at once.
//   lse_update: for each row, merge the chunk's logits into state (running max m, Σexp(l − m)) and,
//               if targets[row] falls in this chunk, record its logit.
//   nll_finalize: nll[row] = m + log(s) − target logit (or 0 for rows with no target).
// Bindings: 0 logits: array<f32> [rows, ldL] (chunk columns colOff..colOff+cols)
//           1 targets: array<i32> [rows] (−1 = none)  2 state: array<f32> [rows, 3] = (m, s, tgt)
//           3 nll: array<f32> [rows]                  4 p: Params (uniform)
// Dispatch: lse_update (min(rows, 65535), ceil(rows / 65535)) workgroups of 64, one per row; nll_finalize (ceil(rows/64)).
struct Params { rows: u32, cols: u32, ldL: u32, colOff: u32, vocabStart: u32, first: u32 }

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> targets: array<i32>;
@group(0) @binding(2) var<storage, read_write> state: array<f32>;
@group(0) @binding(3) var<storage, read_write> nll: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

var<workgroup> wmax: array<f32, 64>;
var<workgroup> wsum: array<f32, 64>;

@compute @workgroup_size(64, 1, 1)
fn lse_update(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid3: vec3<u32>) {
  let row = wg.x + wg.y * 65535u;
  if (row >= p.rows) { return; }
  let lid = lid3.x;
  let base = row * p.ldL + p.colOff;
  var m = -3.0e38;
  var s = 0.0;
  for (var c = lid; c < p.cols; c += 64u) {
    let l = logits[base + c];
    let mNew = max(m, l);
    s = s * exp(m - mNew) + exp(l - mNew);
    m = mNew;
  }
  wmax[lid] = m;
  wsum[lid] = s;
  workgroupBarrier();
  var stride = 32u;
  while (stride > 0u) {
    if (lid < stride) {
      let m1 = wmax[lid];
      let m2 = wmax[lid + stride];
      let mm = max(m1, m2);
      wsum[lid] = wsum[lid] * exp(m1 - mm) + wsum[lid + stride] * exp(m2 - mm);
      wmax[lid] = mm;
    }
    workgroupBarrier();
    stride /= 2u;
  }
  if (lid == 0u) {
    var mOld = -3.0e38;
    var sOld = 0.0;
    var tgt = state[row * 3u + 2u];
    if (p.first == 0u) { mOld = state[row * 3u]; sOld = state[row * 3u + 1u]; } else { tgt = 0.0; }
    let mm = max(mOld, wmax[0]);
    state[row * 3u] = mm;
    state[row * 3u + 1u] = sOld * exp(mOld - mm) + wsum[0] * exp(wmax[0] - mm);
    let tgtId = targets[row];
    if (tgtId >= i32(p.vocabStart) && tgtId < i32(p.vocabStart + p.cols)) {
      tgt = logits[base + u32(tgtId) - p.vocabStart];
    }
    state[row * 3u + 2u] = tgt;
  }
}

@compute @workgroup_size(64, 1, 1)
fn nll_finalize(@builtin(global_invocation_id) gid: vec3<u32>) {
  let row = gid.x;
  if (row >= p.rows) { return; }
  if (targets[row] < 0) { nll[row] = 0.0; return; }
  nll[row] = state[row * 3u] + log(state[row * 3u + 1u]) - state[row * 3u + 2u];
}
