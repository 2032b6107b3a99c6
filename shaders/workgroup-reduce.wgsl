// workgroup-reduce: 64-invocation tree sum and maximum, included by kernels with `//#include workgroup-reduce`
// (layernorm, neuron-closed-form). Every invocation of the workgroup must call it (it has barriers).
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

fn reduce_max(v: f32, lid: u32) -> f32 {
  partial[lid] = v;
  workgroupBarrier();
  var stride = 32u;
  while (stride > 0u) {
    if (lid < stride) { partial[lid] = max(partial[lid], partial[lid + stride]); }
    workgroupBarrier();
    stride /= 2u;
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}
