// Text tokenizer for Hugging Face checkpoints (tokenizer.json + optional tokenizer_config.json),
// backed by @huggingface/tokenizers (pure JS, works in Node and the browser).
//
//   const tok = await loadTokenizer('weights/gpt2-brown');          // Node: reads the folder
//   const tok = await loadTokenizer({ tokenizerJson, tokenizerConfig }); // anywhere: parsed JSON
//   tok.encode('Hello world')  // [15496, 995]
import { Tokenizer } from '@huggingface/tokenizers';

export interface TextTokenizer {
  /** Token ids of `text`. No BOS/EOS is added; special-token strings in the text (e.g. `<|endoftext|>`) map to their ids. */
  encode(text: string): number[];
  /** Text of `ids` (special tokens kept). `decode([])` is `''`. */
  decode(ids: number[]): string;
  /** 1 + the largest token id the tokenizer can produce (added tokens included); 50257 for GPT-2. */
  vocabSize: number;
  eosId: number | null;
  bosId: number | null;
}

export interface TokenizerFiles {
  tokenizerJson: object;
  tokenizerConfig?: object;
}

type Json = Record<string, unknown>;

/** Load from a folder holding tokenizer.json (and optionally tokenizer_config.json), or from parsed JSON. */
export async function loadTokenizer(dirOrJson: string | TokenizerFiles): Promise<TextTokenizer> {
  const files = typeof dirOrJson === 'string' ? await readTokenizerFolder(dirOrJson) : dirOrJson;
  return createTokenizer(files.tokenizerJson, files.tokenizerConfig ?? {});
}

async function readTokenizerFolder(dir: string): Promise<TokenizerFiles> {
  // Node-only modules are imported lazily, through a non-literal specifier, so that bundling this
  // module for the browser does not pull them in (browser callers pass parsed JSON instead).
  const fsName = 'node:fs/promises';
  const pathName = 'node:path';
  const fs: typeof import('node:fs/promises') = await import(/* @vite-ignore */ fsName);
  const path: typeof import('node:path') = await import(/* @vite-ignore */ pathName);
  const tokPath = path.join(dir, 'tokenizer.json');
  let tokText: string;
  try {
    tokText = await fs.readFile(tokPath, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new Error(`tokenizer.json not found in folder ${dir}`);
    }
    throw new Error(`cannot read ${tokPath}: ${(e as Error).message}`);
  }
  const tokenizerJson = parseJson(tokText, tokPath);
  let tokenizerConfig: object | undefined;
  const cfgPath = path.join(dir, 'tokenizer_config.json');
  try {
    tokenizerConfig = parseJson(await fs.readFile(cfgPath, 'utf8'), cfgPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  return { tokenizerJson, tokenizerConfig };
}

function parseJson(text: string, where: string): object {
  try {
    return JSON.parse(text) as object;
  } catch (e) {
    throw new Error(`invalid JSON in ${where}: ${(e as Error).message}`);
  }
}

function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json).content === 'string') return (v as Json).content as string;
  return null;
}

function createTokenizer(tokenizerJson: object, tokenizerConfig: object): TextTokenizer {
  const tok = new Tokenizer(tokenizerJson, tokenizerConfig);
  const cfg = tokenizerConfig as Json;

  let maxId = -1;
  for (const id of tok.get_vocab(true).values()) if (id > maxId) maxId = id;
  const vocabSize = maxId + 1;

  const idOf = (name: string | null): number | null => {
    if (name == null) return null;
    const id = tok.token_to_id(name);
    return id === undefined ? null : id;
  };
  const firstKnown = (names: string[]): number | null => {
    for (const n of names) {
      const id = idOf(n);
      if (id !== null) return id;
    }
    return null;
  };
  // tokenizer_config.json wins; without it fall back to the usual names (GPT-2, Pythia/NeoX: `<|endoftext|>`).
  const eosId = 'eos_token' in cfg ? idOf(tokenContent(cfg.eos_token)) : firstKnown(['<|endoftext|>', '</s>', '<eos>']);
  const bosId = 'bos_token' in cfg ? idOf(tokenContent(cfg.bos_token)) : firstKnown(['<|endoftext|>', '<s>', '<bos>']);

  return {
    encode(text: string): number[] {
      if (text.length === 0) return [];
      return tok.encode(text, { add_special_tokens: false }).ids;
    },
    decode(ids: number[]): string {
      // @huggingface/tokenizers 0.2.0 throws on an empty id list
      if (ids.length === 0) return '';
      return tok.decode(ids, { skip_special_tokens: false });
    },
    vocabSize,
    eosId,
    bosId,
  };
}
