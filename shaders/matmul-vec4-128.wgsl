// matmul-vec4-128: Y = X · W (+ bias), 128 × BN output tiles (BN = 128: 'vec4-128'; BN = 64:
// 'vec4-128x64') through vec4 workgroup memory (for GPUs).
//
// Bindings and Params: as matmul-register.wgsl (x, w, bias, y, p), except that x is read as
//   array<vec4<f32>> and w four elements at a time through load_w4 (f32: array<vec4<f32>>; f16:
//   array<vec2<u32>>, four packed halves), both spliced in by kernels.ts at `//#weight4`, which also
//   sets W_KN per layout (true: W [K, N], sN = 1, read along n; false: W [N, K], sK = 1, read along k)
//   and BN per variant (the `const BN` line; only 128 and 64 are valid).
// Needs (kernels.ts matmulSupports, else 'shared' runs): K, ldX, xOff, wOff multiples of 4; W [K, N]:
//   N and sK multiples of 4; W [N, K]: sN a multiple of 4. Any M, N, K otherwise (loads beyond the
//   edges read zeros, stores are masked).
// Tile: 128 × BN outputs per workgroup of TX × 16 invocations, TX = BN / 8 (16 × 16 for BN = 128,
//   8 × 16 for BN = 64). Invocation (tx, ty) owns rows 4ty..4ty+3 and 64+4ty..+3 and columns
//   4tx..4tx+3 and BN/2+4tx..+3 (8 × 8 outputs in 16 vec4 registers): per k it reads two vec4 of As
//   and two of Bs, and a warp's reads are 32 / TX broadcast addresses (As, consecutive vec4) and TX
//   consecutive vec4 (Bs), free of bank conflicts.
//   K is walked in steps of BK = 8 through As[k][m] (the X tile transposed, k-major, vec4 along m)
//   and Bs[k][n] (vec4 along n), double-buffered: 2 × (8 KiB + BN/16 KiB) = 16 KiB (BN = 128, the
//   WebGPU default limit) or 12 KiB (BN = 64).
//   Each step first loads the next K-step from global memory into registers (per invocation one
//   vec4 of W and XL = 256 / (16·TX) vec4 of X: 1 for BN = 128, 2 for BN = 64), then runs the
//   8 × 64 FMAs of the current step from workgroup memory, then stores the registers into the other
//   buffer: one barrier per step, global latency under the FMAs.
//   The loop runs two steps (buffers 0, 1) per iteration and indexes the tiles as [buffer][k][vec4]
//   so that, once the driver unrolls the constant-count b and k loops, every workgroup read has a
//   constant offset from a per-invocation base (bounds clamps fold, no address arithmetic per read).
// Why 128 × 64 as 8 × 16 invocations with 8 × 8 outputs each (and not 16 × 16 with 8 × 4): it keeps
//   the per-invocation inner loop of 128 × 128 unchanged (4 vec4 workgroup reads per 64 FMAs; 8 × 4
//   would need 3 per 32, a third more workgroup traffic per FMA) and every invocation still loads
//   exactly one vec4 of W; the price is a second vec4 of X per invocation and step. Half the
//   invocations, registers and 3/4 of the workgroup memory per workgroup let an SM hold about twice
//   as many. Its point is the workgroup count: on a 132-SM H100/H200 at M = 1024, N = 1600 (GPT-2 XL
//   attention out and MLP down) gives 13 × 8 = 104 workgroups of 128 × 128 (under one wave) but
//   25 × 8 = 200 of 128 × 64; N = 6400 gives 400 (3.03 waves, a near-empty fourth) vs 800; at
//   M = 256 the counts are a quarter. Which is faster per adapter and shape is autotune's call.
// Entry points: main (data-parallel, one workgroup per tile; dispatch (ceil(N / BN), ceil(M / 128), 1));
//   main_streamk + main_fixup (the '-sk' variants, see "stream-K" below; binding 5 holds partial sums).
// The five last fields are read by the stream-K entry points only (zeros for main).
struct Params { M: u32, N: u32, K: u32, sK: u32, sN: u32, wOff: u32, ldX: u32, xOff: u32, ldY: u32, yOff: u32, hasBias: u32, biasOff: u32,
  tilesN: u32, skGrid: u32, skQ: u32, skR: u32, skDpTiles: u32 }

