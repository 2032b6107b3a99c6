// Reading token ids for the CLI: a JSON file (array of equal-length integer arrays), a safetensors
// file holding an integer tensor `input_ids` [B, T] (I64 or I32), or text through the tokenizer.
import { readFile } from 'node:fs/promises';
import { SafetensorsFile } from '../io/safetensors.js';

export interface TokenBatch {
  ids: Int32Array;
  B: number;
  T: number;
}

export async function readIdsFile(file: string, flag = '--ids'): Promise<TokenBatch> {
  if (/\.safetensors$/i.test(file)) {
    const st = await SafetensorsFile.openPath(file);
    try {
      if (!st.has('input_ids')) throw new Error(`${file}: no tensor "input_ids" (expected an integer tensor [B, T])`);
      const info = st.info('input_ids');
      if (info.shape.length !== 2) throw new Error(`${file}: input_ids has shape [${info.shape.join(', ')}], expected [B, T]`);
      if (info.dtype !== 'I64' && info.dtype !== 'I32') throw new Error(`${file}: input_ids has dtype ${info.dtype}, expected I64 or I32`);
      return { ids: await st.readInt32('input_ids'), B: info.shape[0], T: info.shape[1] };
    } finally {
      await st.close();
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${flag} ${file}: expected a JSON array of equal-length integer arrays or a .safetensors file with input_ids (${(e as Error).message})`);
  }
  return idsFromRows(parsed, `${flag} ${file}`);
}

export function idsFromRows(parsed: unknown, where: string): TokenBatch {
  if (!Array.isArray(parsed) || parsed.length === 0 || !parsed.every(Array.isArray)) {
    throw new Error(`${where}: expected a non-empty JSON array of integer arrays, e.g. [[50256, 464, 3290]]`);
  }
  const rows = parsed as unknown[][];
  const T = rows[0].length;
  if (T === 0) throw new Error(`${where}: sequences must not be empty`);
  const ids = new Int32Array(rows.length * T);
  rows.forEach((row, b) => {
    if (row.length !== T) throw new Error(`${where}: row ${b} has ${row.length} tokens, row 0 has ${T} (all rows must have equal length)`);
    row.forEach((v, t) => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0x7fffffff) throw new Error(`${where}: row ${b}, position ${t}: ${JSON.stringify(v)} is not a non-negative integer token id`);
      ids[b * T + t] = v;
    });
  });
  return { ids, B: rows.length, T };
}
