// rotary: GPT-NeoX partial rotary embedding (rotate-half) on q and k.
// Reads q, k from the fused qkv projection and writes rotated copies:
//   out[row, 0..d)  = q (head-major h·dh + i),  out[row, d..2d) = k.
// Dims i < rot are rotated: i < rot/2 pairs with i + rot/2:
//   r'[i] = r[i]·cos(a) − r[i + rot/2]·sin(a),  r'[i + rot/2] = r[i + rot/2]·cos(a) + r[i]·sin(a),
//   a = pos · inv_freq[i mod rot/2]; dims ≥ rot pass through.
// Bindings: 0 qkv: array<f32> [rows, ldQKV]  q(h,i) at qBase + h·headStride + i, k at kBase + ...
//           1 cosSin: array<f32> [maxPos, rot/2, 2] (cos, sin), tabulated in float64 on the CPU
//           2 positions: array<u32> [rows] absolute position of each row
//           3 out: array<f32> [rows, 2·H·dh]
//           4 p: Params (uniform)
// Dispatch: (ceil(H·dh / 64), min(rows, 65535), ceil(rows / 65535)) workgroups of 64; invocation = (feature, row), q and k both.
struct Params { rows: u32, H: u32, dh: u32, rot: u32, ldQKV: u32, qBase: u32, kBase: u32, headStride: u32 }

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> cosSin: array<f32>;
@group(0) @binding(2) var<storage, read> positions: array<u32>;
@group(0) @binding(3) var<storage, read_write> outQK: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let f = gid.x;
  let row = gid.y + gid.z * 65535u;
  let d = p.H * p.dh;
  if (f >= d || row >= p.rows) { return; }
  let h = f / p.dh;
  let i = f % p.dh;
  let inBase = row * p.ldQKV + h * p.headStride;
  let half = p.rot / 2u;
  for (var which = 0u; which < 2u; which++) {
    let base = inBase + select(p.qBase, p.kBase, which == 1u);
    var value = qkv[base + i];
    if (i < p.rot) {
      let j = i % half;
      let cs = (positions[row] * half + j) * 2u;
      let c = cosSin[cs];
      let s = cosSin[cs + 1u];
      if (i < half) { value = qkv[base + i] * c - qkv[base + i + half] * s; }
      else { value = qkv[base + i] * c + qkv[base + i - half] * s; }
    }
    outQK[row * 2u * d + which * d + f] = value;
  }
}
