// Corpus documents from pasted text or uploaded files, with the CLI's conventions
// (src/analysis/corpus.ts): .jsonl = one JSON object per line with a "text" field, .json = an array
// of strings, anything else = one document. Pasted text is JSONL when every non-empty line is a JSON
// object with a "text" field, else one document.

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

/** Documents of the pasted text (named "pasted text") and of each uploaded file; empty ones dropped. */
export async function collectDocuments(pasted: string, files: File[]): Promise<{ names: string[]; documents: string[] }> {
  const names: string[] = [];
  const documents: string[] = [];
  if (pasted.trim()) {
    names.push('pasted text');
    documents.push(...documentsOfText(pasted, 'pasted text'));
  }
  for (const f of files) {
    names.push(f.name);
    documents.push(...documentsOfText(await f.text(), f.name));
  }
  const nonEmpty = documents.filter((d) => d.trim().length > 0);
  if (!nonEmpty.length) throw new Error('no corpus: paste text or choose .txt / .jsonl / .json files');
  return { names, documents: nonEmpty };
}
