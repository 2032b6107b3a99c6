// single-position: kernels for re-running only intervened positions against a clean run's cache
// (cached decoding). Each variant row r stands for position t of sequence b: rowInfo[r] = (b·T, t).
//   redirect_z       — the BOS redirect at the intervention layer: zR[r] = clean z[b·T + t] with head
//                      h = heads[r]'s slice replaced by v(b, 0, h) (the value vector of position 0).
//                      Bindings 0 cleanZ, 1 cleanV (fused qkv rows), 2 rowInfo, 3 heads, 4 zR, 5 p.
//                      Dispatch (ceil(d/64), rows split y/z) × 64.
//   cached_attention — rows that continue cached sequences (cached decoding): row r, with
//                      rowInfo4[r] = (seqBase, t, prefix, newBase), is position t of the cached
//                      sequence starting at cache row seqBase; it attends to keys 0..prefix−1 from the
//                      cache (rows seqBase + k) and to keys prefix..t from this batch's new rows
//                      (newBase + k − prefix); values likewise. A single re-run position has prefix = t
//                      and newBase = r; a re-run suffix from position p has prefix = p and newBase = the
//                      row of position p. One invocation per (row, head). Bindings 0 qkNew [R, ldQK],
//                      1 vNew [R, ldV], 2 qkCache [N, ldQK], 3 vCache [N, ldV], 4 rowInfo4, 5 zR [R, H·dh], 6 p.
//                      Dispatch (ceil(R/64), H, 1) × 64. DH (specialisation) ≥ dh.
struct Params {
  rows: u32, H: u32, dh: u32, ldQK: u32,
  ldV: u32, qBase: u32, kBase: u32, vBase: u32,
  headStrideQK: u32, headStrideV: u32, scale: f32, d: u32,
}

@group(0) @binding(0) var<storage, read> a0: array<f32>;
@group(0) @binding(1) var<storage, read> a1: array<f32>;
@group(0) @binding(2) var<storage, read> a2: array<f32>;
@group(0) @binding(3) var<storage, read> a3: array<f32>;
@group(0) @binding(4) var<storage, read> rowInfoC: array<u32>;
@group(0) @binding(5) var<storage, read_write> zOut: array<f32>;
@group(0) @binding(6) var<uniform> p: Params;
@group(0) @binding(7) var<storage, read> rowInfoR: array<u32>;
@group(0) @binding(8) var<storage, read> heads: array<u32>;
@group(0) @binding(9) var<storage, read_write> zRedirected: array<f32>;

const DH: u32 = /*DH*/64u;

@compute @workgroup_size(64, 1, 1)
fn redirect_z(@builtin(global_invocation_id) gid: vec3<u32>) {
  // a0 = clean z [N, d], a1 = clean fused qkv [N, ldV]
  let f = gid.x;
  let r = gid.y + gid.z * 65535u;
  if (f >= p.d || r >= p.rows) { return; }
  let seqBase = rowInfoR[2u * r];
  let t = rowInfoR[2u * r + 1u];
  let h = f / p.dh;
  let i = f % p.dh;
  var value = a0[(seqBase + t) * p.d + f];
  if (h == heads[r]) { value = a1[seqBase * p.ldV + p.vBase + h * p.headStrideV + i]; }
  zRedirected[r * p.d + f] = value;
}

@compute @workgroup_size(64, 1, 1)
fn cached_attention(@builtin(global_invocation_id) gid: vec3<u32>) {
  // a0 = new q/k rows, a1 = new v rows (fused qkv), a2 = cached q/k rows, a3 = cached fused qkv
  let r = gid.x;
  let h = gid.y;
  if (r >= p.rows) { return; }
  let seqBase = rowInfoC[4u * r];
  let t = rowInfoC[4u * r + 1u];
  let prefix = rowInfoC[4u * r + 2u];
  let newBase = rowInfoC[4u * r + 3u];
  var q: array<f32, DH>;
  let qOff = r * p.ldQK + p.qBase + h * p.headStrideQK;
  for (var i = 0u; i < p.dh; i++) { q[i] = a0[qOff + i] * p.scale; }
  var acc: array<f32, DH>;
  var m = -3.0e38;
  var s = 0.0;
  for (var k = 0u; k <= t; k++) {
    var sc = 0.0;
    if (k < prefix) {
      let kOff = (seqBase + k) * p.ldQK + p.kBase + h * p.headStrideQK;
      for (var i = 0u; i < p.dh; i++) { sc = fma(q[i], a2[kOff + i], sc); }
    } else {
      let kOff = (newBase + k - prefix) * p.ldQK + p.kBase + h * p.headStrideQK;
      for (var i = 0u; i < p.dh; i++) { sc = fma(q[i], a0[kOff + i], sc); }
    }
    let mNew = max(m, sc);
    let corr = exp(m - mNew);
    let e = exp(sc - mNew);
    s = s * corr + e;
    if (k < prefix) {
      let vOff = (seqBase + k) * p.ldV + p.vBase + h * p.headStrideV;
      for (var i = 0u; i < p.dh; i++) { acc[i] = acc[i] * corr + e * a3[vOff + i]; }
    } else {
      let vOff = (newBase + k - prefix) * p.ldV + p.vBase + h * p.headStrideV;
      for (var i = 0u; i < p.dh; i++) { acc[i] = acc[i] * corr + e * a1[vOff + i]; }
    }
    m = mNew;
  }
  let zOff = r * (p.H * p.dh) + h * p.dh;
  for (var i = 0u; i < p.dh; i++) { zOut[zOff + i] = acc[i] / s; }
}
