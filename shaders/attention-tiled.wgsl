// attention-tiled: causal multi-head attention, flash-attention style. Same z (hook_z) as
// attention.wgsl and the same BOS redirect; no hook_pattern / hook_attn_scores (the wrapper runs
// attention.wgsl when either is requested).
//
// A workgroup of BQ = 64 invocations owns 64 consecutive queries of one (head h, sequence b); one
// invocation per query keeps q (pre-scaled) and the z accumulator in registers (vec4 × DH/4
// each). Keys are visited in tiles of BK: the workgroup loads the tile's K and V rows (BK × dh
// each) cooperatively and coalesced into workgroup memory once, and all 64 queries read them
// (every invocation reads the same address at the same time: a broadcast, no bank conflicts,
// 4 FMAs per 16-byte load). Within a tile keys go in groups of 4: four scores in a vec4, one
// running-max update and one rescale of the accumulator per group (online softmax), then
// p = exp(s − m) and z += p·v. Tiles past the block's last query are never loaded; keys above a
// query's diagonal are masked, and the rest of a tile past its diagonal is skipped.
//
// Why one invocation per query rather than several invocations splitting dh: the dot product
// then needs no reduction (splitting would cost a workgroup-memory round trip plus a barrier per
// tile for the partial scores), q is loaded once, and the only barriers are the two around each
// tile load. The cost is registers (2·DH floats + a few: ~140 at dh = 64), which caps occupancy
// at large dh; the wrapper picks this kernel up to dh = 128.
//
// Bindings: 0 qk: array<f32>  q(b,t,h,i) at qBase + h·headStrideQK + i + (b·T + t)·rowStrideQK,
//                             k likewise with kBase (GPT-2 fused qkv, NeoX, rotated q/k)
//           1 v:  array<f32>  v(b,t,h,i) at vBase + h·headStrideV + i + (b·T + t)·rowStrideV
//           2 z:  array<f32>  [B·T, H·dh]  (hook_z, head-major features)
//           3, 4 unused (pattern / scores in attention.wgsl; the wrapper passes null)
//           5 redirect: array<u32> [B, 2] = (head, query): that row becomes one-hot on key 0
//           6 p: Params (uniform, the same struct as attention.wgsl; writePattern/writeScores ignored)
// Dispatch: (ceil(T / 64), H, B) workgroups of 64. DH (specialised) = dh rounded up to 4;
// BK (specialised) keys per tile, chosen so that the K and V tiles take 2·BK·DH·4 ≤ 16 KiB.
// N4 (specialised): the feature-loop bound, DH4 on GPUs, ceil(dh / 4) at run time on CPU adapters.
//#include attention-inputs

const DH: u32 = /*DH*/64u;
const BK: u32 = /*BK*/32u;
const BQ: u32 = 64u;
const DH4: u32 = DH / 4u;

