// Every matmul variant against the float64 CPU reference (odd shapes: edge masking and the vec4
// fallback; aligned shapes: the vec4 paths themselves), and the autotune cache: timing, choice,
// per-shape lookup in Kernels, forcing by option and by PLATEAU_MATMUL.
import path from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testGpu, randomArray, maxAbsDiff } from './helpers/gpu.js';
import { matmulRef } from '../src/cpu/reference.js';
import { f32ToF16Bits, f16BitsToF32 } from '../src/io/safetensors.js';
import { Kernels, MATMUL_VARIANTS, attentionCacheKey, matmulSupports, streamKCacheKey, type MatmulVariant } from '../src/gpu/kernels.js';
import { autotuneAttention } from '../src/model/attention-autotune.js';
import { autotuneMatmul, autotuneChooser, adapterKey, clearAutotuneMemory, forcedMatmulVariant, MatmulBench, saveCachedChoice, tuneVariants, DEFAULT_TUNE_VARIANTS } from '../src/gpu/autotune.js';
import { chooseStreamKGrid, tuneStreamKGrids } from '../src/gpu/streamk-grid.js';
import { loadModel } from '../src/model/load.js';
import { fixtureDir } from './fixtures.js';
import { CleanRun } from '../src/interventions/clean-run.js';
import { FinalLayerNeuronSweep, PAIR_CACHE_KEY } from '../src/interventions/closed-form.js';
import { autotunePairLoop } from '../src/interventions/pair-autotune.js';

type Shape = [number, number, number]; // M, N, K

async function checkVariant(variant: MatmulVariant, [M, N, K]: Shape, layout: 'kn' | 'nk', dtype: 'f32' | 'f16', expectRan?: MatmulVariant) {
  // Stream-K variants run on a grid of 3: tiles split between workgroups on most shapes.
  const k = new Kernels(await testGpu(), { matmul: variant, streamKGrid: 3 });
  const gpu = k.gpu;
  const x = randomArray(M * K, 11);
  let w = randomArray(K * N, 12);
  const wBits = dtype === 'f16' ? f32ToF16Bits(w) : null;
  if (wBits) w = f16BitsToF32(wBits);
  const bias = randomArray(N, 13);
  const [sK, sN] = layout === 'kn' ? [N, 1] : [1, K];
  const xb = gpu.upload('x', x);
  const wb = gpu.upload('w', wBits ?? w);
  const bb = gpu.upload('b', bias);
  const yb = gpu.createBuffer('y', M * N * 4);
  const args = { x: xb, w: wb, wDtype: dtype, bias: bb, y: yb, M, N, K, sK, sN };
  if (expectRan) expect(k.matmulVariantFor(args)).toBe(expectRan);
  k.matmul(args);
  const y = await gpu.readF32(yb, 0, M * N);
  for (const b of [xb, wb, bb, yb]) b.destroy();
  expect(maxAbsDiff(y, matmulRef(x, w, M, N, K, sK, sN, bias))).toBeLessThan(1e-4);
}

describe.each(MATMUL_VARIANTS)('matmul variant %s vs float64 reference', (variant) => {
  const odd: Shape[] = [[1, 1, 1], [7, 13, 5], [33, 65, 31], [70, 129, 100], [3, 257, 9]];
  // [131, 260, 36]: several 128×128 tiles of vec4-128 in both directions (5 × 2 of 128×64 for
  // vec4-128x64, last column tile 4 wide), a partial last K-step, an odd number of K-steps;
  // [257, 196, 20]: 3 tile rows (the last 1 row), 2 tiles of 128 / 4 of 64 columns (last 68 / 4 wide), 3 K-steps
  const aligned: Shape[] = [[5, 12, 8], [37, 68, 44], [65, 132, 200], [131, 260, 36], [257, 196, 20]];
  for (const shape of [...odd, ...aligned]) {
    for (const layout of ['kn', 'nk'] as const) {
      for (const dtype of ['f32', 'f16'] as const) {
        const [, N, K] = shape;
        if (dtype === 'f16' && (layout === 'kn' ? N : K) % 2) continue; // f16 packs pairs
        it(`${shape[0]}×${K}·${K}×${N} ${layout} ${dtype}`, async () => {
          const sK = layout === 'kn' ? N : 1;
          const sN = layout === 'kn' ? 1 : K;
          const runsItself = matmulSupports(variant, { N, K, sK, sN });
          // vec4 variants must run themselves on the aligned shapes (not only their fallback)
          if (variant.startsWith('vec4') && aligned.includes(shape)) expect(runsItself).toBe(true);
          await checkVariant(variant, shape, layout, dtype, runsItself ? variant : undefined);
        });
      }
    }
  }
});

