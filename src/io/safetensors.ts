/**
 * Strict, streaming safetensors reader and writer.
 *
 * Why our own reader: the npm `safetensors` package (0.0.1) is a 30-line
 * browser reader with no validation, no dtype handling and no streaming; it
 * wants the whole file as one ArrayBuffer. We need per-tensor positional reads
 * so that a 6.4 GB GPT-2 XL checkpoint loads on a 24 GiB machine: Node's
 * fs.readFile refuses files over 2 GiB, and browsers cannot hold one
 * ArrayBuffer that big. Here only the header is read up front; each tensor is
 * read on demand through a ByteSource (file handle or Blob slices).
 *
 * Format: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {..} }`,
 * then the data section; data_offsets are relative to the data section.
 *
 * Every malformed input is rejected with an Error that names the file
 * (source.name), the tensor where relevant, and what was expected.
 * Gaps between tensors are tolerated; overlaps are not.
 */

import type { FileHandle } from 'node:fs/promises';
import { type ByteSource, importNodeFs, openFileSource } from './byte-source.js';

export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Readonly<Record<DType, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute offset of the tensor's first byte in the file. */
  byteOffset: number;
  byteLength: number;
}

export interface OpenOptions {
  /** Largest accepted JSON header, in bytes (default 100 MB, as in the reference implementation). */
  maxHeaderBytes?: number;
}

export const DEFAULT_MAX_HEADER_BYTES = 100_000_000;
const HEADER_LENGTH_BYTES = 8;
const METADATA_KEY = '__metadata__';

assertLittleEndianHost();

// ---------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly tensors: Map<string, TensorInfo>,
    readonly metadata: Record<string, string>,
  ) {}

  /** Reads and validates the header. On failure the source stays open: the caller owns it. */
  static async open(source: ByteSource, opts: OpenOptions = {}): Promise<SafetensorsFile> {
    const header = await readHeader(source, opts.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES);
    return new SafetensorsFile(source, header.tensors, header.metadata);
  }

  /** Node: opens a file by path; the file handle is closed again if the header is invalid. */
  static async openPath(path: string, opts: OpenOptions = {}): Promise<SafetensorsFile> {
    const source = await openFileSource(path);
    try {
      return await SafetensorsFile.open(source, opts);
    } catch (err) {
      await source.close();
      throw err;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new Error(`${this.source.name}: no tensor named "${name}"`);
    return info;
  }

  /** The tensor's exact bytes, in a fresh buffer starting at byteOffset 0. */
  async readRaw(name: string): Promise<Uint8Array<ArrayBuffer>> {
    const info = this.info(name);
    return ownedBytes(await this.source.read(info.byteOffset, info.byteLength));
  }

  /** F32 as stored; F16 and BF16 converted exactly; F64 rounded to nearest f32. */
  async readF32(name: string): Promise<Float32Array<ArrayBuffer>> {
    const info = this.info(name);
    const bytes = await this.readRaw(name);
    switch (info.dtype) {
      case 'F32': return viewAs(bytes, Float32Array);
      case 'F16': return f16BitsToF32(viewAs(bytes, Uint16Array));
      case 'BF16': return bf16BitsToF32(viewAs(bytes, Uint16Array));
      case 'F64': return Float32Array.from(viewAs(bytes, Float64Array));
      default: throw this.dtypeError(info, 'readF32', 'F32, F16, BF16 or F64');
    }
  }

  /** The raw IEEE half bits of an F16 tensor. */
  async readF16Bits(name: string): Promise<Uint16Array<ArrayBuffer>> {
    const info = this.info(name);
    if (info.dtype !== 'F16') throw this.dtypeError(info, 'readF16Bits', 'F16');
    return viewAs(await this.readRaw(name), Uint16Array);
  }

  /** Integer and boolean tensors as int32; I64 values outside the int32 range are an error. */
  async readInt32(name: string): Promise<Int32Array<ArrayBuffer>> {
    const info = this.info(name);
    const bytes = await this.readRaw(name);
    switch (info.dtype) {
      case 'I64': return this.narrowInt64(info, viewAs(bytes, Int32Array));
      case 'I32': return viewAs(bytes, Int32Array);
      case 'I16': return Int32Array.from(viewAs(bytes, Int16Array));
      case 'I8': return Int32Array.from(viewAs(bytes, Int8Array));
      case 'U8': return Int32Array.from(bytes);
      case 'BOOL': return this.boolsToInt32(info, bytes);
      default: throw this.dtypeError(info, 'readInt32', 'I64, I32, I16, I8, U8 or BOOL');
    }
  }

  close(): Promise<void> {
    return this.source.close();
  }

  /** `pairs` holds each int64 as (low, high) int32 words; it fits int32 iff high is low's sign extension. */
  private narrowInt64(info: TensorInfo, pairs: Int32Array): Int32Array<ArrayBuffer> {
    const out = new Int32Array(pairs.length / 2);
    for (let i = 0; i < out.length; i++) {
      const low = pairs[2 * i];
      const high = pairs[2 * i + 1];
      if (high !== low >> 31) {
        const value = (BigInt(high) << 32n) | BigInt(low >>> 0);
        throw new Error(
          `${this.source.name}: tensor "${info.name}": I64 value ${value} at element ${i} does not fit in int32`,
        );
      }
      out[i] = low;
    }
    return out;
  }

  private boolsToInt32(info: TensorInfo, bytes: Uint8Array): Int32Array<ArrayBuffer> {
    const out = new Int32Array(bytes.length);
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] > 1) {
        throw new Error(
          `${this.source.name}: tensor "${info.name}": BOOL byte ${bytes[i]} at element ${i}; expected 0 or 1`,
        );
      }
      out[i] = bytes[i];
    }
    return out;
  }

  private dtypeError(info: TensorInfo, method: string, expected: string): Error {
    return new Error(
      `${this.source.name}: tensor "${info.name}": ${method} cannot read dtype ${info.dtype}; expected ${expected}`,
    );
  }
}

