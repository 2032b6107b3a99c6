// Weight matrices on the GPU: row-major [rows, cols], stored as f32 or as f16 pairs packed in u32,
// split by rows into chunks that each fit the adapter's binding limit.
import type { Gpu } from './device.js';

export type StorageDType = 'f32' | 'f16';

export interface MatrixChunk {
  buffer: GPUBuffer;
  rowStart: number;
  rowCount: number;
}

export interface GpuMatrix {
  name: string;
  dtype: StorageDType;
  rows: number;
  cols: number;
  chunks: MatrixChunk[];
}

export function bytesPerElement(dtype: StorageDType): number {
  return dtype === 'f16' ? 2 : 4;
}

/** Largest row count per chunk so that one chunk's binding stays within the adapter's limit. */
export function rowsPerChunk(gpu: Gpu, cols: number, dtype: StorageDType): number {
  const rowBytes = cols * bytesPerElement(dtype);
  return Math.max(1, Math.floor(gpu.maxBinding / rowBytes));
}

/**
 * Uploads a row-major matrix. `data` is f32 values, or raw f16 bits (Uint16Array) for f16 storage.
 * f16 storage requires an even column count so that packed pairs never straddle rows.
 */
export function uploadMatrix(
  gpu: Gpu,
  name: string,
  data: Float32Array | Uint16Array,
  rows: number,
  cols: number,
  maxChunkRows = Infinity,
): GpuMatrix {
  const dtype: StorageDType = data instanceof Uint16Array ? 'f16' : 'f32';
  if (data.length !== rows * cols) throw new Error(`${name}: expected ${rows}×${cols} values, got ${data.length}`);
  if (dtype === 'f16' && cols % 2 !== 0) throw new Error(`${name}: f16 storage needs an even column count (got ${cols})`);
  const perChunk = Math.min(rowsPerChunk(gpu, cols, dtype), maxChunkRows);
  const chunks: MatrixChunk[] = [];
  for (let rowStart = 0; rowStart < rows; rowStart += perChunk) {
    const rowCount = Math.min(perChunk, rows - rowStart);
    const part = data.subarray(rowStart * cols, (rowStart + rowCount) * cols);
    chunks.push({ buffer: gpu.upload(`${name}[${rowStart}:${rowStart + rowCount}]`, part), rowStart, rowCount });
  }
  return { name, dtype, rows, cols, chunks };
}

export function destroyMatrix(m: GpuMatrix): void {
  for (const c of m.chunks) c.buffer.destroy();
}

/** The single chunk of a matrix that must fit one binding (projection weights). */
export function singleChunk(m: GpuMatrix): GPUBuffer {
  if (m.chunks.length !== 1) {
    throw new Error(`${m.name}: ${m.rows}×${m.cols} ${m.dtype} does not fit one binding on this adapter`);
  }
  return m.chunks[0].buffer;
}
