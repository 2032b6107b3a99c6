// Corpus → token rows, as in the rare-token papers: documents joined with EOS into one stream,
// cut into rows of `seq` tokens that each start with BOS, shuffled with a fixed seed.
// Inputs: plain text (one document per file), JSONL (one document per line, `text` field) or a
// JSON array of strings. Pure except `readCorpus`, which loads Node's fs lazily (the browser page
// passes file contents to `documentsOfText`).
import type { TextTokenizer } from '../io/tokenizer.js';
import { importNodeFs } from '../io/byte-source.js';
import { Rng } from './random.js';

export interface CorpusDocuments {
  files: string[];
  documents: string[];
}

function jsonlDocuments(text: string, name: string): string[] {
  const docs: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (!line.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${name}, line ${i + 1}: not valid JSON (JSONL corpora need one JSON object per line with a "text" field)`);
    }
    const doc = (value as { text?: unknown })?.text;
    if (typeof doc !== 'string') throw new Error(`${name}, line ${i + 1}: expected an object with a string "text" field`);
    docs.push(doc);
  });
  return docs;
}

function looksLikeJsonl(text: string): boolean {
  const lines = text.split('\n').filter((l) => l.trim());
  return lines.length > 0 && lines.every((l) => l.trimStart().startsWith('{'));
}

/**
 * Documents of one file's text by its name: .jsonl → one per line, .json → an array of strings,
 * any other extension → one document; a name without extension (pasted text) is JSONL when every
 * non-empty line is a JSON object.
 */
export function documentsOfText(text: string, name: string): string[] {
  const lower = name.toLowerCase();
  if (lower.endsWith('.jsonl') || (!/\.\w+$/.test(lower) && looksLikeJsonl(text))) return jsonlDocuments(text, name);
  if (lower.endsWith('.json')) {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw new Error(`${name}: not valid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) throw new Error(`${name}: a .json corpus must be an array of document strings`);
    return value as string[];
  }
  return [text];
}

export async function readCorpus(files: string[]): Promise<CorpusDocuments> {
  if (!files.length) throw new Error('--corpus: give at least one file (.txt, .jsonl or .json)');
  const fs = await importNodeFs();
  const documents: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await fs.promises.readFile(file, 'utf8');
    } catch (e) {
      throw new Error(`--corpus ${file}: cannot read (${(e as Error).message})`);
    }
    // A file named without an extension is one plain-text document.
    documents.push(...documentsOfText(text, /\.\w+$/.test(file) ? file : `${file}.txt`));
  }
  const nonEmpty = documents.filter((d) => d.trim().length > 0);
  if (!nonEmpty.length) throw new Error(`--corpus: no non-empty documents in ${files.join(', ')}`);
  return { files, documents: nonEmpty };
}

export interface TokenRows {
  rows: Int32Array[];
  /** Tokens in the joined stream. */
  tokens: number;
  documents: number;
}

/** Tokenizes documents, joins them with EOS and cuts rows of `seq` tokens, each [BOS, …]. */
export function buildRows(documents: string[], tokenizer: TextTokenizer, seq: number, bosId: number, eosId: number): TokenRows {
  if (!Number.isInteger(seq) || seq < 8) throw new Error(`--seq: expected an integer ≥ 8, got ${seq}`);
  const stream: number[] = [];
  for (const doc of documents) {
    for (const id of tokenizer.encode(doc)) stream.push(id);
    stream.push(eosId);
  }
  const body = seq - 1;
  const rows: Int32Array[] = [];
  for (let start = 0; start + body <= stream.length; start += body) {
    const row = new Int32Array(seq);
    row[0] = bosId;
    for (let i = 0; i < body; i++) row[i + 1] = stream[start + i];
    rows.push(row);
  }
  if (!rows.length) throw new Error(`--corpus: only ${stream.length} tokens, fewer than one row of ${seq}`);
  return { rows, tokens: stream.length, documents: documents.length };
}

/** Seeded Fisher–Yates shuffle of the rows (a copy). */
export function shuffleRows(rows: Int32Array[], seed: number): Int32Array[] {
  const out = rows.slice();
  const rng = new Rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

export function flattenRows(rows: Int32Array[]): Int32Array {
  const T = rows[0]?.length ?? 0;
  const ids = new Int32Array(rows.length * T);
  rows.forEach((r, b) => ids.set(r, b * T));
  return ids;
}
