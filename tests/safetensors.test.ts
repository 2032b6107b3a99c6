import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { blobSource, memorySource, openFileSource } from '../src/io/byte-source.js';
import { Checkpoint } from '../src/io/checkpoint.js';
import {
  SafetensorsFile,
  type TensorToWrite,
  bf16BitsToF32,
  encodeSafetensors,
  f16BitsToF32,
  f32ToBf16Bits,
  f32ToF16Bits,
  writeSafetensors,
} from '../src/io/safetensors.js';

const testDir = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(testDir, '../../shared/fixtures');
const fixture = (...parts: string[]) => path.join(fixtures, ...parts);

function openFixture(...parts: string[]): Promise<SafetensorsFile> {
  return SafetensorsFile.openPath(fixture(...parts));
}

function openBytes(bytes: Uint8Array, name = 'test.safetensors', maxHeaderBytes?: number) {
  return SafetensorsFile.open(memorySource(bytes, name), { maxHeaderBytes });
}

/** A hand-built file: 8-byte length (overridable), header text, data bytes. */
function rawFile(header: unknown, dataLength: number, opts: { declaredLength?: bigint } = {}): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLength);
  new DataView(out.buffer).setBigUint64(0, opts.declaredLength ?? BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** Byte equality without vitest's slow element-wise diffing of large arrays. */
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.compare(a, b) === 0;

let tempRoot: string;
beforeAll(async () => {
  tempRoot = await mkdtemp(path.join(tmpdir(), 'plateau-safetensors-'));
});
afterAll(async () => {
  await rm(tempRoot, { recursive: true, force: true });
});
let tempCount = 0;
async function tempDir(): Promise<string> {
  const dir = path.join(tempRoot, `case-${tempCount++}`);
  await mkdir(dir);
  return dir;
}

// ---------------------------------------------------------------------------

const sampleTensors = (): TensorToWrite[] => [
  { name: 'f32', dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2.5, 3e-8, Infinity, -0, 65504]) },
  { name: 'f16', dtype: 'F16', shape: [4], data: f32ToF16Bits(new Float32Array([1, -2, 0.5, 65504])) },
  { name: 'i64', dtype: 'I64', shape: [2, 2], data: new BigInt64Array([0n, -1n, 2147483647n, -2147483648n]) },
  { name: 'i64-from-i32', dtype: 'I64', shape: [3], data: new Int32Array([5, -6, 7]) },
  { name: 'i32', dtype: 'I32', shape: [3], data: new Int32Array([-7, 0, 123456789]) },
  { name: 'scalar', dtype: 'F32', shape: [], data: new Float32Array([-1e9]) },
  { name: 'empty', dtype: 'F32', shape: [0, 5], data: new Float32Array(0) },
];

