// Each WGSL kernel against its float64 CPU reference (src/cpu/reference.ts) on random shapes.
import { describe, expect, it } from 'vitest';
import { testGpu, testKernels, randomArray, maxAbsDiff, rng } from './helpers/gpu.js';
import { Kernels, matmulVec4x128Source, withIncludes } from '../src/gpu/kernels.js';
import { attentionRef, geluErfRef, geluTanhRef, layernormRef, matmulRef, nllRef, rotaryRef, erf64 } from '../src/cpu/reference.js';
import { f32ToF16Bits, f16BitsToF32 } from '../src/io/safetensors.js';

describe('float64 references', () => {
  it('erf64 matches known values', () => {
    expect(erf64(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf64(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf64(-2)).toBeCloseTo(-0.9953222650189527, 14);
    expect(erf64(3)).toBeCloseTo(0.9999779095030014, 14);
  });
});

describe.each(['register', 'shared'] as const)('matmul (%s)', (variant) => {
  const shapes: [number, number, number][] = [[1, 1, 1], [7, 13, 5], [33, 65, 31], [64, 64, 64], [70, 129, 100]];
  for (const [M, N, K] of shapes) {
    for (const layout of ['kn', 'nk'] as const) {
      for (const dtype of ['f32', 'f16'] as const) {
        // f16 storage packs pairs, so it needs an even row length
        if (dtype === 'f16' && (layout === 'kn' ? N : K) % 2) continue;
        it(`${M}×${K}·${K}×${N} ${layout} ${dtype}`, async () => {
          const k = await testKernels(variant);
          const gpu = k.gpu;
          const x = randomArray(M * K, 1);
          let w = randomArray(K * N, 2);
          const wBits = dtype === 'f16' ? f32ToF16Bits(w) : null;
          if (wBits) w = f16BitsToF32(wBits);
          const bias = randomArray(N, 3);
          const [sK, sN] = layout === 'kn' ? [N, 1] : [1, K];
          const xb = gpu.upload('x', x);
          const wb = gpu.upload('w', wBits ?? w);
          const bb = gpu.upload('b', bias);
          const yb = gpu.createBuffer('y', M * N * 4);
          k.matmul({ x: xb, w: wb, wDtype: dtype, bias: bb, y: yb, M, N, K, sK, sN });
          const y = await gpu.readF32(yb, 0, M * N);
          expect(maxAbsDiff(y, matmulRef(x, w, M, N, K, sK, sN, bias))).toBeLessThan(1e-4);
        });
      }
    }
  }
});

/**
 * A product with strided W (row pitch padded by 8) and offsets on X, W, Y and bias: M = 259, N = 324,
 * K = 76 (ragged last row and column tiles, a half last K-step of 8), its float64 reference and a
 * runner that returns one variant's dense output and the dispatches it recorded.
 */
async function stridedProduct(layout: 'kn' | 'nk', dtype: 'f32' | 'f16') {
  const gpu = await testGpu();
  const M = 259, N = 324, K = 76;
  const xOff = 4, ldX = K + 4, wOff = 8, yOff = 4, ldY = N + 4, biasOff = 2;
  const [sK, sN] = layout === 'kn' ? [N + 8, 1] : [1, K + 8];
  const wLen = wOff + (layout === 'kn' ? K * sK : N * sN);
  const x = randomArray(xOff + M * ldX, 31);
  let w = randomArray(wLen, 32);
  const wBits = dtype === 'f16' ? f32ToF16Bits(w) : null;
  if (wBits) w = f16BitsToF32(wBits);
  const bias = randomArray(biasOff + N, 33);
  const xb = gpu.upload('x', x);
  const wb = gpu.upload('w', wBits ?? w);
  const bb = gpu.upload('b', bias);
  const xs = new Float32Array(M * K);
  for (let r = 0; r < M; r++) for (let c = 0; c < K; c++) xs[r * K + c] = x[xOff + r * ldX + c];
  const ref = matmulRef(xs, w.subarray(wOff), M, N, K, sK, sN, bias.subarray(biasOff));
  const args = { x: xb, w: wb, wDtype: dtype, bias: bb, biasOff, M, N, K, sK, sN, xOff, wOff, ldX, ldY, yOff };
  const run = async (k: Kernels) => {
    const yb = gpu.createBuffer('y', (yOff + M * ldY) * 4);
    const seen: [string, number[]][] = [];
    gpu.recordHook = (d) => seen.push([d.kernel, d.workgroups]);
    try {
      k.matmul({ ...args, y: yb });
    } finally {
      gpu.recordHook = null;
    }
    const y = await gpu.readF32(yb, 0, yOff + M * ldY);
    yb.destroy();
    const got = new Float32Array(M * N);
    for (let r = 0; r < M; r++) got.set(y.subarray(yOff + r * ldY, yOff + r * ldY + N), r * N);
    return { got, seen };
  };
  const destroy = () => { for (const b of [xb, wb, bb]) b.destroy(); };
  return { gpu, M, N, K, args, ref, run, destroy };
}

describe('matmul vec4-128x64 (128×64 tiles of the vec4-128 shader)', () => {
  // 3 × 6 tiles of 128×64 vs 3 × 3 of 128×128. Each output is the same fma chain over k in both
  // variants, so they must agree bit for bit, and both with the float64 reference.
  for (const layout of ['kn', 'nk'] as const) {
    for (const dtype of ['f32', 'f16'] as const) {
      it(`259×76·76×324 ${layout} ${dtype}, offsets and strides: equals vec4-128 bit for bit`, async () => {
        const p = await stridedProduct(layout, dtype);
        const outs: Float32Array[] = [];
        for (const [variant, bn] of [['vec4-128x64', 64], ['vec4-128', 128]] as const) {
          const k = new Kernels(p.gpu, variant);
          expect(k.matmulVariantFor({ ...p.args, y: k.placeholder })).toBe(variant);
          expect(matmulVec4x128Source(dtype, layout, bn)).toContain(`const BN: u32 = ${bn}u;`);
          const { got, seen } = await p.run(k);
          expect(seen).toEqual([[`matmul-${variant}-${layout}-${dtype}`, [Math.ceil(p.N / bn), Math.ceil(p.M / 128), 1]]]);
          expect(maxAbsDiff(got, p.ref)).toBeLessThan(1e-4);
          outs.push(got);
        }
        expect(maxAbsDiff(outs[0], outs[1])).toBe(0);
        p.destroy();
      });
    }
  }
});

describe('matmul stream-K (vec4-128-sk, vec4-128x64-sk)', () => {
  // 10 K-steps per tile; 9 tiles (128×128) or 18 (128×64): grids that own whole tiles (1), split
  // tiles at uneven points (4, 7, 13), give every workgroup one unit (≥ 90 / 180: capped at the
  // unit count, tiles split ten ways).
  for (const layout of ['kn', 'nk'] as const) {
    for (const dtype of ['f32', 'f16'] as const) {
      it(`259×76·76×324 ${layout} ${dtype}: matches the reference for every grid, bit for bit the data-parallel twin on whole tiles`, async () => {
        const p = await stridedProduct(layout, dtype);
        for (const [variant, twin, bn] of [['vec4-128-sk', 'vec4-128', 128], ['vec4-128x64-sk', 'vec4-128x64', 64]] as const) {
          const tilesN = Math.ceil(p.N / bn), tilesM = Math.ceil(p.M / 128);
          const tiles = tilesN * tilesM;
          const units = tiles * Math.ceil(p.K / 8);
          const dp = (await p.run(new Kernels(p.gpu, twin))).got;
          for (const grid of [1, 4, 7, 13, 1000]) {
            const k = new Kernels(p.gpu, { matmul: variant, streamKGrid: grid });
            const { got, seen } = await p.run(k);
            const key = `matmul-${variant}-${layout}-${dtype}`;
            // Whole waves of the grid run data-parallel; the other tiles get a fixup workgroup each.
            const g = Math.min(grid, units);
            const skTiles = tiles - Math.floor(tiles / g) * g;
            expect(seen).toEqual([[key, [g, 1, 1]], ...(skTiles ? [[`${key}-fixup`, [skTiles, 1, 1]]] : [])]);
            expect(maxAbsDiff(got, p.ref), `grid ${grid}`).toBeLessThan(1e-4);
            if (grid === 1) expect(maxAbsDiff(got, dp)).toBe(0);
          }
        }
        p.destroy();
      });
    }
  }

  it('grows its partial-sum buffer between products recorded in one submit, and frees it with work pending: results right', async () => {
    const gpu = await testGpu();
    const k = new Kernels(gpu, { matmul: 'vec4-128-sk', streamKGrid: 4 });
    const products = [[8, 8, 8], [200, 136, 40]].map(([M, N, K], i) => {
      const x = randomArray(M * K, 40 + i), w = randomArray(K * N, 50 + i);
      const y = gpu.createBuffer('y', M * N * 4);
      const args = { x: gpu.upload('x', x), w: gpu.upload('w', w), wDtype: 'f32' as const, y, M, N, K, sK: N, sN: 1 };
      k.matmul(args); // the first needs one workgroup's partials (1 unit), the second four
      return { args, ref: matmulRef(x, w, M, N, K, N, 1) };
    });
    for (const { args, ref } of products) {
      expect(maxAbsDiff(await gpu.readF32(args.y, 0, args.M * args.N), ref)).toBeLessThan(1e-4);
    }
    // Released with recorded work pending (as a model's destroy() does), then made again on use.
    const [, big] = products;
    gpu.write(big.args.y, new Float32Array(big.args.M * big.args.N));
    k.matmul(big.args);
    k.releaseScratch();
    expect(maxAbsDiff(await gpu.readF32(big.args.y, 0, big.args.M * big.args.N), big.ref)).toBeLessThan(1e-4);
    k.matmul(big.args);
    expect(maxAbsDiff(await gpu.readF32(big.args.y, 0, big.args.M * big.args.N), big.ref)).toBeLessThan(1e-4);
    for (const { args } of products) for (const b of [args.x, args.w, args.y]) b.destroy();
  });

  it('runs as its data-parallel twin when no grid size is known; rejects bad grid sizes', async () => {
    const p = await stridedProduct('kn', 'f32');
    const k = new Kernels(p.gpu, { matmul: 'vec4-128x64-sk', autotune: false });
    expect(k.matmulVariantFor({ ...p.args, y: k.placeholder })).toBe('vec4-128x64');
    expect(() => new Kernels(p.gpu, { streamKGrid: 0 })).toThrow(/stream-K grid 0: expected a whole number of workgroups from 1 to 1024/);
    expect(() => new Kernels(p.gpu, { streamKGrid: 2.5 })).toThrow(/stream-K grid 2.5/);
    p.destroy();
  });
});

describe('layernorm', () => {
  it.each([[1, 5], [17, 64], [3, 130]])('%i rows × %i', async (rows, d) => {
    const k = await testKernels();
    const x = randomArray(rows * d, 4, 3);
    for (let i = 0; i < x.length; i++) x[i] += 2; // non-zero mean
    const g = randomArray(d, 5);
    const b = randomArray(d, 6);
    const yb = k.gpu.createBuffer('y', rows * d * 4);
    const stats = k.gpu.createBuffer('stats', rows * 8);
    k.layernorm(k.gpu.upload('x', x), k.gpu.upload('g', g), k.gpu.upload('b', b), yb, stats, rows, d, 1e-5);
    expect(maxAbsDiff(await k.gpu.readF32(yb, 0, rows * d), layernormRef(x, g, b, rows, d, 1e-5))).toBeLessThan(2e-5);
  });
});

describe('gelu', () => {
  it.each(['tanh', 'erf'] as const)('%s', async (kind) => {
    const k = await testKernels();
    const n = 10001;
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = -12 + (24 * i) / (n - 1);
    const yb = k.gpu.createBuffer('y', n * 4);
    k.gelu(kind, k.gpu.upload('x', x), yb, n);
    const y = await k.gpu.readF32(yb, 0, n);
    const ref = Array.from(x, kind === 'tanh' ? geluTanhRef : geluErfRef);
    expect(maxAbsDiff(y, ref)).toBeLessThan(2e-6);
    // relative accuracy in the negative tail (erfc formulation)
    if (kind === 'erf') {
      const i = Math.round(((-5 + 12) / 24) * (n - 1));
      expect(Math.abs(y[i] / ref[i] - 1)).toBeLessThan(1e-5);
    }
  });
});

describe('attention', () => {
  it.each([[2, 5, 3, 4], [1, 70, 2, 16], [3, 9, 4, 7]])('B=%i T=%i H=%i dh=%i', async (B, T, H, dh) => {
    const k = await testKernels();
    const d = H * dh;
    // fused GPT-2-style qkv rows [q | k | v], each head-major
    const qkv = randomArray(B * T * 3 * d, 7, 2);
    const q = new Float32Array(B * T * d), kk = new Float32Array(B * T * d), v = new Float32Array(B * T * d);
    for (let r = 0; r < B * T; r++) for (let f = 0; f < d; f++) {
      q[r * d + f] = qkv[r * 3 * d + f]; kk[r * d + f] = qkv[r * 3 * d + d + f]; v[r * d + f] = qkv[r * 3 * d + 2 * d + f];
    }
    const buf = k.gpu.upload('qkv', qkv);
    const z = k.gpu.createBuffer('z', B * T * d * 4);
    const pattern = k.gpu.createBuffer('pattern', B * H * T * T * 4);
    const redirect = k.gpu.upload('redirect', new Uint32Array(B * 2).fill(0xffffffff));
    k.attention({ qk: buf, v: buf, z, pattern, redirect, B, T, H, dh, qBase: 0, kBase: d, vBase: 2 * d, rowStrideQK: 3 * d, rowStrideV: 3 * d, headStrideQK: dh, headStrideV: dh });
    const ref = attentionRef(q, kk, v, B, T, H, dh);
    expect(maxAbsDiff(await k.gpu.readF32(z, 0, B * T * d), ref.z)).toBeLessThan(1e-5);
    expect(maxAbsDiff(await k.gpu.readF32(pattern, 0, B * H * T * T), ref.pattern)).toBeLessThan(1e-6);
  });

  it('redirects one (head, query) row to key 0', async () => {
    const k = await testKernels();
    const B = 2, T = 6, H = 2, dh = 4, d = 8;
    const qkv = randomArray(B * T * 3 * d, 8, 2);
    const buf = k.gpu.upload('qkv', qkv);
    const z = k.gpu.createBuffer('z', B * T * d * 4);
    const redirect = k.gpu.upload('redirect', new Uint32Array([1, 4, 0xffffffff, 0xffffffff]));
    k.attention({ qk: buf, v: buf, z, redirect, B, T, H, dh, qBase: 0, kBase: d, vBase: 2 * d, rowStrideQK: 3 * d, rowStrideV: 3 * d, headStrideQK: dh, headStrideV: dh });
    const out = await k.gpu.readF32(z, 0, B * T * d);
    for (let i = 0; i < dh; i++) expect(out[4 * d + dh + i]).toBe(qkv[2 * d + dh + i]);
  });
});

describe('attention (tiled, forced)', () => {
  // [q | k | v] rows; 'gpt2': each part head-major (headStride dh), 'neox': per head [q k v] (headStride 3·dh)
  async function run(variant: 'tiled' | 'simple', B: number, T: number, H: number, dh: number, layout: 'gpt2' | 'neox', redirectRows: number[], seed: number) {
    const k = new Kernels(await testGpu(), { attention: variant });
    const d = H * dh;
    const qkv = randomArray(B * T * 3 * d, seed, 1.5);
    const [hs, qB, kB, vB] = layout === 'gpt2' ? [dh, 0, d, 2 * d] : [3 * dh, 0, dh, 2 * dh];
    const q = new Float32Array(B * T * d), kk = new Float32Array(B * T * d), v = new Float32Array(B * T * d);
    for (let r = 0; r < B * T; r++) for (let h = 0; h < H; h++) for (let i = 0; i < dh; i++) {
      const o = r * 3 * d + h * hs + i;
      q[r * d + h * dh + i] = qkv[o + qB]; kk[r * d + h * dh + i] = qkv[o + kB]; v[r * d + h * dh + i] = qkv[o + vB];
    }
    const buf = k.gpu.upload('qkv', qkv);
    const z = k.gpu.createBuffer('z', B * T * d * 4);
    const redirect = k.gpu.upload('redirect', Uint32Array.from(redirectRows));
    expect(k.attentionVariantFor({ dh })).toBe(variant);
    k.attention({ qk: buf, v: buf, z, redirect, B, T, H, dh, qBase: qB, kBase: kB, vBase: vB, rowStrideQK: 3 * d, rowStrideV: 3 * d, headStrideQK: hs, headStrideV: hs });
    const out = await k.gpu.readF32(z, 0, B * T * d);
    const ref = attentionRef(q, kk, v, B, T, H, dh).z;
    for (let b = 0; b < B; b++) {
      const [h, t] = [redirectRows[2 * b], redirectRows[2 * b + 1]];
      if (h >= H || t >= T) continue;
      for (let i = 0; i < dh; i++) ref[(b * T + t) * d + h * dh + i] = v[b * T * d + h * dh + i];
    }
    return { out, ref, d };
  }
  const NONE = 0xffffffff;
  it.each([
    [1, 1, 1, 64, 'gpt2'], [2, 70, 3, 64, 'gpt2'], [3, 33, 2, 80, 'neox'], [1, 130, 2, 24, 'gpt2'], [2, 9, 4, 7, 'neox'], [1, 20, 1, 128, 'neox'],
  ] as const)('B=%i T=%i H=%i dh=%i %s', async (B, T, H, dh, layout) => {
    const redirectRows = Array.from({ length: B }, (_, b) => (b % 2 === 0 ? [NONE, NONE] : [H - 1, T - 1])).flat();
    const { out, ref } = await run('tiled', B, T, H, dh, layout, redirectRows, 11 + T);
    expect(maxAbsDiff(out, ref)).toBeLessThan(2e-5);
  });

  it('redirected rows equal the simple kernel\'s exactly (and the rest agree)', async () => {
    const B = 3, T = 67, H = 2, dh = 16;
    const redirectRows = [1, 66, 0, 0, NONE, NONE];
    const tiled = await run('tiled', B, T, H, dh, 'gpt2', redirectRows, 5);
    const simple = await run('simple', B, T, H, dh, 'gpt2', redirectRows, 5);
    expect(maxAbsDiff(tiled.out, simple.out)).toBeLessThan(2e-6);
    for (const [b, h, t] of [[0, 1, 66], [1, 0, 0]]) {
      const o = (b * T + t) * tiled.d + h * dh;
      expect(Array.from(tiled.out.subarray(o, o + dh))).toEqual(Array.from(simple.out.subarray(o, o + dh)));
    }
  });

  it('falls back to the simple kernel when hook_pattern is written; PLATEAU_ATTENTION is checked', async () => {
    const k = new Kernels(await testGpu(), { attention: 'tiled' });
    expect(k.attentionVariantFor({ dh: 64, pattern: k.placeholder })).toBe('simple');
    expect(k.attentionVariantFor({ dh: 64 })).toBe('tiled');
    const saved = process.env.PLATEAU_ATTENTION;
    try {
      process.env.PLATEAU_ATTENTION = 'simple';
      expect(new Kernels(await testGpu()).forcedAttention).toBe('simple');
      expect(new Kernels(await testGpu(), { attention: 'tiled' }).forcedAttention).toBe('tiled');
      process.env.PLATEAU_ATTENTION = 'flash';
      expect(() => new Kernels(k.gpu)).toThrow(/PLATEAU_ATTENTION=flash: attention variant.*expected one of tiled, simple/);
    } finally {
      if (saved === undefined) delete process.env.PLATEAU_ATTENTION; else process.env.PLATEAU_ATTENTION = saved;
    }
  });
});

describe('rotary', () => {
  it('rotate-half on the first rot dims, positions arbitrary', async () => {
    const k = await testKernels();
    const rows = 11, H = 3, dh = 8, rot = 4, base = 10000, d = H * dh;
    // NeoX layout: per head [q | k | v] of dh each
    const qkv = randomArray(rows * 3 * d, 9);
    const positions = Uint32Array.from({ length: rows }, (_, i) => (i * 7) % 50);
    const half = rot / 2;
    const table = new Float32Array(64 * half * 2);
    for (let p = 0; p < 64; p++) for (let j = 0; j < half; j++) {
      const a = p / Math.pow(base, (2 * j) / rot);
      table[(p * half + j) * 2] = Math.cos(a); table[(p * half + j) * 2 + 1] = Math.sin(a);
    }
    const out = k.gpu.createBuffer('out', rows * 2 * d * 4);
    k.rotary({ qkv: k.gpu.upload('qkv', qkv), cosSin: k.gpu.upload('cs', table), positions: k.gpu.upload('pos', positions), out, rows, H, dh, rot, ldQKV: 3 * d, qBase: 0, kBase: dh, headStride: 3 * dh });
    const got = await k.gpu.readF32(out, 0, rows * 2 * d);
    const q = new Float32Array(rows * d), kk = new Float32Array(rows * d);
    for (let r = 0; r < rows; r++) for (let h = 0; h < H; h++) for (let i = 0; i < dh; i++) {
      q[(r * H + h) * dh + i] = qkv[r * 3 * d + h * 3 * dh + i];
      kk[(r * H + h) * dh + i] = qkv[r * 3 * d + h * 3 * dh + dh + i];
    }
    const qr = rotaryRef(q, positions, rows, H, dh, rot, base), kr = rotaryRef(kk, positions, rows, H, dh, rot, base);
    const expected = new Float64Array(rows * 2 * d);
    for (let r = 0; r < rows; r++) for (let f = 0; f < d; f++) { expected[r * 2 * d + f] = qr[r * d + f]; expected[r * 2 * d + d + f] = kr[r * d + f]; }
    expect(maxAbsDiff(got, expected)).toBeLessThan(1e-5);
  });
});

describe('embedding gather', () => {
  it('gathers rows across chunks, f32 and f16', async () => {
    const k = await testKernels();
    const V = 37, d = 6, rows = 20;
    const table = randomArray(V * d, 10);
    const bits = f32ToF16Bits(table);
    const r = rng(11);
    const ids = Uint32Array.from({ length: rows }, () => Math.floor(r() * V));
    for (const dtype of ['f32', 'f16'] as const) {
      const src = dtype === 'f16' ? f16BitsToF32(bits) : table;
      const x = k.gpu.createBuffer('x', rows * d * 4);
      const idb = k.gpu.upload('ids', ids);
      for (const [start, count] of [[0, 16], [16, 16], [32, 5]]) {
        const part = dtype === 'f16' ? bits.subarray(start * d, (start + count) * d) : table.subarray(start * d, (start + count) * d);
        k.embedGather(idb, k.gpu.upload('t', part), dtype, x, rows, d, start, count);
      }
      const got = await k.gpu.readF32(x, 0, rows * d);
      const expected = new Float32Array(rows * d);
      for (let n = 0; n < rows; n++) for (let i = 0; i < d; i++) expected[n * d + i] = src[ids[n] * d + i];
      expect(maxAbsDiff(got, expected)).toBe(0);
    }
  });
});

describe('copy row slices', () => {
  it('copies (dstRow, srcRow, col0, width) slices and leaves every other element alone', async () => {
    const k = await testKernels();
    const rows = 7, d = 130;
    const dst = randomArray(rows * d, 21);
    const src = randomArray(rows * d, 22);
    const slices = [[0, 6, 0, d], [3, 3, 64, 66], [5, 1, 2, 1], [6, 0, 129, 1]];
    const expected = Float32Array.from(dst);
    for (const [to, from, col0, width] of slices) {
      expected.set(src.subarray(from * d + col0, from * d + col0 + width), to * d + col0);
    }
    const db = k.gpu.upload('dst', dst);
    k.copyRowSlices(db, k.gpu.upload('src', src), k.gpu.upload('slices', Uint32Array.from(slices.flat())), slices.length, d, d);
    expect(maxAbsDiff(await k.gpu.readF32(db, 0, rows * d), expected)).toBe(0);
  });
});

describe('streaming log-sum-exp / nll', () => {
  it('matches a one-shot log-softmax over chunked vocabularies', async () => {
    const k = await testKernels();
    const rows = 9, V = 1003;
    const logits = randomArray(rows * V, 12, 8);
    const r = rng(13);
    const targets = Int32Array.from({ length: rows }, (_, i) => (i === rows - 1 ? -1 : Math.floor(r() * V)));
    const tb = k.gpu.upload('targets', targets);
    const state = k.gpu.createBuffer('state', rows * 12);
    const nll = k.gpu.createBuffer('nll', rows * 4);
    const chunk = 256;
    for (let v0 = 0; v0 < V; v0 += chunk) {
      const cols = Math.min(chunk, V - v0);
      const part = new Float32Array(rows * cols);
      for (let n = 0; n < rows; n++) part.set(logits.subarray(n * V + v0, n * V + v0 + cols), n * cols);
      k.lseUpdate(k.gpu.upload('chunk', part), tb, state, rows, cols, cols, v0, v0 === 0);
    }
    k.nllFinalize(tb, state, nll, rows);
    expect(maxAbsDiff(await k.gpu.readF32(nll, 0, rows), nllRef(logits, targets, rows, V))).toBeLessThan(1e-5);
  });
});

describe('exp2 from FMAs (shaders/exp2-fma.wgsl)', () => {
  it('matches 2^x to 2.5e-7 relative from −126 to 127, and is 0 below −126', async () => {
    const gpu = await testGpu();
    const r = rng(21);
    const special = [0, -0, 1e-7, -1e-7, 0.5, -0.5, 1, -1, -1.0000001, 10.25, 126.9, -30.7, -100, -125.99, -126, -126.0001, -126.5, -127, -140, -1e30];
    const xs = Float32Array.from([...special, ...Array.from({ length: 4096 - special.length }, () => (r() * 2 - 1) * 126)]);
    const code = withIncludes(`//#include exp2-fma
@group(0) @binding(0) var<storage, read> xs: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> ys: array<vec4<f32>>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x < arrayLength(&xs)) { ys[id.x] = exp2_fma(xs[id.x]); }
}`);
    const pipeline = gpu.pipeline('test-exp2-fma', () => code);
    const ys = gpu.createBuffer('ys', xs.length * 4);
    gpu.dispatch('test-exp2-fma', pipeline, [gpu.upload('xs', xs), ys], [xs.length / 4 / 64]);
    const got = await gpu.readF32(ys, 0, xs.length);
    let worst = 0;
    xs.forEach((x, i) => {
      if (x < -126) expect(got[i], `2^${x}`).toBe(0);
      else worst = Math.max(worst, Math.abs(got[i] - 2 ** x) / 2 ** x);
    });
    expect(worst).toBeLessThan(2.5e-7);
    expect(worst).toBeGreaterThan(0); // a polynomial, not the hardware exp2 routed through
  });
});