describe('matmul with offsets and strides (vec4 alignment)', () => {
  it.each([['vec4', 'register'], ['vec4-128', 'shared'], ['vec4-128x64', 'shared']] as const)('%s runs on 4-aligned offsets and falls back to %s on unaligned ones, both correct', async (variant, fallback) => {
    const gpu = await testGpu();
    const k = new Kernels(gpu, variant);
    const M = 9, N = 16, K = 12, ldX = 20, ldY = 24, biasOff = 3;
    const bias = randomArray(biasOff + N, 23);
    const bb = gpu.upload('b', bias);
    for (const [xOff, wOff, expected] of [[4, 8, variant], [3, 8, fallback], [4, 2, fallback]] as const) {
      const x = randomArray(xOff + M * ldX, 21);
      const w = randomArray(wOff + K * N, 22);
      const xb = gpu.upload('x', x);
      const wb = gpu.upload('w', w);
      const yb = gpu.createBuffer('y', (M * ldY + 4) * 4);
      const args = { x: xb, w: wb, wDtype: 'f32' as const, bias: bb, biasOff, y: yb, M, N, K, sK: N, sN: 1, xOff, wOff, ldX, ldY, yOff: 4 };
      expect(k.matmulVariantFor(args)).toBe(expected);
      k.matmul(args);
      const y = await gpu.readF32(yb, 0, M * ldY + 4);
      const xs = new Float32Array(M * K);
      for (let r = 0; r < M; r++) for (let c = 0; c < K; c++) xs[r * K + c] = x[xOff + r * ldX + c];
      const ref = matmulRef(xs, w.subarray(wOff), M, N, K, N, 1, bias.subarray(biasOff));
      const got = new Float32Array(M * N);
      for (let r = 0; r < M; r++) for (let c = 0; c < N; c++) got[r * N + c] = y[4 + r * ldY + c];
      expect(maxAbsDiff(got, ref)).toBeLessThan(1e-4);
      for (const b of [xb, wb, yb]) b.destroy();
    }
    bb.destroy();
  });
});