describe('encode / open round trip', () => {
  it('reads back every writable dtype, a 0-d tensor and an empty tensor', async () => {
    const bytes = encodeSafetensors(sampleTensors(), { format: 'pt', note: 'hello' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);

    const file = await openBytes(bytes);
    expect(file.metadata).toEqual({ format: 'pt', note: 'hello' });
    expect([...file.tensors.keys()]).toEqual(sampleTensors().map((t) => t.name));

    expect(file.info('f32')).toMatchObject({ dtype: 'F32', shape: [2, 3], byteOffset: 8 + headerLength, byteLength: 24 });
    expect(Array.from(await file.readF32('f32'))).toEqual([1, -2.5, Math.fround(3e-8), Infinity, -0, 65504]);
    expect(Array.from(await file.readF32('f16'))).toEqual([1, -2, 0.5, 65504]);
    expect(await file.readF16Bits('f16')).toEqual(f32ToF16Bits(new Float32Array([1, -2, 0.5, 65504])));
    expect(Array.from(await file.readInt32('i64'))).toEqual([0, -1, 2147483647, -2147483648]);
    expect(Array.from(await file.readInt32('i64-from-i32'))).toEqual([5, -6, 7]);
    expect(Array.from(await file.readInt32('i32'))).toEqual([-7, 0, 123456789]);

    expect(file.info('scalar')).toMatchObject({ shape: [], byteLength: 4 });
    expect(Array.from(await file.readF32('scalar'))).toEqual([Math.fround(-1e9)]);
    expect(file.info('empty')).toMatchObject({ shape: [0, 5], byteLength: 0 });
    expect((await file.readF32('empty')).length).toBe(0);

    const raw = await file.readRaw('i64');
    expect(Array.from(new BigInt64Array(raw.buffer))).toEqual([0n, -1n, 2147483647n, -2147483648n]);
  });

  it('writes exactly the typed array bytes, also from subarray views', async () => {
    const backing = new Float32Array([9, 1, 2, 3, 9]);
    const file = await openBytes(
      encodeSafetensors([{ name: 'view', dtype: 'F32', shape: [3], data: backing.subarray(1, 4) }]),
    );
    expect(Array.from(await file.readF32('view'))).toEqual([1, 2, 3]);
  });

  it('reads BF16, F64, I16, I8, U8 and BOOL tensors written by others', async () => {
    const f64 = new Float64Array([1.5, -1e300, 1 / 3]);
    const bf16 = new Uint16Array([0x3f80, 0xc000, 0x7f80]); // 1, -2, inf
    const i16 = new Int16Array([-32768, 5]);
    const i8 = new Int8Array([-128, 127]);
    const u8 = new Uint8Array([0, 255]);
    const bool = new Uint8Array([1, 0, 1]);
    const parts: [string, string, number[], ArrayBufferView][] = [
      ['f64', 'F64', [3], f64], ['bf16', 'BF16', [3], bf16], ['i16', 'I16', [2], i16],
      ['i8', 'I8', [2], i8], ['u8', 'U8', [2], u8], ['bool', 'BOOL', [3], bool],
    ];
    const header: Record<string, unknown> = {};
    let offset = 0;
    for (const [name, dtype, shape, data] of parts) {
      header[name] = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
      offset += data.byteLength;
    }
    const bytes = rawFile(header, offset);
    let at = bytes.length - offset;
    for (const [, , , data] of parts) {
      bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), at);
      at += data.byteLength;
    }
    const file = await openBytes(bytes);
    expect(Array.from(await file.readF32('f64'))).toEqual([1.5, -Infinity, Math.fround(1 / 3)]);
    expect(Array.from(await file.readF32('bf16'))).toEqual([1, -2, Infinity]);
    expect(Array.from(await file.readInt32('i16'))).toEqual([-32768, 5]);
    expect(Array.from(await file.readInt32('i8'))).toEqual([-128, 127]);
    expect(Array.from(await file.readInt32('u8'))).toEqual([0, 255]);
    expect(Array.from(await file.readInt32('bool'))).toEqual([1, 0, 1]);
    await expect(file.readF32('i8')).rejects.toThrow(/test\.safetensors: tensor "i8": readF32 cannot read dtype I8/);
    await expect(file.readF16Bits('bf16')).rejects.toThrow(/tensor "bf16".*expected F16/);
    await expect(file.readInt32('f64')).rejects.toThrow(/tensor "f64".*readInt32/);
  });

  it('rejects I64 values that do not fit in int32', async () => {
    const file = await openBytes(
      encodeSafetensors([{ name: 'ids', dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2n ** 31n]) }]),
      'ids.safetensors',
    );
    await expect(file.readInt32('ids')).rejects.toThrow(/ids\.safetensors: tensor "ids": I64 value 2147483648 at element 1/);
  });

  it('names the file and the tensor when a tensor is absent', async () => {
    const file = await openBytes(encodeSafetensors(sampleTensors()), 'here.safetensors');
    expect(file.has('nope')).toBe(false);
    expect(() => file.info('nope')).toThrow(/here\.safetensors: no tensor named "nope"/);
  });

  it('validates what it is asked to write', () => {
    const write = (t: TensorToWrite) => () => encodeSafetensors([t]);
    expect(write({ name: 'a', dtype: 'F32', shape: [3], data: new Float32Array(2) })).toThrow(/"a".*3 elements but data has 2/);
    expect(write({ name: 'a', dtype: 'F16', shape: [2], data: new Float32Array(2) })).toThrow(/"a".*Uint16Array/);
    expect(write({ name: 'a', dtype: 'F32', shape: [-1], data: new Float32Array(0) })).toThrow(/"a".*shape/);
    const dup = { name: 'a', dtype: 'F32' as const, shape: [1], data: new Float32Array(1) };
    expect(() => encodeSafetensors([dup, dup])).toThrow(/"a" appears twice/);
  });

  it('reads through a Blob source like a browser', async () => {
    const bytes = encodeSafetensors(sampleTensors());
    const file = await SafetensorsFile.open(blobSource(new Blob([bytes]), 'picked.safetensors'));
    expect(Array.from(await file.readInt32('i32'))).toEqual([-7, 0, 123456789]);
  });
});

