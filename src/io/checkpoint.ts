/**
 * Opening a Hugging Face checkpoint: a single `model.safetensors`, or
 * `model.safetensors.index.json` plus the shard files its `weight_map` names.
 * Either way the result is one name -> tensor lookup across all files, with
 * tensors read lazily (one at a time) from their file.
 *
 * Validation: the index must hold a non-empty `weight_map` object of
 * tensor name -> shard file name; every shard must exist; every tensor of the
 * weight_map must be in the shard it is mapped to; and no tensor name may
 * appear in two files. Like transformers, every tensor of every referenced
 * shard is exposed (the weight_map only has to be consistent with them).
 */

import { type ByteSource, importNodeFs, importNodePath, openFileSource } from './byte-source.js';
import { SafetensorsFile, type TensorInfo } from './safetensors.js';

export const SINGLE_FILE_NAME = 'model.safetensors';
export const INDEX_FILE_NAME = 'model.safetensors.index.json';

/**
 * The error for a folder without safetensors weights; when it holds PyTorch pickles instead (e.g.
 * Pythia's intermediate `step…` revisions ship pytorch_model.bin), how to convert them once. Pickles
 * are not read here: unpickling runs arbitrary code by design, and safetensors is the format to trust.
 */
export function missingWeightsError(where: string, fileNames: string[]): Error {
  const pickles = fileNames.filter((f) => /\.(bin|pt|pth|ckpt)$/.test(f));
  let message = `${where}: no ${SINGLE_FILE_NAME} or ${INDEX_FILE_NAME} (with its shards)`;
  if (pickles.length) {
    message += `; found PyTorch pickle weights (${pickles.slice(0, 3).join(', ')}${pickles.length > 3 ? ', …' : ''}), which Plateau does not read. `
      + 'Convert them once, e.g. for one file: python -c "import torch; from safetensors.torch import save_file; '
      + `sd = torch.load('${pickles[0]}', map_location='cpu', weights_only=True); save_file({k: v.clone().contiguous() for k, v in sd.items()}, '${SINGLE_FILE_NAME}', metadata={'format': 'pt'})"`
      + ' (or transformers: AutoModelForCausalLM.from_pretrained(dir).save_pretrained(dir, safe_serialization=True))';
  }
  return new Error(message);
}

export interface CheckpointTensor {
  name: string;
  info: TensorInfo;
  file: SafetensorsFile;
}

/** Tensor name -> shard file name, as in the index's `weight_map`. */
type WeightMap = Map<string, string>;

export class Checkpoint {
  private constructor(
    /** Where the checkpoint came from, for error messages. */
    readonly location: string,
    readonly files: readonly SafetensorsFile[],
    private readonly entries: ReadonlyMap<string, CheckpointTensor>,
  ) {}

  /**
   * Node: opens `dir/model.safetensors`, or else `dir/model.safetensors.index.json`
   * and its shards (the single file wins when both exist, as in transformers).
   */
  static async openDir(dir: string): Promise<Checkpoint> {
    const path = await importNodePath();
    const singlePath = path.join(dir, SINGLE_FILE_NAME);
    const indexPath = path.join(dir, INDEX_FILE_NAME);
    if (await isFile(singlePath)) {
      return Checkpoint.fromFiles(dir, await openAll([() => openFileSource(singlePath)]));
    }
    const fs = await importNodeFs();
    if (!(await isFile(indexPath))) throw missingWeightsError(dir, await fs.promises.readdir(dir).catch(() => []));
    const weightMap = parseWeightMap(await fs.promises.readFile(indexPath, 'utf8'), indexPath);
    const shardNames = uniqueShards(weightMap);
    for (const shard of shardNames) {
      checkShardName(shard, indexPath);
      if (!(await isFile(path.join(dir, shard)))) {
        throw new Error(`${indexPath}: shard "${shard}" named in weight_map does not exist in folder ${dir}`);
      }
    }
    const files = await openAll(shardNames.map((shard) => () => openFileSource(path.join(dir, shard))));
    return Checkpoint.fromShards(dir, indexPath, weightMap, zipShards(shardNames, files));
  }

