import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  POSITION_COMMON,
  POSITION_EXCLUDED,
  POSITION_OTHER,
  POSITION_RARE,
  classifyPositions,
  countUnigrams,
  defaultExcludedTokenIds,
  elbowPoint,
  parseNpy,
  rareCommonSplit,
  readCountsFile,
  smoothedProbabilities,
} from '../src/analysis/frequency.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'plateau-freq-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Dtype = '<i4' | '<u4' | '<i8' | '<u8' | '<f4' | '<f8';

/** Builds an .npy file the way numpy does (header padded to a multiple of 64 bytes, ending in '\n'). */
function npyBytes(
  values: number[],
  dtype: string,
  opts: { version?: 1 | 2 | 3; header?: string; dataBytes?: number; magic?: number[] } = {},
): Uint8Array {
  const version = opts.version ?? 1;
  const dict = opts.header ?? `{'descr': '${dtype}', 'fortran_order': False, 'shape': (${values.length},), }`;
  const pre = version === 1 ? 10 : 12;
  const total = Math.ceil((pre + dict.length + 1) / 64) * 64;
  const header = dict + ' '.repeat(total - pre - dict.length - 1) + '\n';
  const size = dtype.endsWith('8') ? 8 : 4;
  const data = new Uint8Array(opts.dataBytes ?? values.length * size);
  const dv = new DataView(data.buffer);
  values.forEach((v, i) => {
    if ((i + 1) * size > data.length) return;
    if (dtype === '<i4') dv.setInt32(i * size, v, true);
    else if (dtype === '<u4') dv.setUint32(i * size, v, true);
    else if (dtype === '<i8') dv.setBigInt64(i * size, BigInt(v), true);
    else if (dtype === '<u8') dv.setBigUint64(i * size, BigInt(v), true);
    else if (dtype === '<f4') dv.setFloat32(i * size, v, true);
    else if (dtype === '<f8') dv.setFloat64(i * size, v, true);
  });
  const out = new Uint8Array(total + data.length);
  out.set(opts.magic ?? [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59], 0);
  out[6] = version;
  out[7] = 0;
  const hv = new DataView(out.buffer);
  if (version === 1) hv.setUint16(8, header.length, true);
  else hv.setUint32(8, header.length, true);
  out.set(new TextEncoder().encode(header), pre);
  out.set(data, total);
  return out;
}

async function writeTemp(name: string, bytes: Uint8Array | string): Promise<string> {
  const p = path.join(dir, name);
  await writeFile(p, bytes);
  return p;
}

describe('counting and smoothing', () => {
  it('counts unigrams over rows and rejects out-of-range ids', () => {
    const counts = countUnigrams([[0, 1, 1], new Uint16Array([2, 1])], 4);
    expect(Array.from(counts)).toEqual([1, 3, 1, 0]);
    expect(() => countUnigrams([[0, 4]], 4)).toThrow(/token id 4 at row 0, position 1/);
  });

  it('add-one smoothing gives (c+1)/Σ(c+1)', () => {
    const p = smoothedProbabilities([1, 3, 1, 0]);
    expect(Array.from(p)).toEqual([2 / 9, 4 / 9, 2 / 9, 1 / 9]);
  });
});

describe('readCountsFile: .npy', () => {
  const values = [0, 5, 123456, 7];
  for (const dtype of ['<i4', '<u4', '<i8', '<u8', '<f4', '<f8'] as Dtype[]) {
    it(`reads ${dtype}`, async () => {
      const p = await writeTemp(`c${dtype.slice(1)}.npy`, npyBytes(values, dtype));
      expect(Array.from(await readCountsFile(p, 4))).toEqual(values);
    });
  }

  it('reads format versions 2.0 and 3.0', async () => {
    for (const version of [2, 3] as const) {
      const p = await writeTemp(`v${version}.npy`, npyBytes([1, 2, 3], '<f8', { version }));
      expect(Array.from(await readCountsFile(p))).toEqual([1, 2, 3]);
    }
  });

  it('preserves large int64 counts exactly', () => {
    const big = 2 ** 40 + 3;
    expect(parseNpy(npyBytes([big], '<i8'), 'big.npy')[0]).toBe(big);
  });

  const malformed: [string, Uint8Array, RegExp][] = [
    ['bad magic', npyBytes([1], '<f8', { magic: [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x5a] }), /magic/],
    ['big-endian', npyBytes([1], '>f8'), /unsupported dtype '>f8'/],
    ['float16', npyBytes([1], '<f2'), /unsupported dtype '<f2'/],
    ['2-D shape', npyBytes([1, 2], '<f8', { header: "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2), }" }), /1-D array, got shape \(1, 2\)/],
    ['fortran order', npyBytes([1], '<f8', { header: "{'descr': '<f8', 'fortran_order': True, 'shape': (1,), }" }), /fortran_order True/],
    ['missing shape', npyBytes([1], '<f8', { header: "{'descr': '<f8', 'fortran_order': False, }" }), /no 'shape'/],
    ['not a dict', npyBytes([1], '<f8', { header: 'hello' }), /not a dict literal/],
    ['truncated data', npyBytes([1, 2, 3], '<f8', { dataBytes: 20 }), /data has 20 bytes but shape \(3,\) of <f8 needs 24/],
  ];
  for (const [label, bytes, err] of malformed) {
    it(`rejects ${label} with an error naming the file`, async () => {
      const p = await writeTemp(`bad-${label.replace(/\W/g, '_')}.npy`, bytes);
      await expect(readCountsFile(p)).rejects.toThrow(err);
      await expect(readCountsFile(p)).rejects.toThrow(p);
    });
  }

  it('rejects a header length that runs past the end, an unknown version, a wrong vocab and negative counts', async () => {
    const good = npyBytes([1, 2], '<f8');
    const longHeader = good.slice();
    new DataView(longHeader.buffer).setUint16(8, 60000, true);
    expect(() => parseNpy(longHeader, 'x.npy')).toThrow(/x\.npy: invalid \.npy file: header length 60000 runs past/);
    const v9 = good.slice();
    v9[6] = 9;
    expect(() => parseNpy(v9, 'x.npy')).toThrow(/unsupported format version 9/);
    const p = await writeTemp('two.npy', good);
    await expect(readCountsFile(p, 3)).rejects.toThrow(/length 2 but the vocabulary has 3/);
    const neg = await writeTemp('neg.npy', npyBytes([1, -2], '<f8'));
    await expect(readCountsFile(neg)).rejects.toThrow(/count for token 1 is -2/);
  });
});

