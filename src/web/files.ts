// Picked files → a model: config.json, optional tokenizer files, and the weights (model.safetensors,
// or model.safetensors.index.json plus its shards). Tensors are read lazily through Blob slices
// (`blobSource`), never as one ArrayBuffer holding a whole file.
import { blobSource } from '../io/byte-source.js';
import { Checkpoint, INDEX_FILE_NAME, SINGLE_FILE_NAME, missingWeightsError } from '../io/checkpoint.js';
import { SafetensorsFile } from '../io/safetensors.js';

export interface PickedModel {
  /** Folder name (or the config's name) for messages and results. */
  name: string;
  config: unknown;
  tokenizerJson?: object;
  tokenizerConfig?: object;
  /** The weight files to open: the single file, or the index's shards (all .safetensors of the folder). */
  weightFiles: File[];
  indexJson?: string;
  files: { name: string; bytes: number }[];
}

/** Path of a picked file inside the chosen folder (webkitRelativePath), else its name. */
export function filePath(f: File): string {
  return (f as File & { webkitRelativePath?: string }).webkitRelativePath || f.name;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

function baseOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

async function parseJsonFile(f: File): Promise<object> {
  try {
    return JSON.parse(await f.text()) as object;
  } catch (e) {
    throw new Error(`${filePath(f)}: not valid JSON (${(e as Error).message})`);
  }
}

/** Groups the picked files into a model (files of the folder holding config.json; the shallowest one wins). */
export async function pickModel(list: FileList | File[]): Promise<PickedModel> {
  const all = Array.from(list);
  if (!all.length) throw new Error('no files chosen');
  const configs = all.filter((f) => baseOf(filePath(f)) === 'config.json').sort((a, b) => filePath(a).split('/').length - filePath(b).split('/').length);
  if (!configs.length) throw new Error(`no config.json among the ${all.length} chosen files (choose the model folder, or config.json together with the weights)`);
  const dir = dirOf(filePath(configs[0]));
  const files = all.filter((f) => dirOf(filePath(f)) === dir);
  const byName = new Map(files.map((f) => [baseOf(filePath(f)), f]));
  const config = await parseJsonFile(configs[0]);
  const tok = byName.get('tokenizer.json');
  const tokCfg = byName.get('tokenizer_config.json');
  const single = byName.get(SINGLE_FILE_NAME);
  const index = byName.get(INDEX_FILE_NAME);
  let weightFiles: File[];
  let indexJson: string | undefined;
  if (single) weightFiles = [single];
  else if (index) {
    indexJson = await index.text();
    // The index names its shards; every other .safetensors of the folder (e.g. reference data) is left out by the Checkpoint.
    weightFiles = files.filter((f) => f.name.endsWith('.safetensors'));
  } else throw missingWeightsError(dir || 'the chosen files', files.map((f) => baseOf(filePath(f))));
  return {
    name: dir.split('/').pop() || (config as { _name_or_path?: string })._name_or_path || 'model',
    config,
    tokenizerJson: tok ? await parseJsonFile(tok) : undefined,
    tokenizerConfig: tokCfg ? await parseJsonFile(tokCfg) : undefined,
    weightFiles,
    indexJson,
    files: files.map((f) => ({ name: baseOf(filePath(f)), bytes: f.size })),
  };
}

export function openCheckpoint(model: PickedModel): Promise<Checkpoint> {
  return Checkpoint.openSources(model.weightFiles.map((f) => blobSource(f, baseOf(filePath(f)))), model.indexJson);
}

/** `input_ids` [B, T] (I64 or I32) of a safetensors file, e.g. a fixture's reference.safetensors. */
export async function readInputIds(file: File): Promise<{ ids: Int32Array; B: number; T: number }> {
  const st = await SafetensorsFile.open(blobSource(file, file.name));
  try {
    if (!st.tensors.has('input_ids')) throw new Error(`${file.name}: no tensor named input_ids`);
    const shape = st.info('input_ids').shape;
    const [B, T] = shape.length === 1 ? [1, shape[0]] : shape;
    if (shape.length > 2 || !B || !T) throw new Error(`${file.name}: input_ids must be [B, T] or [T], got [${shape.join(', ')}]`);
    return { ids: await st.readInt32('input_ids'), B, T };
  } finally {
    await st.close();
  }
}
