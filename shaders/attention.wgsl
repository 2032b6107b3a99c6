// attention: causal multi-head attention, one invocation per (query t, head h, sequence b).
// softmax(q·k / sqrt(dh)) over keys 0..t with an online (running max) softmax; z = Σ p·v.
// Optionally writes hook_pattern (probabilities) and hook_attn_scores (masked scores, −inf above
// the diagonal) as [B, H, T, T]. A redirect table lets sequence b replace the row of
// (head, query) = redirect[b] by a one-hot on key 0 ("BOS redirect"); 0xffffffff = none.
//
// Bindings: 0 qk: array<f32>  q(b,t,h,i) at qBase + h·headStrideQK + i + (b·T + t)·rowStrideQK,
//                             k likewise with kBase
//           1 v:  array<f32>  v(b,t,h,i) at vBase + h·headStrideV + i + (b·T + t)·rowStrideV
//           2 z:  array<f32>  [B·T, H·dh]  (hook_z, head-major features)
//           3 pattern: array<f32> [B, H, T, T] (written when writePattern = 1)
//           4 scores:  array<f32> [B, H, T, T] (written when writeScores = 1)
//           5 redirect: array<u32> [B, 2] = (head, query)
//           6 p: Params (uniform)
// Dispatch: (ceil(T / 64), H, B) workgroups of 64. DH (a specialisation constant) ≥ dh.
//#include attention-inputs
@group(0) @binding(3) var<storage, read_write> pattern: array<f32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;

const DH: u32 = /*DH*/64u;

// −inf for masked scores; built at run time because WGSL constants cannot hold infinities.
fn neg_inf() -> f32 { return bitcast<f32>(0xff800000u | (p.B & 0u)); }

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  let h = gid.y;
  let b = gid.z;
  if (t >= p.T) { return; }
  let row = b * p.T + t;
  let qOff = row * p.rowStrideQK + p.qBase + h * p.headStrideQK;
  let zOff = row * (p.H * p.dh) + h * p.dh;
  let patOff = ((b * p.H + h) * p.T + t) * p.T;
  let redirected = redirect[b * 2u] == h && redirect[b * 2u + 1u] == t;
  if (redirected) {
    let vOff = (b * p.T) * p.rowStrideV + p.vBase + h * p.headStrideV;
    for (var i = 0u; i < p.dh; i++) { z[zOff + i] = v[vOff + i]; }
    if (p.writePattern == 1u) {
      for (var k = 0u; k < p.T; k++) { pattern[patOff + k] = select(0.0, 1.0, k == 0u); }
    }
    if (p.writeScores == 1u) { write_scores(b, h, t, qOff, patOff); }
    return;
  }
  var q: array<f32, DH>;
  for (var i = 0u; i < p.dh; i++) { q[i] = qk[qOff + i] * p.scale; }
  var acc: array<f32, DH>;
  var m = -3.0e38;
  var s = 0.0;
  for (var k = 0u; k <= t; k++) {
    let kr = b * p.T + k;
    let kOff = kr * p.rowStrideQK + p.kBase + h * p.headStrideQK;
    var sc = 0.0;
    for (var i = 0u; i < p.dh; i++) { sc = fma(q[i], qk[kOff + i], sc); }
    let mNew = max(m, sc);
    let corr = exp(m - mNew);
    let e = exp(sc - mNew);
    s = s * corr + e;
    let vOff = kr * p.rowStrideV + p.vBase + h * p.headStrideV;
    for (var i = 0u; i < p.dh; i++) { acc[i] = acc[i] * corr + e * v[vOff + i]; }
    m = mNew;
  }
  let inv = 1.0 / s;
  for (var i = 0u; i < p.dh; i++) { z[zOff + i] = acc[i] * inv; }
  if (p.writePattern == 1u || p.writeScores == 1u) {
    for (var k = 0u; k < p.T; k++) {
      var sc = -3.0e38;
      if (k <= t) {
        let kOff = (b * p.T + k) * p.rowStrideQK + p.kBase + h * p.headStrideQK;
        sc = 0.0;
        for (var i = 0u; i < p.dh; i++) { sc = fma(q[i], qk[kOff + i], sc); }
      }
      if (p.writePattern == 1u) { pattern[patOff + k] = select(0.0, exp(sc - m) * inv, k <= t); }
      if (p.writeScores == 1u) { scores[patOff + k] = select(neg_inf(), sc, k <= t); }
    }
  }
}

fn write_scores(b: u32, h: u32, t: u32, qOff: u32, patOff: u32) {
  for (var k = 0u; k < p.T; k++) {
    var sc = neg_inf();
    if (k <= t) {
      let kOff = (b * p.T + k) * p.rowStrideQK + p.kBase + h * p.headStrideQK;
      sc = 0.0;
      for (var i = 0u; i < p.dh; i++) { sc = fma(qk[qOff + i] * p.scale, qk[kOff + i], sc); }
    }
    scores[patOff + k] = sc;
  }
}