var<workgroup> kTile: array<vec4<f32>, BK * DH4>;
var<workgroup> vTile: array<vec4<f32>, BK * DH4>;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let h = wg.y;
  let b = wg.z;
  let q0 = wg.x * BQ;
  let t = q0 + lid;
  let live = t < p.T;
  let tq = min(t, p.T - 1u);
  let seqRow = b * p.T;
  let headQK = p.kBase + h * p.headStrideQK;
  let headV = p.vBase + h * p.headStrideV;

  // Feature loops run to n4: the constant DH4 on GPUs (unrolled, q and acc stay in registers);
  // the wrapper substitutes ceil(dh / 4) from the uniforms on CPU adapters, where LLVM's full
  // unrolling of these loops made lavapipe take ~40 s to compile the dh = 64 pipeline.
  let n4 = /*N4*/DH4;
  var q: array<vec4<f32>, DH4>;
  var acc: array<vec4<f32>, DH4>;
  let qOff = (seqRow + tq) * p.rowStrideQK + p.qBase + h * p.headStrideQK;
  for (var i4 = 0u; i4 < n4; i4++) {
    var qv = vec4<f32>(0.0);
    for (var c = 0u; c < 4u; c++) {
      let i = 4u * i4 + c;
      if (i < p.dh) { qv[c] = qk[qOff + i] * p.scale; }
    }
    q[i4] = qv;
    acc[i4] = vec4<f32>(0.0);
  }
  var m = -3.0e38;
  var l = 0.0;

  // Keys 0 ..= last query of this block (workgroup-uniform, so the barriers below are too).
  let kEnd = min(q0 + BQ, p.T);
  let nTiles = (kEnd + BK - 1u) / BK;
  for (var tile = 0u; tile < nTiles; tile++) {
    let k0 = tile * BK;
    workgroupBarrier(); // the previous tile's readers are done
    for (var e = lid; e < BK * DH; e += BQ) {
      let j = e / DH;
      let i = e % DH;
      let key = k0 + j;
      var kv = 0.0;
      var vv = 0.0;
      if (key < kEnd && i < p.dh) {
        kv = qk[(seqRow + key) * p.rowStrideQK + headQK + i];
        vv = v[(seqRow + key) * p.rowStrideV + headV + i];
      }
      kTile[j * DH4 + i / 4u][i % 4u] = kv;
      vTile[j * DH4 + i / 4u][i % 4u] = vv;
    }
    workgroupBarrier();
    if (live && k0 <= t) {
      // Keys in groups of 4: four scores in a vec4, one rescale per group (no score array, so
      // nothing is indexed dynamically and the loops stay small).
      for (var j = 0u; j < BK; j += 4u) {
        if (k0 + j > t) { break; } // the rest of the tile is above the diagonal
        var sc = vec4<f32>(0.0);
        for (var c = 0u; c < 4u; c++) {
          let row = (j + c) * DH4;
          var dotv = vec4<f32>(0.0);
          for (var i4 = 0u; i4 < n4; i4++) { dotv = fma(q[i4], kTile[row + i4], dotv); }
          sc[c] = dotv.x + dotv.y + dotv.z + dotv.w;
        }
        let keys = vec4<u32>(k0 + j) + vec4<u32>(0u, 1u, 2u, 3u);
        let valid = keys <= vec4<u32>(t);
        sc = select(vec4<f32>(-3.0e38), sc, valid);
        let mNew = max(m, max(max(sc.x, sc.y), max(sc.z, sc.w)));
        let corr = exp(m - mNew);
        let pj = select(vec4<f32>(0.0), exp(sc - vec4<f32>(mNew)), valid);
        l = l * corr + (pj.x + pj.y + pj.z + pj.w);
        let r0 = j * DH4;
        for (var i4 = 0u; i4 < n4; i4++) {
          var a = acc[i4] * corr;
          a = fma(vec4<f32>(pj.x), vTile[r0 + i4], a);
          a = fma(vec4<f32>(pj.y), vTile[r0 + DH4 + i4], a);
          a = fma(vec4<f32>(pj.z), vTile[r0 + 2u * DH4 + i4], a);
          a = fma(vec4<f32>(pj.w), vTile[r0 + 3u * DH4 + i4], a);
          acc[i4] = a;
        }
        m = mNew;
      }
    }
  }

  if (!live) { return; }
  let zOff = (seqRow + t) * (p.H * p.dh) + h * p.dh;
  if (redirect[b * 2u] == h && redirect[b * 2u + 1u] == t) {
    let vOff = seqRow * p.rowStrideV + headV;
    for (var i = 0u; i < p.dh; i++) { z[zOff + i] = v[vOff + i]; }
    return;
  }
  let inv = 1.0 / l;
  for (var i4 = 0u; i4 < n4; i4++) {
    let a = acc[i4] * inv;
    for (var c = 0u; c < 4u; c++) {
      if (4u * i4 + c < p.dh) { z[zOff + 4u * i4 + c] = a[c]; }
    }
  }
}
