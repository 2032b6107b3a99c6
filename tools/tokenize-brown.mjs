#!/usr/bin/env node
// Tokenises the extracted Brown documents (tools/brown-corpus.mjs) with the GPT-2 tokenizer.json
// (tools/build-gpt2-tokenizer.mjs) through @huggingface/tokenizers, so the training ids are the
// ids that tokenizer.json gives.
//
// Output (for tools/train_gpt2_brown.py):
//   <out>.bin   uint16 little-endian token ids, all documents in file order, no separators
//   <out>.json  {"docs":[{"id":"ca01","category":"news","start":0,"length":2513}, ...], "eos_id":50256, ...}
//
// Usage: node tools/tokenize-brown.mjs [docs.jsonl] [outPrefix]
//   defaults: weights/gpt2-brown/brown-docs.jsonl (or tmp/brown-docs.jsonl), tmp/brown-tokens
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modelDir = path.join(root, 'weights/gpt2-brown');
let docsPath = process.argv[2];
if (!docsPath) {
  docsPath = path.join(modelDir, 'brown-docs.jsonl');
  if (!fs.existsSync(docsPath)) docsPath = path.join(root, 'tmp/brown-docs.jsonl');
}
const outPrefix = path.resolve(root, process.argv[3] ?? 'tmp/brown-tokens');

const tokenizerJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'));
const cfgPath = path.join(modelDir, 'tokenizer_config.json');
const tokenizerConfig = fs.existsSync(cfgPath) ? JSON.parse(fs.readFileSync(cfgPath, 'utf8')) : {};
const tok = new Tokenizer(tokenizerJson, tokenizerConfig);

const lines = fs.readFileSync(docsPath, 'utf8').split('\n').filter(Boolean);
const docs = [];
const chunks = [];
let total = 0;
for (const line of lines) {
  const d = JSON.parse(line);
  const ids = tok.encode(d.text, { add_special_tokens: false }).ids;
  for (const id of ids) if (id < 0 || id > 0xffff) throw new Error(`id ${id} out of uint16 range`);
  chunks.push(Uint16Array.from(ids));
  docs.push({ id: d.id, category: d.category ?? null, start: total, length: ids.length });
  total += ids.length;
}
const all = new Uint16Array(total);
let off = 0;
for (const c of chunks) {
  all.set(c, off);
  off += c.length;
}
fs.mkdirSync(path.dirname(outPrefix), { recursive: true });
// uint16 LE (x86/ARM hosts are little-endian; checked here to be explicit)
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('big-endian host not supported');
fs.writeFileSync(`${outPrefix}.bin`, Buffer.from(all.buffer, all.byteOffset, all.byteLength));
fs.writeFileSync(
  `${outPrefix}.json`,
  JSON.stringify({ source: path.relative(root, docsPath), tokenizer: 'weights/gpt2-brown/tokenizer.json', eos_id: 50256, dtype: 'uint16', total_tokens: total, docs }) + '\n',
);
console.log(`wrote ${path.relative(root, outPrefix)}.bin/.json: ${docs.length} documents, ${total} tokens`);