  /**
   * Browser path and tests: the sources are the checkpoint's files (the
   * Checkpoint owns them and closes them, also when opening fails). With an
   * index, each shard is matched to the source whose name (or its last path
   * component) equals the shard's file name.
   */
  static async openSources(sources: ByteSource[], indexJson?: string): Promise<Checkpoint> {
    if (sources.length === 0) throw new Error('Checkpoint.openSources: no files given');
    const location = sources.map((s) => s.name).join(', ');
    if (indexJson === undefined) {
      return Checkpoint.fromFiles(location, await openAll(sources.map((s) => () => Promise.resolve(s))));
    }
    let weightMap: WeightMap;
    let shardSources: ByteSource[];
    const shardNames: string[] = [];
    try {
      weightMap = parseWeightMap(indexJson, INDEX_FILE_NAME);
      shardNames.push(...uniqueShards(weightMap));
      shardSources = shardNames.map((shard) => findShardSource(shard, sources));
    } catch (err) {
      await closeSources(sources);
      throw err;
    }
    await closeSources(sources.filter((s) => !shardSources.includes(s))); // files the index does not name
    const files = await openAll(shardSources.map((s) => () => Promise.resolve(s)));
    return Checkpoint.fromShards(location, INDEX_FILE_NAME, weightMap, zipShards(shardNames, files));
  }

  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The tensor's entry; throws naming the checkpoint if absent. */
  tensor(name: string): CheckpointTensor {
    const entry = this.entries.get(name);
    if (!entry) throw new Error(`${this.location}: checkpoint has no tensor named "${name}"`);
    return entry;
  }

  info(name: string): TensorInfo {
    return this.tensor(name).info;
  }

  readF32(name: string): Promise<Float32Array<ArrayBuffer>> {
    return this.tensor(name).file.readF32(name);
  }

  readF16Bits(name: string): Promise<Uint16Array<ArrayBuffer>> {
    return this.tensor(name).file.readF16Bits(name);
  }

  readInt32(name: string): Promise<Int32Array<ArrayBuffer>> {
    return this.tensor(name).file.readInt32(name);
  }

  readRaw(name: string): Promise<Uint8Array<ArrayBuffer>> {
    return this.tensor(name).file.readRaw(name);
  }

  async close(): Promise<void> {
    await Promise.all(this.files.map((f) => f.close()));
  }

  /** All tensors of all files; closes the files if two of them share a tensor name. */
  private static async fromFiles(location: string, files: SafetensorsFile[]): Promise<Checkpoint> {
    try {
      return new Checkpoint(location, files, mergeTensors(files));
    } catch (err) {
      await closeAll(files);
      throw err;
    }
  }

  private static async fromShards(
    location: string,
    indexName: string,
    weightMap: WeightMap,
    shards: Map<string, SafetensorsFile>,
  ): Promise<Checkpoint> {
    const checkpoint = await Checkpoint.fromFiles(location, [...shards.values()]);
    try {
      checkWeightMapAgainstShards(indexName, weightMap, shards);
      return checkpoint;
    } catch (err) {
      await checkpoint.close();
      throw err;
    }
  }
}

function parseWeightMap(json: string, indexName: string): WeightMap {
  let index: unknown;
  try {
    index = JSON.parse(json);
  } catch (err) {
    throw new Error(`${indexName}: not valid JSON (${(err as Error).message})`);
  }
  const weightMap = isPlainObject(index) ? index.weight_map : undefined;
  if (!isPlainObject(weightMap)) {
    throw new Error(`${indexName}: expected a JSON object with a "weight_map" object of tensor name -> shard file`);
  }
  const entries = Object.entries(weightMap);
  if (entries.length === 0) throw new Error(`${indexName}: weight_map is empty`);
  for (const [tensor, shard] of entries) {
    if (typeof shard !== 'string' || shard === '') {
      throw new Error(`${indexName}: weight_map["${tensor}"] must be a shard file name, got ${JSON.stringify(shard)}`);
    }
  }
  return new Map(entries as [string, string][]);
}