@group(0) @binding(0) var<storage, read> x: array<vec4<f32>>;
//#weight4 w 1
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const W_KN: bool = true;
const BN: u32 = 128u; // columns of the output tile (128 or 64)
const BM: u32 = 128u; // rows of the output tile
const BK: u32 = 8u;
const BN4: u32 = BN / 4u; // vec4 per Bs row
const TX: u32 = BN / 8u; // invocations along x (columns); 16 along y (rows)
const NT: u32 = 16u * TX; // invocations per workgroup (= 2·BN: one vec4 of W each per step)
const XL: u32 = 256u / NT; // vec4 of X each invocation loads per step (128 rows × 2 quads)
var<workgroup> As: array<array<array<vec4<f32>, 32>, BK>, 2>; // [buffer][k][rows m / 4]
var<workgroup> Bs: array<array<array<vec4<f32>, BN4>, BK>, 2>; // [buffer][k][columns n / 4]

// Transposed store into buffer b of 4 consecutive k (quad q) of row / column r: four scalar writes;
// a warp holds 32 consecutive r with one q, so each write hits 32 distinct banks.
fn store_a_t(b: u32, r: u32, q: u32, v: vec4<f32>) {
  let m4 = r >> 2u;
  let c = r & 3u;
  As[b][4u * q][m4][c] = v.x;
  As[b][4u * q + 1u][m4][c] = v.y;
  As[b][4u * q + 2u][m4][c] = v.z;
  As[b][4u * q + 3u][m4][c] = v.w;
}

fn store_b_t(b: u32, r: u32, q: u32, v: vec4<f32>) {
  let n4 = r >> 2u;
  let c = r & 3u;
  Bs[b][4u * q][n4][c] = v.x;
  Bs[b][4u * q + 1u][n4][c] = v.y;
  Bs[b][4u * q + 2u][n4][c] = v.z;
  Bs[b][4u * q + 3u][n4][c] = v.w;
}

// Stores the prefetched registers into buffer b: X quad lq (and lq + 1 when XL = 2) of row lr;
// W [K, N]: Bs[wk][wi] (wi: vec4 column); W [N, K]: quad wk / 4 of column wi.
fn store_tiles(b: u32, lr: u32, lq: u32, wk: u32, wi: u32, xv0: vec4<f32>, xv1: vec4<f32>, wv: vec4<f32>) {
  store_a_t(b, lr, lq, xv0);
  if (XL == 2u) { store_a_t(b, lr, lq + 1u, xv1); }
  if (W_KN) { Bs[b][wk][wi] = wv; } else { store_b_t(b, wi, wk >> 2u, wv); }
}

// Y[r, c0 .. c0+3] = v (+ bias), masked at M and N.
fn store_y(r: u32, c0: u32, v: vec4<f32>) {
  if (r >= p.M) { return; }
  let base = p.yOff + r * p.ldY;
  for (var j = 0u; j < 4u; j++) {
    let c = c0 + j;
    if (c < p.N) {
      var o = v[j];
      if (p.hasBias == 1u) { o += bias[p.biasOff + c]; }
      y[base + c] = o;
    }
  }
}