// ---------------------------------------------------------------------------

/** Independent reference: the value of a half bit pattern from its definition. */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

const isHalfNaN = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;

describe('half-precision conversion', () => {
  const allBits = Uint16Array.from({ length: 65536 }, (_, i) => i);

  it('widens all 65536 half values exactly (subnormals, ±0, ±inf, NaN)', () => {
    const widened = f16BitsToF32(allBits);
    const wrong = [...allBits].filter((h) =>
      isHalfNaN(h) ? !Number.isNaN(widened[h]) : !Object.is(widened[h], halfValue(h)),
    );
    expect(wrong).toEqual([]);
    expect(widened[0x0001]).toBe(2 ** -24); // smallest subnormal
    expect(widened[0x03ff]).toBe(1023 * 2 ** -24); // largest subnormal
    expect(widened[0x7bff]).toBe(65504);
    expect(widened[0xfc00]).toBe(-Infinity);
  });

  it('round-trips all 65536 half values (NaN stays NaN)', () => {
    const back = f32ToF16Bits(f16BitsToF32(allBits));
    const wrong = [...allBits].filter((h) =>
      isHalfNaN(h) ? !isHalfNaN(back[h]) || (back[h] & 0x8000) !== (h & 0x8000) : back[h] !== h,
    );
    expect(wrong).toEqual([]);
  });

  it('rounds to nearest, ties to even, overflowing to infinity', () => {
    const cases: [number, number][] = [
      [1 + 2 ** -11, 0x3c00], // tie between 1 and next: even (1)
      [1 + 3 * 2 ** -11, 0x3c02], // tie between odd and even: up to even
      [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
      [65519, 0x7bff], // below the midpoint to 65536 → max half
      [65520, 0x7c00], // the tie rounds to even = infinity
      [1e10, 0x7c00],
      [-1e10, 0xfc00],
      [2 ** -25, 0x0000], // half of the smallest subnormal: tie to even (0)
      [2 ** -25 + 2 ** -40, 0x0001],
      [3 * 2 ** -25, 0x0002], // tie between subnormals 1 and 2: even
      [2 ** -26, 0x0000],
      [1e-45, 0x0000], // f32 subnormal
      [-0, 0x8000],
      [2 ** -14 - 2 ** -25, 0x0400], // rounds up from the largest subnormal into the smallest normal
    ];
    const bits = f32ToF16Bits(new Float32Array(cases.map(([x]) => x)));
    cases.forEach(([x, expected], i) => expect([x, bits[i]]).toEqual([x, expected]));
    expect(isHalfNaN(f32ToF16Bits(new Float32Array([NaN]))[0])).toBe(true);
  });

  it('picks the nearest half for random floats', () => {
    const widened = f16BitsToF32(allBits);
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const xs = Float32Array.from({ length: 20000 }, () => (random() - 0.5) * 2 ** (random() * 40 - 24));
    const bits = f32ToF16Bits(xs);
    const sameSignFinite = (a: number, b: number) => b >= 0 && b <= 0xffff && (b & 0x7fff) < 0x7c00 && ((a ^ b) & 0x8000) === 0;
    const notNearest = [...xs.keys()].filter((i) => {
      const h = bits[i];
      const error = Math.abs(widened[h] - xs[i]);
      return [h - 1, h + 1].some((n) => sameSignFinite(h, n) && Math.abs(widened[n] - xs[i]) < error);
    });
    expect(notNearest).toEqual([]);
  });

  it('converts bfloat16 both ways with round-to-nearest-even', () => {
    expect(Array.from(bf16BitsToF32(new Uint16Array([0x3f80, 0xbf80, 0x0001, 0xff80])))).toEqual([1, -1, 2 ** -133, -Infinity]);
    const bits = f32ToBf16Bits(new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38, NaN]));
    expect(Array.from(bits.subarray(0, 4))).toEqual([0x3f80, 0x3f80, 0x3f82, 0x7f80]);
    expect(Number.isNaN(bf16BitsToF32(bits.subarray(4))[0])).toBe(true);
  });
});