describe('autotune cache', () => {
  let dir: string;
  const saved = { cache: process.env.PLATEAU_AUTOTUNE_CACHE, force: process.env.PLATEAU_MATMUL, off: process.env.PLATEAU_AUTOTUNE, grid: process.env.PLATEAU_STREAMK_GRID };
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'plateau-autotune-'));
    process.env.PLATEAU_AUTOTUNE_CACHE = path.join(dir, 'sub', 'autotune.json');
    delete process.env.PLATEAU_MATMUL;
    delete process.env.PLATEAU_AUTOTUNE;
    delete process.env.PLATEAU_STREAMK_GRID;
    clearAutotuneMemory();
  });
  afterEach(() => {
    for (const [k, v] of [['PLATEAU_AUTOTUNE_CACHE', saved.cache], ['PLATEAU_MATMUL', saved.force], ['PLATEAU_AUTOTUNE', saved.off], ['PLATEAU_STREAMK_GRID', saved.grid]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    clearAutotuneMemory();
  });

  it('times variants, writes the fastest per adapter and shape, and Kernels.matmul uses it', async () => {
    const gpu = await testGpu();
    const k = new Kernels(gpu);
    expect(k.matmulChooser).toBeNull(); // empty cache
    const results = await autotuneMatmul(k, [{ M: 16, N: 64, K: 32, dtype: 'f32' }, { M: 8, N: 36, K: 20, dtype: 'f16', layout: 'nk' }], { repeats: 3 });
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.timings.map((t) => t.variant)).toEqual(['register', 'register-8x8', 'vec4', 'vec4-8x8', 'shared', 'vec4-128', 'vec4-128x64']);
      for (const t of r.timings) {
        expect(t.samplesMs).toHaveLength(3);
        expect(t.medianMs).toBeGreaterThanOrEqual(0);
      }
      expect(r.timings.find((t) => t.variant === r.best)!.ran).toBe(r.best);
    }
    const file = JSON.parse(readFileSync(process.env.PLATEAU_AUTOTUNE_CACHE!, 'utf8'));
    const entries = file.adapters[adapterKey(gpu)];
    expect(entries['32x64:f32:kn']['16'].variant).toBe(results[0].best);
    expect(entries['20x36:f16:nk']['8'].variant).toBe(results[1].best);

    // A new Kernels reads the cache; nearest M is used for other row counts.
    clearAutotuneMemory();
    const k2 = new Kernels(gpu);
    expect(k2.matmulChooser).not.toBeNull();
    expect(k2.matmulChooser!.choose(16, 64, 32, 'f32', 'kn')).toBe(results[0].best);
    expect(k2.matmulChooser!.choose(300, 64, 32, 'f32', 'kn')).toBe(results[0].best);
    expect(k2.matmulChooser!.choose(16, 64, 32, 'f32', 'nk')).toBeUndefined();
    const dummy = gpu.createBuffer('d', 16);
    expect(k2.matmulVariantFor({ x: dummy, w: dummy, wDtype: 'f32', y: dummy, M: 16, N: 64, K: 32, sK: 64, sN: 1 })).toBe(results[0].best);
    // untuned shape: the adapter default
    expect(k2.matmulVariantFor({ x: dummy, w: dummy, wDtype: 'f32', y: dummy, M: 16, N: 65, K: 32, sK: 65, sN: 1 })).toBe(k2.matmulVariant);
    dummy.destroy();

    // Forcing: the option, then PLATEAU_MATMUL; PLATEAU_AUTOTUNE=off ignores the cache.
    expect(new Kernels(gpu, { matmul: 'naive' }).matmulChooser).toBeNull();
    process.env.PLATEAU_MATMUL = 'shared';
    expect(forcedMatmulVariant()).toBe('shared');
    expect(new Kernels(gpu).forcedMatmul).toBe('shared');
    expect(new Kernels(gpu, 'register').forcedMatmul).toBe('register');
    process.env.PLATEAU_MATMUL = 'bogus';
    expect(() => new Kernels(gpu)).toThrow(/PLATEAU_MATMUL=bogus: unknown matmul variant/);
    delete process.env.PLATEAU_MATMUL;
    process.env.PLATEAU_AUTOTUNE = 'off';
    expect(autotuneChooser(gpu)).toBeNull();
  });

  it('MatmulBench.check: float64 error of sampled outputs; an output left unwritten fails', async () => {
    const k = new Kernels(await testGpu(), { streamKGrid: 3 });
    const bench = new MatmulBench(k, { M: 130, N: 72, K: 40, dtype: 'f32', layout: 'nk' }, { keepInputs: true });
    for (const v of ['register', 'vec4-128x64-sk'] as const) expect(await bench.check(v, k, 64)).toBeLessThan(1e-6);
    const idle = new Kernels(k.gpu);
    idle.matmul = () => {}; // writes nothing: the NaN fill stays
    expect(await bench.check('register', idle, 64)).toBe(Infinity);
    bench.destroy();
    expect(() => new MatmulBench(k, { M: 4, N: 4, K: 4, dtype: 'f16' }, { keepInputs: true })).toThrow(/f32 weights only/);
  });

  it('MatmulBench reports GFLOP/s from the median and which variant ran', async () => {
    const k = new Kernels(await testGpu());
    const bench = new MatmulBench(k, { M: 5, N: 30, K: 7, dtype: 'f32' });
    const t = await bench.time('vec4', { repeats: 2 });
    bench.destroy();
    expect(t.ran).toBe('register'); // K = 7 is not 4-aligned
    expect(t.samplesMs).toHaveLength(2);
    expect(t.timer).toMatch(/gpu-timestamps|cpu-sync/);
  });

  it('attention: both kernels timed on whole forwards, the faster cached per head size and used; forcing, hook_pattern and PLATEAU_AUTOTUNE=off win', async () => {
    const gpu = await testGpu();
    const model = await loadModel(gpu, fixtureDir('gpt2-tiny'));
    const dh = model.spec.dHead;
    const ids = Int32Array.from({ length: 2 * 9 }, (_, i) => (i * 37 + 11) % model.spec.vocab);
    const tuned = await autotuneAttention(model, ids, 2, 9, 2);
    expect(tuned.timings.map((t) => t.variant)).toEqual(['tiled', 'simple']);
    expect(model.kernels.forcedAttention).toBeNull(); // restored
    const file = JSON.parse(readFileSync(process.env.PLATEAU_AUTOTUNE_CACHE!, 'utf8'));
    expect(file.adapters[adapterKey(gpu)][attentionCacheKey(dh)].all.variant).toBe(tuned.best);
    expect(model.kernels.attentionVariantFor({ dh })).toBe(tuned.best);
    // Pin 'simple' (not the default) to see a fresh Kernels pick it up.
    saveCachedChoice(gpu, attentionCacheKey(dh), 'simple', 1);
    const k = new Kernels(gpu);
    expect(k.attentionVariantFor({ dh })).toBe('simple');
    expect(k.attentionVariantFor({ dh: dh * 2 })).toBe('tiled'); // another head size: the default
    expect(new Kernels(gpu, { attention: 'tiled' }).attentionVariantFor({ dh })).toBe('tiled');
    const pattern = gpu.createBuffer('p', 16);
    saveCachedChoice(gpu, attentionCacheKey(dh), 'tiled', 1);
    expect(new Kernels(gpu).attentionVariantFor({ dh, pattern })).toBe('simple');
    saveCachedChoice(gpu, attentionCacheKey(dh), 'simple', 1);
    process.env.PLATEAU_AUTOTUNE = 'off';
    expect(new Kernels(gpu).attentionVariantFor({ dh })).toBe('tiled');
    delete process.env.PLATEAU_AUTOTUNE;
    pattern.destroy();
    model.destroy();
  });

  it('the closed form\'s pair loop: variants timed on real work, the fastest cached and used; options and PLATEAU_AUTOTUNE=off win', async () => {
    const gpu = await testGpu();
    const model = await loadModel(gpu, fixtureDir('gpt2-tiny'));
    const B = 2, T = 9;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % model.spec.vocab);
    const tuned = await autotunePairLoop(model, ids, B, T, { variants: ['direct', 'direct:mixed', 'tiled:factor'], neurons: 16, repeats: 2 });
    expect(tuned.timings.map((t) => t.variant)).toEqual(['direct', 'direct:mixed', 'tiled:factor']);
    for (const t of tuned.timings) expect(t.glogitsPerS).toBeGreaterThan(0);
    expect(tuned.best).toBe(tuned.timings.reduce((a, b) => (b.medianMs < a.medianMs ? b : a)).variant);
    const file = JSON.parse(readFileSync(process.env.PLATEAU_AUTOTUNE_CACHE!, 'utf8'));
    expect(file.adapters[adapterKey(gpu)][PAIR_CACHE_KEY].all.variant).toBe(tuned.best);

    const clean = await CleanRun.capture(model, ids, B, T, { layers: [model.spec.nLayers - 1], unembed: false });
    const variantOf = (options = {}) => {
      const sweep = new FinalLayerNeuronSweep(model, clean, options);
      sweep.destroy();
      return sweep.variant;
    };
    // Pin a choice no adapter default would make, to see it picked up.
    saveCachedChoice(gpu, PAIR_CACHE_KEY, 'tiled:mixed:factor', 1);
    expect(variantOf()).toBe('tiled:mixed:factor');
    expect(variantOf({ exp: 'hardware' })).toBe('tiled:factor'); // an option overrides its part only
    process.env.PLATEAU_AUTOTUNE = 'off';
    expect(variantOf()).toBe('direct'); // lavapipe's default
    delete process.env.PLATEAU_AUTOTUNE;
    saveCachedChoice(gpu, PAIR_CACHE_KEY, 'tiled:turbo', 1); // from another version: ignored
    expect(variantOf()).toBe('direct');
    clean.destroy();
    model.destroy();
  });

  it('stream-K grid: probed per tile width, cached, then used and tuned; PLATEAU_STREAMK_GRID and the option win', async () => {
    const gpu = await testGpu();
    const k = new Kernels(gpu);
    expect(k.streamKGridFor(128)).toBeNull();
    expect(tuneVariants(k)).toEqual(DEFAULT_TUNE_VARIANTS); // no grid known: no stream-K variants
    const probes = await tuneStreamKGrids(k, { depth: 64, maxTiles: 8, repeats: 2 });
    expect(probes.map((p) => p.bn)).toEqual([128, 64]);
    for (const p of probes) {
      expect(Number.isInteger(p.grid) && p.grid >= 1 && p.grid <= 8).toBe(true);
      expect(p.points[0].tiles).toBe(1);
      expect(k.streamKGridFor(p.bn)).toBe(p.grid); // reloaded from the cache
    }
    const file = JSON.parse(readFileSync(process.env.PLATEAU_AUTOTUNE_CACHE!, 'utf8'));
    expect(file.adapters[adapterKey(gpu)][streamKCacheKey(64)].all.variant).toBe(String(probes[1].grid));
    expect(tuneVariants(k)).toEqual([...DEFAULT_TUNE_VARIANTS, 'vec4-128-sk', 'vec4-128x64-sk']);
    const [r] = await autotuneMatmul(k, [{ M: 130, N: 72, K: 24, dtype: 'f32' }], { repeats: 2, variants: ['vec4-128x64', 'vec4-128x64-sk'], save: false });
    expect(r.timings.map((t) => t.ran)).toEqual(['vec4-128x64', 'vec4-128x64-sk']);
    process.env.PLATEAU_STREAMK_GRID = '5';
    expect(new Kernels(gpu).streamKGridFor(128)).toBe(5);
    expect(new Kernels(gpu, { streamKGrid: 3 }).streamKGridFor(64)).toBe(3);
    process.env.PLATEAU_STREAMK_GRID = 'many';
    expect(() => new Kernels(gpu)).toThrow(/PLATEAU_STREAMK_GRID=many: expected a whole number of workgroups from 1 to 1024/);
    delete process.env.PLATEAU_STREAMK_GRID;
    process.env.PLATEAU_AUTOTUNE = 'off';
    expect(new Kernels(gpu).streamKGridFor(128)).toBeNull();
  });
});