// acc[2i + h]: row 4ty + i (i < 4) or 64 + 4ty + i - 4, columns 4tx.. (h = 0) or BN/2 + 4tx.. (h = 1)
// of the tile at (rowBase, colBase), summed over the K-steps s0 .. s1 - 1 (s0 < s1 ≤ nSteps; every
// argument but tid, tx, ty uniform across the workgroup: the loop holds barriers).
fn tile_steps(tid: u32, tx: u32, ty: u32, rowBase: u32, colBase: u32, s0: u32, s1: u32) -> array<vec4<f32>, 16> {
  // Loader roles for X (transposed into As): quad lq (k = 4lq..4lq+3) of row lr, and with XL = 2
  // (NT = 128, so lq = 0) also quad 1 of the same row; a warp: 32 consecutive rows, one quad.
  let lr = tid & 127u;
  let lq = tid >> 7u;
  let xRow = rowBase + lr;
  let xOk = xRow < p.M;
  let xBase = (p.xOff >> 2u) + xRow * (p.ldX >> 2u) + lq; // vec4 index at k = 0 (read only when xOk)
  // W [K, N]: the vec4 of columns 4·wi.. at k = wk (a warp: 32 / BN4 contiguous row segments of 4·BN bytes).
  // W [N, K]: like X, column colBase + wi (wi = tid % BN), k quad wk / 4 (wk = 4·(tid / BN)).
  var wOk = false;
  var wk = 0u; // k of the loaded vec4 (its first k for W [N, K]) within the step
  var wi = 0u;
  var wBase = 0u; // vec4 index at k = 0
  var wStep = 0u; // vec4 per K-step
  if (W_KN) {
    wk = tid / BN4;
    wi = tid % BN4;
    let col = colBase + 4u * wi;
    wOk = col < p.N;
    wBase = (p.wOff + wk * p.sK + col) >> 2u;
    wStep = BK * (p.sK >> 2u);
  } else {
    wi = tid % BN;
    wk = 4u * (tid / BN);
    let n = colBase + wi;
    wOk = n < p.N;
    wBase = ((p.wOff + n * p.sN) >> 2u) + (tid / BN);
    wStep = BK / 4u;
  }

  // Prologue: K-step s0 into buffer 0.
  var xv0 = vec4<f32>(0.0);
  var xv1 = vec4<f32>(0.0); // only with XL = 2
  var wv = vec4<f32>(0.0);
  let kFirst = s0 * BK;
  let xFirst = xBase + s0 * (BK / 4u);
  if (xOk && kFirst + 4u * lq < p.K) { xv0 = x[xFirst]; }
  if (XL == 2u && xOk && kFirst + 4u < p.K) { xv1 = x[xFirst + 1u]; }
  if (wOk && kFirst + wk < p.K) { wv = load_w4(wBase + s0 * wStep); }
  store_tiles(0u, lr, lq, wk, wi, xv0, xv1, wv);
  workgroupBarrier();

  var acc = array<vec4<f32>, 16>();
  let nLocal = s1 - s0;
  for (var t = 0u; t < nLocal; t += 2u) {
    for (var b = 0u; b < 2u; b++) {
      let r = t + b; // local step r (K-step s0 + r) lives in buffer b = r % 2
      if (r >= nLocal) { break; }
      let hasNext = r + 1u < nLocal;
      // Register prefetch of the next step (zeros beyond the edges).
      xv0 = vec4<f32>(0.0);
      xv1 = vec4<f32>(0.0);
      wv = vec4<f32>(0.0);
      if (hasNext) {
        let s = s0 + r + 1u;
        let k0 = s * BK;
        let xNext = xBase + s * (BK / 4u);
        if (xOk && k0 + 4u * lq < p.K) { xv0 = x[xNext]; }
        if (XL == 2u && xOk && k0 + 4u < p.K) { xv1 = x[xNext + 1u]; }
        if (wOk && k0 + wk < p.K) { wv = load_w4(wBase + s * wStep); }
      }
      for (var k = 0u; k < BK; k++) {
        let a0 = As[b][k][ty];
        let a1 = As[b][k][16u + ty];
        let b0 = Bs[b][k][tx];
        let b1 = Bs[b][k][TX + tx];
        acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
        acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
        acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
        acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
        acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
        acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
        acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
        acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
        acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
        acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
        acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
        acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
        acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
        acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
        acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
        acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
      }
      // Buffer 1 - b was last read in the step before, which every invocation finished before the
      // barrier that ended it.
      if (hasNext) { store_tiles(1u - b, lr, lq, wk, wi, xv0, xv1, wv); }
      workgroupBarrier();
    }
  }
  return acc;
}

