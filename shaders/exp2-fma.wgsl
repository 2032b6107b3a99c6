// exp2-fma: 2^x from FMAs and integer ops only, no special-function unit; included with
// `//#include exp2-fma` (neuron-closed-form's mixed-exp pair loop). No bindings.
// 2^x = 2^n · P(f) with x = n + f, f ∈ [0, 1) and P a degree-6 fit of 2^f (relative error 8e-8,
// about the hardware exp2's); for x below −126 (subnormal results) it returns 0, and it is meant
// for x ≤ 127. Tested against Math.pow in tests/kernels.test.ts.
fn exp2_fma(x: vec4<f32>) -> vec4<f32> {
  let xc = max(x, vec4<f32>(-127.0));
  let n = floor(xc);
  let f = xc - n;
  var q = fma(vec4<f32>(2.16938410e-4), f, vec4<f32>(1.24421250e-3));
  q = fma(q, f, vec4<f32>(9.67857894e-3));
  q = fma(q, f, vec4<f32>(5.54834716e-2));
  q = fma(q, f, vec4<f32>(2.40229815e-1));
  q = fma(q, f, vec4<f32>(6.93147004e-1));
  q = fma(q, f, vec4<f32>(1.0));
  let scaled = bitcast<vec4<f32>>(bitcast<vec4<i32>>(q) + (vec4<i32>(n) << vec4<u32>(23u)));
  return select(scaled, vec4<f32>(0.0), xc < vec4<f32>(-126.0));
}
