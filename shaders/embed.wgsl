// embed: row gather from an embedding table, one chunk of rows at a time (tables larger than the
// binding limit are split by rows). Used for token embeddings (ids) and learned position
// embeddings (positions as ids).
//   embed_gather: x[n, :] = E[ids[n] − rowStart, :] for rows whose id lies in this chunk.
// Bindings: 0 ids: array<u32> [rows]   1 table: weights (f32 or packed f16) [chunkRows, d]
//           2 x: array<f32> [rows, d]                 3 p: Params (uniform)
// Dispatch: (ceil(d / 64), min(rows, 65535), ceil(rows / 65535)) workgroups of 64.
struct Params { rows: u32, d: u32, rowStart: u32, rowCount: u32 }

@group(0) @binding(0) var<storage, read> ids: array<u32>;
//#weight table 1
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

@compute @workgroup_size(64, 1, 1)
fn embed_gather(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let n = gid.y + gid.z * 65535u;
  if (i >= p.d || n >= p.rows) { return; }
  let id = ids[n];
  if (id < p.rowStart || id >= p.rowStart + p.rowCount) { return; }
  x[n * p.d + i] = load_table((id - p.rowStart) * p.d + i);
}
