// Paths and reference tensors of the golden fixtures in ../shared/fixtures (see its README).
import path from 'node:path';
import { SafetensorsFile } from '../src/io/safetensors.js';

export const FIXTURES_DIR = path.resolve(__dirname, '../../shared/fixtures');
export const FIXTURE_NAMES = ['gpt2-tiny', 'gpt2-tiny-prefixed', 'pythia-tiny'] as const;
export type FixtureName = (typeof FIXTURE_NAMES)[number];

export function fixtureDir(name: FixtureName): string {
  return path.join(FIXTURES_DIR, name);
}

/** Recommended absolute tolerances from the fixtures README (gpt2: fp32 weights; pythia: fp16). */
export function tolerance(name: FixtureName, tensor: string): number {
  const pythia = name.startsWith('pythia');
  if (tensor === 'logits' || tensor === 'nll' || tensor.startsWith('patch.')) return pythia ? 2e-4 : 1e-4;
  if (tensor.endsWith('hook_pattern')) return 2e-5;
  if (tensor.startsWith('sweep.heads.bos.dact')) return 1e-4;
  if (tensor.startsWith('sweep.')) return pythia ? 3e-4 : 2e-4;
  return 1e-4;
}

export async function readReference(name: FixtureName): Promise<{ file: SafetensorsFile; ids: Int32Array; B: number; T: number }> {
  const file = await SafetensorsFile.openPath(path.join(fixtureDir(name), 'reference.safetensors'));
  const [B, T] = file.info('input_ids').shape;
  return { file, ids: await file.readInt32('input_ids'), B, T };
}
