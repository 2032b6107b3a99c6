// Corpus documents from pasted text or uploaded files, with the CLI's conventions
// (`documentsOfText` in src/analysis/corpus.ts).
import { documentsOfText } from '../analysis/corpus.js';

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
