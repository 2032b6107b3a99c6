// elementwise: small vector kernels on f32 arrays.
//   add_inplace: a[i] += b[i]            for i < n
//   copy_rows:   dst[pairs[2j]·d + i] = src[pairs[2j+1]·d + i] for j < nPairs, i < d
//                (activation patching: overwrite rows of one run with rows of another)
//   copy_row_slices: for j < nPairs, with aux[4j..4j+3] = (dstRow, srcRow, col0, width), i < width:
//                dst[dstRow·d + col0 + i] = src[srcRow·d + col0 + i]
//                (patching part of a row, e.g. one head's slice of hook_z, at chosen positions)
//   set_columns: for each row n, with variant v = n / rowsPerVariant (edits[v] = (col0, width,
//                valueOffset) and width 0 = no edit):
//                a[n·d + col0 + i] = values[valueOffset + (n mod rowsPerVariant)·valueStride + i]
//                (valueStride = Params.nPairs: 0 for one value row — zero/mean ablation of a neuron or
//                of a head's slice of hook_z, one per variant; the source's row width for resampling
//                from another run's activation [rowsPerVariant, width], row by row)
// Bindings: 0 a/dst: array<f32>  1 b/src/values: array<f32>  2 aux: array<u32> (pairs or edits)
//           3 p: Params (uniform)
// Dispatch: add_inplace (ceil(n/256)); copy_rows (ceil(d/64), nPairs split as y + z·65535);
//           copy_row_slices (ceil(max width/64), nPairs split likewise); set_columns (ceil(w/64), rows split likewise)
struct Params { n: u32, d: u32, nPairs: u32, rowsPerVariant: u32 }

@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> aux: array<u32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(256, 1, 1)
fn add_inplace(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x + gid.y * 65535u * 256u;
  if (i < p.n) { a[i] += b[i]; }
}

@compute @workgroup_size(64, 1, 1)
fn copy_rows(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let j = gid.y + gid.z * 65535u;
  if (i >= p.d || j >= p.nPairs) { return; }
  a[aux[2u * j] * p.d + i] = b[aux[2u * j + 1u] * p.d + i];
}

@compute @workgroup_size(64, 1, 1)
fn copy_row_slices(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let j = gid.y + gid.z * 65535u;
  if (j >= p.nPairs || i >= aux[4u * j + 3u]) { return; }
  let col = aux[4u * j + 2u] + i;
  a[aux[4u * j] * p.d + col] = b[aux[4u * j + 1u] * p.d + col];
}

@compute @workgroup_size(64, 1, 1)
fn set_columns(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let n = gid.y + gid.z * 65535u;
  if (n >= p.n) { return; }
  let v = n / p.rowsPerVariant;
  let col0 = aux[3u * v];
  let width = aux[3u * v + 1u];
  if (i >= width) { return; }
  let valueStride = p.nPairs; // set_columns' use of the third word
  a[n * p.d + col0 + i] = b[aux[3u * v + 2u] + (n % p.rowsPerVariant) * valueStride + i];
}