describe('stream-K grid search (chooseStreamKGrid)', () => {
  // Step curves shaped like the H100's (bench/results/2026-11-26-h100-streamk-explore.jsonl): 132
  // SMs; 128 × 128 tiles run 2 per SM (a second co-resident tile makes both 1.6× slower), 128 × 64
  // tiles 3 per SM.
  const steps = (table: [number, number][]) => async (n: number) => table.find(([upTo]) => n <= upTo)![1];
  const h100Wide = steps([[132, 0.355], [264, 0.578], [528, 1.115], [792, 1.65], [Infinity, 2.2]]);
  const h100Narrow = steps([[132, 0.242], [264, 0.325], [396, 0.403], [792, 0.768], [Infinity, 1.045]]);
  it.each([
    ['H100, 128 × 128 tiles: 2 per SM', h100Wide, 264],
    ['H100, 128 × 64 tiles: 3 per SM', h100Narrow, 396],
    ['one tile saturates each of 100 SMs', async (n: number) => Math.ceil(n / 100), 100],
    ['a 2-thread CPU', async (n: number) => Math.ceil(n / 2) * 10, 2],
  ] as const)('%s → %i', async (_, time, grid) => {
    const timed: number[] = [];
    expect(await chooseStreamKGrid(async (n) => { timed.push(n); return time(n); })).toBe(grid);
    expect(new Set(timed).size).toBe(timed.length); // each count timed once
    expect(timed.length).toBeLessThan(30);
  });
  it('never more than maxTiles', async () => {
    expect(await chooseStreamKGrid(async () => 1, { maxTiles: 300 })).toBe(300);
  });
});