describe('readCountsFile: .json and others', () => {
  it('reads an array and an id → count object', async () => {
    const a = await writeTemp('a.json', '[3, 0, 2]');
    expect(Array.from(await readCountsFile(a, 3))).toEqual([3, 0, 2]);
    const o = await writeTemp('o.json', '{"0": 4, "3": 1}');
    expect(Array.from(await readCountsFile(o, 5))).toEqual([4, 0, 0, 1, 0]);
    expect(Array.from(await readCountsFile(o))).toEqual([4, 0, 0, 1]);
  });

  it('rejects bad JSON documents and extensions', async () => {
    await expect(readCountsFile(await writeTemp('b1.json', '{"x": 1}'))).rejects.toThrow(/key 'x' is not a token id/);
    await expect(readCountsFile(await writeTemp('b2.json', '[1, "2"]'))).rejects.toThrow(/entry 1 is "2"/);
    await expect(readCountsFile(await writeTemp('b3.json', '{"9": 1}'), 5)).rejects.toThrow(/token id 9 is outside/);
    await expect(readCountsFile(await writeTemp('b4.json', '[1,'))).rejects.toThrow(/b4\.json: invalid JSON/);
    await expect(readCountsFile(await writeTemp('b5.json', '[1, 2]'), 3)).rejects.toThrow(/length 2 but the vocabulary has 3/);
    await expect(readCountsFile(path.join(dir, 'c.txt'))).rejects.toThrow(/c\.txt: unsupported counts file extension/);
  });
});