// ---------------------------------------------------------------------------

describe('real fixtures', () => {
  it('reads gpt2-tiny (F32)', async () => {
    const file = await openFixture('gpt2-tiny', 'model.safetensors');
    try {
      expect(file.metadata.format).toBe('pt');
      expect(file.info('wte.weight')).toMatchObject({ dtype: 'F32', shape: [1000, 64], byteLength: 1000 * 64 * 4 });
      const wte = await file.readF32('wte.weight');
      expect(wte.length).toBe(64000);
      expect(wte.every(Number.isFinite)).toBe(true);
      const mask = await file.readF32('h.0.attn.bias');
      expect(mask[0 * 64 + 1]).toBe(0);
      expect(mask[1 * 64 + 0]).toBe(1);
    } finally {
      await file.close();
    }
  });

  it('reads pythia-tiny F16 weights, the BOOL mask and the 0-d masked_bias', async () => {
    const file = await openFixture('pythia-tiny', 'model.safetensors');
    try {
      const info = file.info('gpt_neox.embed_in.weight');
      expect(info).toMatchObject({ dtype: 'F16', shape: [1000, 64] });
      expect(info.byteOffset % 2).toBe(0);
      const bits = await file.readF16Bits('gpt_neox.embed_in.weight');
      expect(bits.length).toBe(64000);
      const widened = await file.readF32('gpt_neox.embed_in.weight');
      expect(sameBytes(new Uint8Array(widened.buffer), new Uint8Array(f16BitsToF32(bits).buffer))).toBe(true);
      const ln = await file.readF32('gpt_neox.final_layer_norm.weight');
      expect(ln.length).toBe(64);
      await expect(file.readF16Bits('gpt_neox.layers.0.attention.masked_bias')).rejects.toThrow(/masked_bias.*expected F16/);

      expect(file.info('gpt_neox.layers.0.attention.bias')).toMatchObject({ dtype: 'BOOL', shape: [1, 1, 64, 64] });
      const causal = await file.readInt32('gpt_neox.layers.0.attention.bias');
      const lowerTriangle = Int32Array.from({ length: 64 * 64 }, (_, i) => (i % 64 <= Math.floor(i / 64) ? 1 : 0));
      expect(sameBytes(new Uint8Array(causal.buffer), new Uint8Array(lowerTriangle.buffer))).toBe(true);

      expect(file.info('gpt_neox.layers.0.attention.masked_bias')).toMatchObject({ dtype: 'F32', shape: [] });
      expect(Array.from(await file.readF32('gpt_neox.layers.0.attention.masked_bias'))).toEqual([-1e9]);
    } finally {
      await file.close();
    }
  });

  it('reads reference.safetensors input_ids (I64) and metadata', async () => {
    const file = await openFixture('gpt2-tiny', 'reference.safetensors');
    try {
      expect(file.info('input_ids')).toMatchObject({ dtype: 'I64', shape: [4, 32] });
      const ids = await file.readInt32('input_ids');
      expect(ids.length).toBe(128);
      expect(ids.every((id) => id >= 0 && id < 1000)).toBe(true);
      expect(file.metadata['sweep.heads.bos.watch']).toBe('L2:0,1,2,3,4,5,6,7');
    } finally {
      await file.close();
    }
  });
});

// ---------------------------------------------------------------------------