describe('memory budget sizes', () => {
  it('parses decimal and binary units and rejects the rest', async () => {
    const { parseByteSize } = await import('../src/gpu/memory-budget.js');
    expect(parseByteSize('4GB', 'x')).toBe(4e9);
    expect(parseByteSize('512MiB', 'x')).toBe(512 * 2 ** 20);
    expect(parseByteSize('1.5G', 'x')).toBe(1.5 * 2 ** 30);
    expect(parseByteSize('3000000000', 'x')).toBe(3e9);
    for (const bad of ['', 'lots', '-1GB', '4 parsecs', '1000']) expect(() => parseByteSize(bad, 'FLAG'), bad).toThrow(/^FLAG: expected a size/);
  });
});

describe('finite check of read-back results', () => {
  it('is true for finite values (±0 included) and false for NaN or ±∞ anywhere', async () => {
    const { allFinite } = await import('../src/interventions/finite.js');
    const values = Float32Array.from({ length: 1000 }, (_, i) => (i - 500) * 1e30);
    values[3] = -0;
    expect(allFinite(values)).toBe(true);
    expect(allFinite(new Float32Array(0))).toBe(true);
    for (const bad of [NaN, Infinity, -Infinity]) {
      for (const at of [0, 499, 999]) {
        const copy = Float32Array.from(values);
        copy[at] = bad;
        expect(allFinite(copy), `${bad} at ${at}`).toBe(false);
      }
    }
  });
});