// Writes invocation (tx, ty)'s 16 vec4 of the tile at (rowBase, colBase) to Y (+ bias).
fn store_tile(tx: u32, ty: u32, rowBase: u32, colBase: u32, acc: array<vec4<f32>, 16>) {
  let r0 = rowBase + 4u * ty;
  let r1 = rowBase + 64u + 4u * ty;
  let c0 = colBase + 4u * tx;
  let c1 = colBase + BN / 2u + 4u * tx;
  store_y(r0, c0, acc[0]);
  store_y(r0, c1, acc[1]);
  store_y(r0 + 1u, c0, acc[2]);
  store_y(r0 + 1u, c1, acc[3]);
  store_y(r0 + 2u, c0, acc[4]);
  store_y(r0 + 2u, c1, acc[5]);
  store_y(r0 + 3u, c0, acc[6]);
  store_y(r0 + 3u, c1, acc[7]);
  store_y(r1, c0, acc[8]);
  store_y(r1, c1, acc[9]);
  store_y(r1 + 1u, c0, acc[10]);
  store_y(r1 + 1u, c1, acc[11]);
  store_y(r1 + 2u, c0, acc[12]);
  store_y(r1 + 2u, c1, acc[13]);
  store_y(r1 + 3u, c0, acc[14]);
  store_y(r1 + 3u, c1, acc[15]);
}

// Data-parallel: one workgroup per output tile, all of K. Dispatch (ceil(N / BN), ceil(M / BM), 1).
@compute @workgroup_size(TX, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let rowBase = wg.y * BM;
  let colBase = wg.x * BN;
  let nSteps = (p.K + BK - 1u) / BK;
  let acc = tile_steps(lid.y * TX + lid.x, lid.x, lid.y, rowBase, colBase, 0u, nSteps);
  store_tile(lid.x, lid.y, rowBase, colBase, acc);
}

// ---- stream-K ('-sk' variants) ----
// Tiles are numbered row-major (p.tilesN per row). A persistent grid of p.skGrid workgroups (about
// as many as the GPU runs at once) first takes the p.skDpTiles leading tiles data-parallel
// (workgroup g: tiles g, g + skGrid, ...; the host passes the whole waves, ⌊tiles / skGrid⌋·skGrid), then the rest
// as units (one unit: one K-step of one tile; unit 0 = K-step 0 of tile skDpTiles) split evenly:
// workgroup g takes units [u0(g), u0(g + 1)), u0(g) = g·skQ + min(g, skR),
// skQ = ⌊units / skGrid⌋ ≥ 1, skR = units mod skGrid. A tile whose units one workgroup owns is
// stored directly; a tile split between workgroups is written as partial sums, at most two per
// workgroup (slot 0: its first tile, slot 1: its last), and main_fixup adds them in workgroup order
// (deterministic). This spreads the last, nearly empty wave of the data-parallel grid over every
// workgroup (e.g. 800 tiles of 128 × 64 at M = 4096, N = 1600 on an H100 that runs 396 at once:
// 2 waves, then 8 tiles split 396 ways).
// partials: (2·skGrid) slots of 16·NT vec4, slot-major, then accumulator, then invocation.
@group(0) @binding(5) var<storage, read_write> partials: array<vec4<f32>>;

fn first_unit(g: u32) -> u32 {
  return g * p.skQ + min(g, p.skR);
}

// The workgroup whose units include unit u.
fn unit_owner(u: u32) -> u32 {
  let big = p.skR * (p.skQ + 1u); // the first skR workgroups own skQ + 1 units
  if (u < big) { return u / (p.skQ + 1u); }
  return p.skR + (u - big) / p.skQ;
}