describe('malformed files are rejected with errors naming the file', () => {
  const f32 = (begin: number, end: number, shape = [(end - begin) / 4]) => ({ dtype: 'F32', shape, data_offsets: [begin, end] });
  const reject = (bytes: Uint8Array, pattern: RegExp, maxHeaderBytes?: number) =>
    expect(openBytes(bytes, 'bad.safetensors', maxHeaderBytes)).rejects.toThrow(pattern);

  it('file shorter than 8 bytes', () => reject(new Uint8Array(5), /bad\.safetensors: file is 5 bytes/));

  it('truncated file', async () => {
    const bytes = encodeSafetensors(sampleTensors());
    await reject(bytes.subarray(0, bytes.length - 3), /bad\.safetensors: tensor "scalar": data_offsets \[\d+, \d+\] extend beyond/);
    await reject(bytes.subarray(0, 12), /bad\.safetensors: header too long/);
  });

  it('header too long', async () => {
    await reject(rawFile({}, 0, { declaredLength: 1000n }), /bad\.safetensors: header too long: 1000 bytes, but only 2 bytes/);
    await reject(rawFile({}, 0, { declaredLength: 2n ** 63n }), /bad\.safetensors: header too long/);
    await reject(rawFile({ a: f32(0, 4) }, 4), /bad\.safetensors: header too long: \d+ bytes, more than the limit of 16/, 16);
  });

  it('non-JSON, non-object or non-UTF-8 header', async () => {
    await reject(rawFile('{"a": ', 0), /bad\.safetensors: header is not valid JSON/);
    await reject(rawFile('[1, 2]', 0), /bad\.safetensors: header must be a JSON object, got \[1,2\]/);
    const invalidUtf8 = rawFile('{"x":1}', 0);
    invalidUtf8[10] = 0xff;
    await reject(invalidUtf8, /bad\.safetensors: header is not valid UTF-8/);
  });

  it('bad __metadata__', async () => {
    await reject(rawFile({ __metadata__: { n: 1 } }, 0), /bad\.safetensors: __metadata__\["n"\] must be a string/);
    await reject(rawFile({ __metadata__: 'x' }, 0), /bad\.safetensors: __metadata__ must be an object/);
  });

  it('bad dtype', () =>
    reject(rawFile({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1),
      /bad\.safetensors: tensor "w": unknown dtype "F8_E4M3"; expected one of F64, F32/));

  it('bad shape or data_offsets', async () => {
    await reject(rawFile({ w: f32(0, 4, [-1]) }, 4), /tensor "w": shape must be an array of non-negative integers/);
    await reject(rawFile({ w: f32(0, 4, [1.5] as number[]) }, 4), /tensor "w": shape must be/);
    await reject(rawFile({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, 4), /tensor "w": data_offsets must be \[begin, end\]/);
    await reject(rawFile({ w: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, 4), /tensor "w": data_offsets \[4, 0\] have begin > end/);
    await reject(rawFile({ w: 7 }, 0), /bad\.safetensors: tensor "w": entry must be an object/);
  });

  it('shape × dtype size differs from the byte range', () =>
    reject(rawFile({ w: f32(0, 8, [3]) }, 8),
      /bad\.safetensors: tensor "w": data_offsets \[0, 8\] span 8 bytes, but shape \[3\] of F32 needs 12 bytes/));

  it('range beyond the file', () =>
    reject(rawFile({ a: f32(0, 8), w: f32(8, 16) }, 12),
      /bad\.safetensors: tensor "w": data_offsets \[8, 16\] extend beyond the data section of 12 bytes/));

  it('overlapping ranges', async () => {
    await reject(rawFile({ a: f32(0, 8), b: f32(4, 12) }, 12),
      /bad\.safetensors: tensors "a" \[0, 8\] and "b" \[4, 12\] have overlapping data_offsets/);
    // Overlap with an earlier, longer tensor that is not the immediate predecessor.
    await reject(rawFile({ big: f32(0, 40), small: f32(4, 8), late: f32(36, 44) }, 44), /"big" \[0, 40\] and "small"/);
    await reject(rawFile({ big: f32(0, 40), late: f32(36, 44) }, 44), /"big" \[0, 40\] and "late" \[36, 44\]/);
  });

  it('accepts empty tensors anywhere and gaps between tensors', async () => {
    const file = await openBytes(rawFile({ a: f32(0, 8), e: f32(4, 4, [0, 3]), b: f32(12, 16) }, 16));
    expect([...file.tensors.keys()]).toEqual(['a', 'e', 'b']);
  });

  it('short read when the file is truncated after opening', async () => {
    const filePath = path.join(await tempDir(), 'shrinks.safetensors');
    await writeFile(filePath, encodeSafetensors(sampleTensors()));
    const file = await SafetensorsFile.open(await openFileSource(filePath));
    try {
      await truncate(filePath, file.info('f16').byteOffset + 2);
      await expect(file.readRaw('i32')).rejects.toThrow(/shrinks\.safetensors: short read: expected 12 bytes at offset \d+ but only 0/);
      await expect(file.readRaw('f16')).rejects.toThrow(/shrinks\.safetensors: short read: expected 8 bytes at offset \d+ but only 2/);
    } finally {
      await file.close();
    }
  });
});

// ---------------------------------------------------------------------------

describe('writeSafetensors', () => {
  it('writes atomically to a file that reads back identically', async () => {
    const dir = await tempDir();
    const filePath = path.join(dir, 'out.safetensors');
    await writeSafetensors(filePath, sampleTensors(), { format: 'pt' });
    expect(await readdir(dir)).toEqual(['out.safetensors']);
    expect(sameBytes(await readFile(filePath), encodeSafetensors(sampleTensors(), { format: 'pt' }))).toBe(true);

    const file = await SafetensorsFile.openPath(filePath);
    try {
      expect(file.metadata).toEqual({ format: 'pt' });
      expect(Array.from(await file.readF32('f16'))).toEqual([1, -2, 0.5, 65504]);
      expect(Array.from(await file.readInt32('i64'))).toEqual([0, -1, 2147483647, -2147483648]);
    } finally {
      await file.close();
    }
  });

  it('openPath closes the file again when the header is invalid', async () => {
    const filePath = path.join(await tempDir(), 'bad.safetensors');
    await writeFile(filePath, rawFile('not json', 0));
    await expect(SafetensorsFile.openPath(filePath)).rejects.toThrow(/bad\.safetensors: header is not valid JSON/);
    await rm(filePath); // would fail on Windows if the handle had leaked
  });

  it('leaves no file behind when validation fails', async () => {
    const dir = await tempDir();
    const bad: TensorToWrite = { name: 'x', dtype: 'F32', shape: [2], data: new Float32Array(1) };
    await expect(writeSafetensors(path.join(dir, 'x.safetensors'), [bad])).rejects.toThrow(/"x"/);
    expect(await readdir(dir)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------

describe('Checkpoint', () => {
  const singlePath = fixture('gpt2-tiny', 'model.safetensors');
  const shardNames = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];

  /** Splits gpt2-tiny over two shards plus an index in a fresh folder. */
  async function writeShardedCopy(): Promise<{ dir: string; weightMap: Record<string, string> }> {
    const dir = await tempDir();
    const single = await SafetensorsFile.openPath(singlePath);
    const names = [...single.tensors.keys()];
    const half = Math.ceil(names.length / 2);
    const weightMap: Record<string, string> = {};
    for (const [i, group] of [names.slice(0, half), names.slice(half)].entries()) {
      const tensors: TensorToWrite[] = [];
      for (const name of group) {
        const { shape } = single.info(name);
        tensors.push({ name, dtype: 'F32', shape, data: await single.readF32(name) });
        weightMap[name] = shardNames[i];
      }
      await writeSafetensors(path.join(dir, shardNames[i]), tensors, { format: 'pt' });
    }
    await single.close();
    await writeIndex(dir, weightMap);
    return { dir, weightMap };
  }

  const writeIndex = (dir: string, weightMap: Record<string, string>) =>
    writeFile(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));

  it('opens a folder with model.safetensors', async () => {
    const checkpoint = await Checkpoint.openDir(fixture('gpt2-tiny'));
    try {
      expect(checkpoint.names()).toContain('wte.weight');
      expect(checkpoint.info('wte.weight').shape).toEqual([1000, 64]);
      expect(() => checkpoint.info('lm_head.weight')).toThrow(/gpt2-tiny: checkpoint has no tensor named "lm_head.weight"/);
    } finally {
      await checkpoint.close();
    }
  });

  it('opens sharded checkpoints with the same bytes as the single file', async () => {
    const { dir } = await writeShardedCopy();
    const sharded = await Checkpoint.openDir(dir);
    const single = await Checkpoint.openDir(fixture('gpt2-tiny'));
    try {
      expect(sharded.files.length).toBe(2);
      expect(sharded.names().sort()).toEqual(single.names().sort());
      for (const name of single.names()) {
        expect(sharded.info(name).shape).toEqual(single.info(name).shape);
        expect(sameBytes(await sharded.readRaw(name), await single.readRaw(name)), name).toBe(true);
      }
    } finally {
      await Promise.all([sharded.close(), single.close()]);
    }
  });

  it('opens shards given as byte sources plus index JSON (browser path)', async () => {
    const { dir } = await writeShardedCopy();
    const sources = await Promise.all(
      shardNames.map(async (name) => memorySource(new Uint8Array(await readFile(path.join(dir, name))), `picked/${name}`)),
    );
    const index = await readFile(path.join(dir, 'model.safetensors.index.json'), 'utf8');
    const checkpoint = await Checkpoint.openSources(sources, index);
    expect(checkpoint.info('h.2.ln_1.weight').shape).toEqual([64]);
    await checkpoint.close();

    await expect(Checkpoint.openSources(sources.slice(0, 1), index)).rejects.toThrow(
      /shard "model-00002-of-00002.safetensors" named in weight_map is missing/,
    );
  });

  it('reports a missing shard naming the shard and the folder', async () => {
    const { dir } = await writeShardedCopy();
    await rm(path.join(dir, shardNames[1]));
    const escaped = dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await expect(Checkpoint.openDir(dir)).rejects.toThrow(
      new RegExp(`shard "model-00002-of-00002.safetensors" named in weight_map does not exist in folder ${escaped}`),
    );
  });

  it('rejects a weight_map entry missing from its shard', async () => {
    const { dir, weightMap } = await writeShardedCopy();
    const wrongShard = weightMap['wte.weight'] === shardNames[0] ? shardNames[1] : shardNames[0];
    await writeIndex(dir, { ...weightMap, 'wte.weight': wrongShard });
    await expect(Checkpoint.openDir(dir)).rejects.toThrow(/weight_map puts tensor "wte.weight" in shard "model-0000\d-of-00002.safetensors", but .* does not contain it/);
  });

  it('rejects the same tensor in two shards', async () => {
    const { dir } = await writeShardedCopy();
    const extra: TensorToWrite = { name: 'wte.weight', dtype: 'F32', shape: [1], data: new Float32Array(1) };
    const other: TensorToWrite = { name: 'only-here', dtype: 'F32', shape: [1], data: new Float32Array(1) };
    await writeSafetensors(path.join(dir, 'model-00003.safetensors'), [extra, other]);
    const index = JSON.parse(await readFile(path.join(dir, 'model.safetensors.index.json'), 'utf8'));
    await writeIndex(dir, { ...index.weight_map, 'only-here': 'model-00003.safetensors' });
    await expect(Checkpoint.openDir(dir)).rejects.toThrow(/tensor "wte.weight" appears in two files: .*model-0000\d-of-00002.safetensors and .*model-00003.safetensors/);
  });

  it('rejects malformed index files and folders without a checkpoint', async () => {
    const dir = await tempDir();
    await expect(Checkpoint.openDir(dir)).rejects.toThrow(/no model.safetensors or model.safetensors.index.json \(with its shards\)$/);
    // PyTorch pickles instead (e.g. a Pythia step revision): say how to convert them.
    await writeFile(path.join(dir, 'pytorch_model.bin'), 'not read');
    await expect(Checkpoint.openDir(dir)).rejects.toThrow(/found PyTorch pickle weights \(pytorch_model.bin\), which Plateau does not read\. Convert them once.*torch\.load\('pytorch_model.bin'.*save_file/);
    await rm(path.join(dir, 'pytorch_model.bin'));
    await writeFile(path.join(dir, 'model.safetensors.index.json'), '{"weight_map": []}');
    await expect(Checkpoint.openDir(dir)).rejects.toThrow(/model.safetensors.index.json: expected a JSON object with a "weight_map" object/);
    await writeIndex(dir, { a: '../outside.safetensors' });
    await expect(Checkpoint.openDir(dir)).rejects.toThrow(/shard "..\/outside.safetensors" must be a file name inside the checkpoint folder/);
    await writeIndex(dir, { a: 5 as unknown as string });
    await expect(Checkpoint.openDir(dir)).rejects.toThrow(/weight_map\["a"\] must be a shard file name/);
  });
});
