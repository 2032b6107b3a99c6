/**
 * Random-access byte sources for checkpoint reading.
 *
 * A ByteSource hands out exact byte ranges of one file without ever holding
 * the whole file in memory: Node reads positionally from a file handle, the
 * browser slices a Blob (a File from <input type=file> or a fetched Blob).
 * This is what lets multi-gigabyte checkpoints load tensor by tensor.
 *
 * Contract of `read(offset, length)`: resolves to a fresh Uint8Array of
 * exactly `length` bytes that starts at byteOffset 0 of its own ArrayBuffer
 * (so callers may view it as any typed array whose alignment the offset
 * allows, and may keep or mutate it), or rejects with an Error naming the
 * source. A range that runs past the end of the data (for example because the
 * file was truncated after it was opened) is an error, never a short result.
 */

import type { FileHandle } from 'node:fs/promises';

export interface ByteSource {
  /** Shown in every error message; a file path for files. */
  readonly name: string;
  /** Total size in bytes, as known when the source was opened. */
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * Node built-ins are imported lazily and through a variable, so that browser
 * bundlers (esbuild, Vite) neither resolve nor include them.
 */
export function importNodeFs(): Promise<typeof import('node:fs')> {
  return importByName('node:fs');
}

export function importNodePath(): Promise<typeof import('node:path')> {
  return importByName('node:path');
}

function importByName<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ specifier) as Promise<T>;
}

/** Largest single positional read; keeps each call well below Node's 2 GiB I/O limits. */
const MAX_READ_CHUNK = 1 << 30;

export async function openFileSource(path: string): Promise<ByteSource> {
  const fs = await importNodeFs();
  const handle = await fs.promises.open(path, 'r');
  try {
    const { size } = await handle.stat();
    return new FileSource(path, size, handle);
  } catch (err) {
    await handle.close();
    throw err;
  }
}

export function blobSource(blob: Blob, name: string): ByteSource {
  return new BlobSource(name, blob);
}

export function memorySource(bytes: Uint8Array, name: string): ByteSource {
  return new MemorySource(name, bytes);
}

/** Throws unless [offset, offset + length) is a well-formed range inside [0, size]. */
export function checkReadRange(name: string, size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new Error(`${name}: invalid read range (offset ${offset}, length ${length}); expected non-negative integers`);
  }
  if (offset + length > size) {
    throw shortReadError(name, offset, length, Math.max(0, size - offset));
  }
}

function shortReadError(name: string, offset: number, wanted: number, got: number): Error {
  return new Error(
    `${name}: short read: expected ${wanted} bytes at offset ${offset} but only ${got} are available (file truncated?)`,
  );
}

abstract class BaseSource implements ByteSource {
  private closed = false;

  constructor(readonly name: string, readonly size: number) {}

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new Error(`${this.name}: read after close`);
    checkReadRange(this.name, this.size, offset, length);
    if (length === 0) return new Uint8Array(0);
    const bytes = await this.readRange(offset, length);
    if (bytes.length !== length) throw shortReadError(this.name, offset, length, bytes.length);
    return bytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.release();
  }

  /** Reads the in-bounds, non-empty range; may return fewer bytes if the data shrank. */
  protected abstract readRange(offset: number, length: number): Promise<Uint8Array>;
  protected abstract release(): Promise<void>;
}

class FileSource extends BaseSource {
  constructor(name: string, size: number, private readonly handle: FileHandle) {
    super(name, size);
  }

  protected async readRange(offset: number, length: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const chunk = Math.min(length - filled, MAX_READ_CHUNK);
      const { bytesRead } = await this.handle.read(bytes, filled, chunk, offset + filled);
      if (bytesRead === 0) return bytes.subarray(0, filled); // end of file reached early
      filled += bytesRead;
    }
    return bytes;
  }

  protected release(): Promise<void> {
    return this.handle.close();
  }
}

class BlobSource extends BaseSource {
  constructor(name: string, private readonly blob: Blob) {
    super(name, blob.size);
  }

  protected async readRange(offset: number, length: number): Promise<Uint8Array> {
    return new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
  }

  protected async release(): Promise<void> {}
}

class MemorySource extends BaseSource {
  constructor(name: string, private readonly bytes: Uint8Array) {
    super(name, bytes.length);
  }

  protected async readRange(offset: number, length: number): Promise<Uint8Array> {
    return this.bytes.slice(offset, offset + length); // a copy, so callers own the result
  }

  protected async release(): Promise<void> {}
}