interface ParsedHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

async function readHeader(source: ByteSource, maxHeaderBytes: number): Promise<ParsedHeader> {
  const fail = (what: string): never => {
    throw new Error(`${source.name}: ${what}`);
  };
  if (source.size < HEADER_LENGTH_BYTES) {
    fail(`file is ${source.size} bytes; a safetensors file needs at least the 8-byte header length`);
  }
  const headerLength = await readHeaderLength(source, maxHeaderBytes);
  const json = parseHeaderJson(source.name, await source.read(HEADER_LENGTH_BYTES, headerLength));
  const dataStart = HEADER_LENGTH_BYTES + headerLength;
  const dataLength = source.size - dataStart;

  let metadata: Record<string, string> = {};
  const ranges: DataRange[] = [];
  for (const [key, value] of Object.entries(json)) {
    if (key === METADATA_KEY) {
      metadata = parseMetadata(source.name, value);
    } else {
      ranges.push(parseTensorEntry(source.name, key, value, dataLength));
    }
  }
  checkNoOverlaps(source.name, ranges);

  const tensors = new Map<string, TensorInfo>();
  for (const { name, dtype, shape, begin, end } of ranges) {
    tensors.set(name, { name, dtype, shape, byteOffset: dataStart + begin, byteLength: end - begin });
  }
  return { tensors, metadata };
}

async function readHeaderLength(source: ByteSource, maxHeaderBytes: number): Promise<number> {
  const bytes = await source.read(0, HEADER_LENGTH_BYTES);
  const length = new DataView(bytes.buffer, bytes.byteOffset, HEADER_LENGTH_BYTES).getBigUint64(0, true);
  const available = source.size - HEADER_LENGTH_BYTES;
  if (length > BigInt(maxHeaderBytes)) {
    throw new Error(`${source.name}: header too long: ${length} bytes, more than the limit of ${maxHeaderBytes}`);
  }
  if (length > BigInt(available)) {
    throw new Error(
      `${source.name}: header too long: ${length} bytes, but only ${available} bytes follow the header length`,
    );
  }
  return Number(length);
}

