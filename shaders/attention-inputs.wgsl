// attention-inputs: the Params struct and bindings shared by attention.wgsl and attention-tiled.wgsl
// (included with `//#include attention-inputs`); each file's header documents them.
struct Params {
  B: u32, T: u32, H: u32, dh: u32,
  qBase: u32, kBase: u32, vBase: u32, rowStrideQK: u32,
  rowStrideV: u32, headStrideQK: u32, headStrideV: u32, writePattern: u32,
  writeScores: u32, scale: f32,
}

@group(0) @binding(0) var<storage, read> qk: array<f32>;
@group(0) @binding(1) var<storage, read> v: array<f32>;
@group(0) @binding(2) var<storage, read_write> z: array<f32>;
@group(0) @binding(5) var<storage, read> redirect: array<u32>;
@group(0) @binding(6) var<uniform> p: Params;