// Dispatch (skGrid, 1, 1).
@compute @workgroup_size(TX, 16, 1)
fn main_streamk(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let g = wg.x;
  let tid = lid.y * TX + lid.x;
  let nSteps = (p.K + BK - 1u) / BK;
  for (var tile = g; tile < p.skDpTiles; tile += p.skGrid) {
    let rowBase = (tile / p.tilesN) * BM;
    let colBase = (tile % p.tilesN) * BN;
    store_tile(lid.x, lid.y, rowBase, colBase, tile_steps(tid, lid.x, lid.y, rowBase, colBase, 0u, nSteps));
  }
  let u0 = first_unit(g);
  let u1 = first_unit(g + 1u);
  var u = u0;
  loop {
    if (u >= u1) { break; }
    let tile = p.skDpTiles + u / nSteps;
    let s0 = u % nSteps;
    let s1 = min(nSteps, s0 + (u1 - u));
    let rowBase = (tile / p.tilesN) * BM;
    let colBase = (tile % p.tilesN) * BN;
    let acc = tile_steps(tid, lid.x, lid.y, rowBase, colBase, s0, s1);
    if (s0 == 0u && s1 == nSteps) {
      store_tile(lid.x, lid.y, rowBase, colBase, acc);
    } else {
      let slot = 2u * g + select(1u, 0u, u == u0);
      let at = slot * 16u * NT + tid;
      partials[at + 0u * NT] = acc[0];
      partials[at + 1u * NT] = acc[1];
      partials[at + 2u * NT] = acc[2];
      partials[at + 3u * NT] = acc[3];
      partials[at + 4u * NT] = acc[4];
      partials[at + 5u * NT] = acc[5];
      partials[at + 6u * NT] = acc[6];
      partials[at + 7u * NT] = acc[7];
      partials[at + 8u * NT] = acc[8];
      partials[at + 9u * NT] = acc[9];
      partials[at + 10u * NT] = acc[10];
      partials[at + 11u * NT] = acc[11];
      partials[at + 12u * NT] = acc[12];
      partials[at + 13u * NT] = acc[13];
      partials[at + 14u * NT] = acc[14];
      partials[at + 15u * NT] = acc[15];
    }
    u += s1 - s0;
  }
}

// Adds the partial sums of each split tile, in workgroup order. Dispatch (tiles − skDpTiles, 1, 1):
// one workgroup per tile after the data-parallel ones (at most skGrid).
@compute @workgroup_size(TX, 16, 1)
fn main_fixup(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let nSteps = (p.K + BK - 1u) / BK;
  let tile = p.skDpTiles + wg.x;
  let ua = wg.x * nSteps;
  let ga = unit_owner(ua);
  let gb = unit_owner(ua + nSteps - 1u);
  if (ga == gb) { return; } // stored by its one workgroup
  let tid = lid.y * TX + lid.x;
  var acc = array<vec4<f32>, 16>();
  for (var g = ga; g <= gb; g++) {
    // The tile is the first of every contributor but possibly ga, whose range may start earlier.
    let slot = 2u * g + select(0u, 1u, g == ga && first_unit(ga) < ua);
    let at = slot * 16u * NT + tid;
    // Constant indices only (as in main_streamk): acc stays in registers.
    acc[0] += partials[at + 0u * NT];
    acc[1] += partials[at + 1u * NT];
    acc[2] += partials[at + 2u * NT];
    acc[3] += partials[at + 3u * NT];
    acc[4] += partials[at + 4u * NT];
    acc[5] += partials[at + 5u * NT];
    acc[6] += partials[at + 6u * NT];
    acc[7] += partials[at + 7u * NT];
    acc[8] += partials[at + 8u * NT];
    acc[9] += partials[at + 9u * NT];
    acc[10] += partials[at + 10u * NT];
    acc[11] += partials[at + 11u * NT];
    acc[12] += partials[at + 12u * NT];
    acc[13] += partials[at + 13u * NT];
    acc[14] += partials[at + 14u * NT];
    acc[15] += partials[at + 15u * NT];
  }
  store_tile(lid.x, lid.y, (tile / p.tilesN) * BM, (tile % p.tilesN) * BN, acc);
}