function uniqueShards(weightMap: WeightMap): string[] {
  return [...new Set(weightMap.values())];
}

/** Shards must stay inside the checkpoint folder. */
function checkShardName(shard: string, indexName: string): void {
  const segments = shard.split(/[\\/]/);
  if (/^([\\/]|[A-Za-z]:)/.test(shard) || segments.includes('..')) {
    throw new Error(`${indexName}: shard "${shard}" must be a file name inside the checkpoint folder`);
  }
}

function baseName(name: string): string {
  return name.split(/[\\/]/).pop() ?? name;
}

function findShardSource(shard: string, sources: ByteSource[]): ByteSource {
  const candidates = sources.filter((s) => s.name === shard || baseName(s.name) === baseName(shard));
  if (candidates.length === 0) {
    const given = sources.map((s) => s.name).join(', ') || 'none';
    throw new Error(`${INDEX_FILE_NAME}: shard "${shard}" named in weight_map is missing (files given: ${given})`);
  }
  if (candidates.length > 1) {
    const names = candidates.map((s) => s.name).join(', ');
    throw new Error(`${INDEX_FILE_NAME}: shard "${shard}" matches several files: ${names}`);
  }
  return candidates[0];
}

function zipShards(shardNames: string[], files: SafetensorsFile[]): Map<string, SafetensorsFile> {
  return new Map(shardNames.map((shard, i) => [shard, files[i]]));
}

function mergeTensors(files: SafetensorsFile[]): Map<string, CheckpointTensor> {
  const entries = new Map<string, CheckpointTensor>();
  for (const file of files) {
    for (const [name, info] of file.tensors) {
      const existing = entries.get(name);
      if (existing) {
        throw new Error(
          `tensor "${name}" appears in two files: ${existing.file.source.name} and ${file.source.name}`,
        );
      }
      entries.set(name, { name, info, file });
    }
  }
  return entries;
}

function checkWeightMapAgainstShards(
  indexName: string,
  weightMap: WeightMap,
  shards: Map<string, SafetensorsFile>,
): void {
  for (const [tensor, shard] of weightMap) {
    const file = shards.get(shard)!;
    if (!file.has(tensor)) {
      throw new Error(
        `${indexName}: weight_map puts tensor "${tensor}" in shard "${shard}", but ${file.source.name} does not contain it`,
      );
    }
  }
}

/**
 * Opens every source as a safetensors file. If any fails, closes every source
 * (opened or not) and rethrows the first error.
 */
async function openAll(openers: (() => Promise<ByteSource>)[]): Promise<SafetensorsFile[]> {
  const sources = await Promise.allSettled(openers.map((open) => open()));
  const opened = sources.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const files = await Promise.allSettled(
    sources.map((r) => (r.status === 'fulfilled' ? SafetensorsFile.open(r.value) : Promise.reject(r.reason))),
  );
  const failure = files.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) {
    await closeSources(opened);
    throw failure.reason;
  }
  return files.map((r) => (r as PromiseFulfilledResult<SafetensorsFile>).value);
}

async function closeAll(files: SafetensorsFile[]): Promise<void> {
  await Promise.allSettled(files.map((f) => f.close()));
}

async function closeSources(sources: ByteSource[]): Promise<void> {
  await Promise.allSettled(sources.map((s) => s.close()));
}

async function isFile(path: string): Promise<boolean> {
  const fs = await importNodeFs();
  try {
    return (await fs.promises.stat(path)).isFile();
  } catch {
    return false;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