describe('rareCommonSplit', () => {
  it('longtail_50 on a known distribution (even and odd vocabularies)', () => {
    // counts 10, 9, …, 1 at ids 0…9: median rank 5 → threshold is count 6's p.
    const p10 = smoothedProbabilities([10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
    const s10 = rareCommonSplit(p10);
    expect(s10.info.medianRank).toBe(5);
    expect(s10.info.threshold).toBe(p10[4]);
    expect(Array.from(s10.isRare)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
    expect(Array.from(s10.isCommon)).toEqual([1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    expect(s10.info.nAtThreshold).toBe(1);
    // odd V = 9, shuffled ids: the 5th largest is the median, 4 on each side.
    const counts9 = [5, 9, 1, 7, 3, 8, 2, 6, 4];
    const s9 = rareCommonSplit(smoothedProbabilities(counts9), 'longtail_50');
    expect(counts9.filter((_, i) => s9.isRare[i])).toEqual([1, 3, 2, 4]);
    expect(counts9.filter((_, i) => s9.isCommon[i])).toEqual([9, 7, 8, 6]);
  });

  it('longtail_50 treats ties at the threshold as neither and says so when rare is empty', () => {
    const s = rareCommonSplit(smoothedProbabilities([5, 3, 0, 0, 0, 0]));
    expect(s.info.nRare).toBe(0);
    expect(s.info.nAtThreshold).toBe(4);
    expect(s.info.notes.join(' ')).toMatch(/rare set is empty/);
  });

  it('quantile_band selects p between two quantiles', () => {
    const p = smoothedProbabilities([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    const s = rareCommonSplit(p, 'quantile_band', { lowQuantile: 0.25, highQuantile: 0.5 });
    expect(Array.from(s.isRare)).toEqual([0, 0, 1, 1, 1, 0, 0, 0, 0]);
    expect(Array.from(s.isCommon)).toEqual([0, 0, 0, 0, 0, 1, 1, 1, 1]);
  });
});

/** Zipf probabilities (unnormalised) with slope −1 up to `kink`, then slope −s2, continuous. */
function kinkedZipf(V: number, kink: number, s2: number): Float64Array {
  return Float64Array.from({ length: V }, (_, i) => {
    const r = i + 1;
    return r < kink ? 1 / r : (1 / kink) * (kink / r) ** s2;
  });
}

describe('elbow detection', () => {
  it('finds a planted slope change at a known rank', () => {
    // GPT-2-sized vocabulary; with stride-1 windows a clean kink raises |Δslope| over the ~W windows
    // that straddle it, so it stands out above mean + 3 sd only when W is a small share of the windows.
    const sorted = kinkedZipf(50000, 40000, 4);
    const e = elbowPoint(sorted);
    expect(e.flagged).toBe(true);
    expect(e.window).toBe(2000);
    expect(e.startRank).toBe(25001);
    expect(Math.abs(e.rank - 40000)).toBeLessThanOrEqual(20);
    expect(e.slopeBefore).toBeGreaterThan(e.slopeAfter);
    // the authors' location is about half a window before the kink
    const authors = elbowPoint(sorted, { elbowLocation: 'window-start' });
    expect(Math.abs(authors.rank - (40000 - 1000))).toBeLessThanOrEqual(20);
  });

  it('scales the window down for small vocabularies', () => {
    const e = elbowPoint(kinkedZipf(1000, 800, 4));
    expect(e.window).toBe(125); // ⌊(1000 − 500) / 4⌋
    expect(Math.abs(e.rank - 800)).toBeLessThanOrEqual(5);
    expect(() => elbowPoint(kinkedZipf(20, 15, 3))).toThrow(/too small/);
  });

  it('reports the fallback when no change is flagged', () => {
    // smoothly bending curve: slope changes are all alike, none exceeds mean + 3 sd
    const sorted = Float64Array.from({ length: 5000 }, (_, i) => Math.exp(-Math.log(i + 1) - 0.05 * Math.log(i + 1) ** 2));
    const e = elbowPoint(sorted);
    expect(e.flagged).toBe(false);
    expect(e.message).toMatch(/fell back to the largest change/);
  });

  it('elbow_band: rare between the top-X% point and the elbow', () => {
    const V = 50000;
    const sorted = kinkedZipf(V, 40000, 4);
    // shuffle ids deterministically: id = (rank index · 7919) mod V
    const p = new Float64Array(V);
    for (let i = 0; i < V; i++) p[(i * 7919) % V] = sorted[i];
    const s = rareCommonSplit(p, 'elbow_band', { topPercent: 20 });
    const e = s.info.elbow!;
    expect(e.flagged).toBe(true);
    expect(s.info.topRank).toBe(10001);
    expect(s.info.highProbability).toBe(sorted[10000]);
    expect(s.info.lowProbability).toBe(e.probability);
    expect(s.info.nRare).toBe(e.rank - 10000); // ranks 10001 … elbow
    expect(s.info.nCommon).toBe(10000);
    const s0 = rareCommonSplit(p, 'elbow_band', { topPercent: 0 });
    expect(s0.info.nCommon).toBe(0);
    expect(s0.info.nRare).toBe(e.rank);
  });
});

describe('classifyPositions', () => {
  // vocabulary of 10 tokens plus GPT-2-like specials at ids 10 (EOS/BOS) and 11 ("\n")
  const isRare = new Uint8Array(12);
  const isCommon = new Uint8Array(12);
  isRare[1] = isRare[2] = 1;
  isCommon[5] = isCommon[6] = 1;
  const split = { isRare, isCommon };
  const excluded = [10, 11];
  const row = [10, 5, 6, 1, 5, 11, 2, 7, 10, 6, 1, 5];
  //           0   1  2  3  4   5  6  7   8  9 10 11

  it('labels by target with BOS/EOS/newline and edge filters', () => {
    const [labels] = classifyPositions([row], split, { excludedTokenIds: excluded });
    expect(Array.from(labels)).toEqual([
      POSITION_EXCLUDED, // t=0 first positions
      POSITION_EXCLUDED, // t=1
      POSITION_EXCLUDED, // t=2
      POSITION_COMMON, // t=3: target 5
      POSITION_EXCLUDED, // t=4: target "\n"
      POSITION_EXCLUDED, // t=5: input "\n"
      POSITION_OTHER, // t=6: target 7
      POSITION_EXCLUDED, // t=7: target EOS
      POSITION_EXCLUDED, // t=8: input EOS
      POSITION_RARE, // t=9: target 1
      POSITION_COMMON, // t=10: target 5
      POSITION_EXCLUDED, // t=11: last position
    ]);
  });

  it('labels by input on request and honours dropFirst', () => {
    const [labels] = classifyPositions([row], split, { excludedTokenIds: excluded, by: 'input', dropFirst: 1 });
    expect(Array.from(labels)).toEqual([0, 2, 2, 1, 0, 0, 1, 0, 0, 2, 1, 0]);
  });

  it('has default exclusion lists for GPT-2 and Pythia', () => {
    expect(defaultExcludedTokenIds('gpt2')).toEqual([50256, 198]);
    expect(defaultExcludedTokenIds('pythia')).toEqual([0]);
  });
});