function parseHeaderJson(fileName: string, bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new Error(`${fileName}: header is not valid UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${fileName}: header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) {
    throw new Error(`${fileName}: header must be a JSON object, got ${describeJson(parsed)}`);
  }
  return parsed;
}

function parseMetadata(fileName: string, value: unknown): Record<string, string> {
  if (!isPlainObject(value)) {
    throw new Error(`${fileName}: ${METADATA_KEY} must be an object of strings, got ${describeJson(value)}`);
  }
  const metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw new Error(`${fileName}: ${METADATA_KEY}["${key}"] must be a string, got ${describeJson(entry)}`);
    }
    metadata[key] = entry;
  }
  return metadata;
}

interface DataRange {
  name: string;
  dtype: DType;
  shape: number[];
  /** Relative to the start of the data section. */
  begin: number;
  end: number;
}

function parseTensorEntry(fileName: string, name: string, entry: unknown, dataLength: number): DataRange {
  const fail = (what: string): never => {
    throw new Error(`${fileName}: tensor "${name}": ${what}`);
  };
  if (!isPlainObject(entry)) fail(`entry must be an object, got ${describeJson(entry)}`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;

  if (!isDType(dtype)) fail(`unknown dtype ${describeJson(dtype)}; expected one of ${Object.keys(DTYPE_BYTES).join(', ')}`);
  if (!Array.isArray(shape) || !shape.every(isNonNegativeSafeInteger)) {
    fail(`shape must be an array of non-negative integers, got ${describeJson(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInteger)) {
    fail(`data_offsets must be [begin, end] with non-negative integers, got ${describeJson(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) fail(`data_offsets [${begin}, ${end}] have begin > end`);

  const dims = shape as number[];
  const expectedBytes = elementCount(dims, fail) * DTYPE_BYTES[dtype as DType];
  if (end - begin !== expectedBytes) {
    fail(
      `data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${dims.join(', ')}] ` +
        `of ${dtype} needs ${expectedBytes} bytes`,
    );
  }
  if (end > dataLength) {
    fail(`data_offsets [${begin}, ${end}] extend beyond the data section of ${dataLength} bytes (file truncated?)`);
  }
  return { name, dtype: dtype as DType, shape: [...dims], begin, end };
}

function elementCount(shape: number[], fail: (what: string) => never): number {
  let count = 1;
  for (const dim of shape) {
    count *= dim;
    if (!Number.isSafeInteger(count)) fail(`shape [${shape.join(', ')}] has too many elements`);
  }
  return count;
}

/** Sorts by begin and checks each non-empty range against the furthest end seen so far. */
function checkNoOverlaps(fileName: string, ranges: DataRange[]): void {
  const nonEmpty = ranges.filter((r) => r.end > r.begin).sort((a, b) => a.begin - b.begin);
  let furthest: DataRange | undefined;
  for (const range of nonEmpty) {
    if (furthest && range.begin < furthest.end) {
      throw new Error(
        `${fileName}: tensors "${furthest.name}" [${furthest.begin}, ${furthest.end}] and ` +
          `"${range.name}" [${range.begin}, ${range.end}] have overlapping data_offsets`,
      );
    }
    if (!furthest || range.end > furthest.end) furthest = range;
  }
}

function isDType(value: unknown): value is DType {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

function isNonNegativeSafeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describeJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

type TypedArrayConstructor<T> = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
};

/** The bytes themselves when they live in a plain ArrayBuffer (what WebGPU uploads want), else a copy. */
function ownedBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

/** Views little-endian bytes as a typed array, copying only if the bytes are misaligned. */
function viewAs<T>(bytes: Uint8Array<ArrayBuffer>, Type: TypedArrayConstructor<T>): T {
  const size = Type.BYTES_PER_ELEMENT;
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  return new Type(aligned.buffer, aligned.byteOffset, aligned.length / size);
}

function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('safetensors: big-endian hosts are not supported');
  }
}

// ---------------------------------------------------------------------------
// Half-precision conversions
// ---------------------------------------------------------------------------

let f16Table: Float32Array | undefined;

/** All 65536 half values as f32 (exact), built once on first use. */
function halfToFloatTable(): Float32Array {
  if (f16Table) return f16Table;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) bits[h] = halfBitsToFloatBits(h);
  f16Table = new Float32Array(bits.buffer);
  return f16Table;
}

/** Exact widening of one IEEE half to the bit pattern of the equal f32. */
function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exponent = (h >> 10) & 0x1f;
  const mantissa = h & 0x3ff;
  if (exponent === 0x1f) return (sign | 0x7f800000 | (mantissa << 13)) >>> 0; // inf / NaN (payload kept)
  if (exponent !== 0) return (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
  if (mantissa === 0) return sign >>> 0; // ±0
  // Subnormal half: normalise the mantissa into an f32 with an implicit leading 1.
  let e = 113;
  let m = mantissa;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

export function f16BitsToF32(bits: Uint16Array): Float32Array<ArrayBuffer> {
  const table = halfToFloatTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}

/** f32 -> half with round-to-nearest-even; overflow gives ±inf, NaN stays NaN. */
export function f32ToF16Bits(x: Float32Array): Uint16Array<ArrayBuffer> {
  const words = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = floatBitsToHalfBits(words[i]);
  return out;
}

function floatBitsToHalfBits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const exponent = (f >>> 23) & 0xff;
  const mantissa = f & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 | (mantissa >>> 13) : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) return sign | roundToHalfSubnormal(mantissa | 0x800000, halfExponent);
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  return sign | roundShiftEven((halfExponent << 23) | mantissa, 13);
}

/** `significand` has its implicit bit set; the half value is significand >> (14 - halfExponent). */
function roundToHalfSubnormal(significand: number, halfExponent: number): number {
  const shift = 14 - halfExponent;
  return shift > 24 ? 0 : roundShiftEven(significand, shift);
}

/** value >> shift, rounded to nearest with ties to even. */
function roundShiftEven(value: number, shift: number): number {
  const kept = value >>> shift;
  const remainder = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return remainder > half || (remainder === half && (kept & 1) === 1) ? kept + 1 : kept;
}

export function bf16BitsToF32(bits: Uint16Array): Float32Array<ArrayBuffer> {
  const words = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) words[i] = bits[i] << 16;
  return new Float32Array(words.buffer);
}

/** f32 -> bfloat16 with round-to-nearest-even; NaN stays NaN. */
export function f32ToBf16Bits(x: Float32Array): Uint16Array<ArrayBuffer> {
  const words = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const f = words[i];
    const isNaN = (f & 0x7f800000) === 0x7f800000 && (f & 0x7fffff) !== 0;
    out[i] = isNaN ? (f >>> 16) | 0x40 : roundShiftEven(f, 16);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'I64' | 'I32';
  shape: number[];
  /** F32: Float32Array; F16: Uint16Array of half bits; I32: Int32Array; I64: BigInt64Array or Int32Array (widened). */
  data: Float32Array | Uint16Array | Int32Array | BigInt64Array;
}

/** Encodes a whole file in memory; for small files and tests. */
export function encodeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array<ArrayBuffer> {
  const prefix = encodeHeaderPrefix(tensors, metadata);
  const parts = tensors.map(tensorBytes);
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, prefix.length));
  out.set(prefix, 0);
  let offset = prefix.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Writes a file tensor by tensor (never one giant buffer) to `path + '.tmp'`,
 * flushes it, then renames it over `path`, so readers never see a partial file.
 */
export async function writeSafetensors(
  path: string,
  tensors: TensorToWrite[],
  metadata?: Record<string, string>,
): Promise<void> {
  const prefix = encodeHeaderPrefix(tensors, metadata); // validates everything before touching the disk
  const fs = await importNodeFs();
  const tmpPath = `${path}.tmp`;
  const handle = await fs.promises.open(tmpPath, 'w');
  try {
    let position = await writeFully(handle, prefix, 0);
    for (const tensor of tensors) position = await writeFully(handle, tensorBytes(tensor), position);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => {});
    await fs.promises.rm(tmpPath, { force: true });
    throw err;
  }
  await handle.close();
  await fs.promises.rename(tmpPath, path);
}

/** Writes all of `bytes` at `position` (looping over partial writes); returns the end position. */
async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<number> {
  let written = 0;
  while (written < bytes.length) {
    const chunk = Math.min(bytes.length - written, 1 << 30);
    const { bytesWritten } = await handle.write(bytes, written, chunk, position + written);
    written += bytesWritten;
  }
  return position + written;
}

/** The 8-byte length plus the JSON header, padded with spaces to a multiple of 8. */
function encodeHeaderPrefix(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header[METADATA_KEY] = validatedMetadata(metadata);
  let offset = 0;
  for (const tensor of tensors) {
    const byteLength = validatedByteLength(tensor);
    if (Object.prototype.hasOwnProperty.call(header, tensor.name)) {
      throw new Error(`safetensors writer: tensor "${tensor.name}" appears twice (or clashes with ${METADATA_KEY})`);
    }
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const paddedLength = Math.ceil(json.length / 8) * 8;
  const prefix = new Uint8Array(HEADER_LENGTH_BYTES + paddedLength).fill(0x20);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(paddedLength), true);
  prefix.set(json, HEADER_LENGTH_BYTES);
  return prefix;
}

function validatedMetadata(metadata: Record<string, string>): Record<string, string> {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') {
      throw new Error(`safetensors writer: metadata "${key}" must be a string, got ${typeof value}`);
    }
  }
  return metadata;
}

type WriteData = TensorToWrite['data'];

/** Which data arrays each writable dtype accepts. */
const WRITE_ARRAY_TYPES: Record<TensorToWrite['dtype'], { accepts: (data: WriteData) => boolean; expected: string }> = {
  F32: { accepts: (d) => d instanceof Float32Array, expected: 'Float32Array' },
  F16: { accepts: (d) => d instanceof Uint16Array, expected: 'Uint16Array (half bits)' },
  I32: { accepts: (d) => d instanceof Int32Array, expected: 'Int32Array' },
  I64: { accepts: (d) => d instanceof BigInt64Array || d instanceof Int32Array, expected: 'BigInt64Array or Int32Array' },
};

function validatedByteLength(tensor: TensorToWrite): number {
  const fail = (what: string): never => {
    throw new Error(`safetensors writer: tensor "${tensor.name}": ${what}`);
  };
  if (!Object.prototype.hasOwnProperty.call(WRITE_ARRAY_TYPES, tensor.dtype)) {
    fail(`cannot write dtype ${describeJson(tensor.dtype)}; expected F32, F16, I32 or I64`);
  }
  const { accepts, expected } = WRITE_ARRAY_TYPES[tensor.dtype];
  if (!accepts(tensor.data)) fail(`dtype ${tensor.dtype} needs a ${expected}, got ${tensor.data?.constructor?.name}`);
  if (!Array.isArray(tensor.shape) || !tensor.shape.every(isNonNegativeSafeInteger)) {
    fail(`shape must be an array of non-negative integers, got ${describeJson(tensor.shape)}`);
  }
  const count = elementCount(tensor.shape, fail);
  if (tensor.data.length !== count) {
    fail(`shape [${tensor.shape.join(', ')}] has ${count} elements but data has ${tensor.data.length}`);
  }
  return count * DTYPE_BYTES[tensor.dtype];
}

/** The tensor's little-endian bytes: a view of its data, or a widened copy for I64 given as Int32Array. */
function tensorBytes(tensor: TensorToWrite): Uint8Array {
  const data = tensor.dtype === 'I64' && tensor.data instanceof Int32Array
    ? BigInt64Array.from(tensor.data, (v) => BigInt(v))
    : tensor.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
