/**
 * Sweep scheduler: runs a long sweep as chunks of work units that are written
 * to disk as they finish, so that a sweep killed at any point resumes where it
 * stopped, recomputes nothing that was finished, and assembles a result that
 * is bit-identical to an uninterrupted run (the final tensors are plain byte
 * copies of the chunk tensors, which depend only on their unit range).
 *
 * Layout of a work dir (one per process / shard):
 *   manifest.json             job (kind, units, leadingShape, outputs, fingerprint),
 *                             chunkUnits, chunkCount, shard, finishedChunks
 *   chunk-000123.safetensors  one F32 tensor per output, shape [unitsInChunk, ...unitShape],
 *                             metadata: chunk index, unit range, job digest, sha256 of the data
 *
 * Crash safety: a chunk is written to `<file>.tmp`, fsynced and renamed, and
 * only then recorded in the manifest (itself written tmp + fsync + rename).
 * On resume every chunk of the shard is re-validated (file opens, shapes,
 * job digest, checksum); a listed chunk whose file fails is recomputed, and a
 * valid file the manifest missed (kill between rename and manifest update) is
 * adopted. Changing chunkUnits on resume is an error (chunk boundaries would
 * no longer line up); `readSweepManifest` lets a caller adopt the old value.
 *
 * Sharding: chunk c belongs to shard c % count. Each shard runs in its own
 * work dir; `mergeShards` checks that all dirs describe the same sweep and
 * that every chunk is present, then writes the final safetensors file with
 * tensors of shape [...leadingShape, ...unitShape].
 */

import { createHash } from 'node:crypto';
import * as fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { progressBar } from '../cli/progress.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';

export interface SweepOutputSpec {
  name: string;
  /** Per-unit output block shape, e.g. dnll: [B, T-1]. */
  unitShape: number[];
}

export interface SweepJob {
  kind: string;
  units: number;
  /** How the unit axis is shaped in the final tensor; its product is `units`. */
  leadingShape: number[];
  outputs: SweepOutputSpec[];
  /** Everything that determines the result; a resume or merge with different values fails. */
  fingerprint: Record<string, string>;
}

export interface ShardSpec {
  index: number;
  count: number;
}

export interface ScheduleOptions {
  workDir: string;
  chunkUnits: number;
  /** false refuses to touch a work dir holding finished chunks; true reuses them. */
  resume: boolean;
  /** Compute only the chunks c with c % count === index (default: all, as shard 0/1). */
  shard?: ShardSpec;
  progressLabel?: string;
  /** Stop cleanly (after the chunk in flight is written) once aborted; the result then has complete=false. */
  signal?: AbortSignal;
  /** Compute at most this many chunks in this call (time-boxed runs); complete=false if work remains. */
  maxChunks?: number;
}

/** One Float32Array per output, in job.outputs order, of length (end - start) * prod(unitShape). */
export type ComputeChunk = (startUnit: number, endUnit: number, onProgress?: (fraction: number) => void) => Promise<Float32Array[]>;

export interface SweepRunResult {
  /** Every chunk of this process's shard is on disk. */
  complete: boolean;
  computedChunks: number;
  reusedChunks: number;
  /** Chunks whose files were present but damaged (torn, wrong shape, checksum); they were recomputed. */
  discardedChunks: number[];
}

export interface SweepTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface SweepManifest {
  format: typeof MANIFEST_FORMAT;
  job: SweepJob;
  chunkUnits: number;
  chunkCount: number;
  shard: ShardSpec;
  finishedChunks: number[];
}

const MANIFEST_FILE = 'manifest.json';
const MANIFEST_FORMAT = 'plateau-sweep-manifest/1';
const CHUNK_FILE_PATTERN = /^chunk-\d+\.safetensors$/;
const TMP_FILE_PATTERN = /^(chunk-\d+\.safetensors|manifest\.json)\.tmp$/;
const SINGLE_PROCESS: ShardSpec = { index: 0, count: 1 };

// ---------------------------------------------------------------------------
// Running a sweep
// ---------------------------------------------------------------------------

export async function runSweep(job: SweepJob, opts: ScheduleOptions, compute: ComputeChunk): Promise<SweepRunResult> {
  validateJob(job);
  const shard = opts.shard ?? SINGLE_PROCESS;
  validateScheduleOptions(opts, shard);
  const layout = chunkLayout(job.units, opts.chunkUnits);

  await fs.mkdir(opts.workDir, { recursive: true });
  const previous = await prepareWorkDir(job, opts, shard);
  const shardChunks = chunksOfShard(layout, shard);
  const { finished, discarded } = await findFinishedChunks(opts.workDir, job, layout, shardChunks, previous);

  const manifest: SweepManifest = {
    format: MANIFEST_FORMAT,
    job: normalizedJob(job),
    chunkUnits: layout.chunkUnits,
    chunkCount: layout.chunkCount,
    shard: { ...shard },
    finishedChunks: [...finished].sort((a, b) => a - b),
  };
  await writeManifest(opts.workDir, manifest);

  const pending = shardChunks.filter((chunk) => !finished.has(chunk));
  const computedChunks = await computePendingChunks(job, opts, layout, manifest, pending, compute);
  return {
    complete: computedChunks === pending.length,
    computedChunks,
    reusedChunks: finished.size,
    discardedChunks: discarded,
  };
}

/** Computes, writes and records each pending chunk in turn; returns how many were done. */
async function computePendingChunks(
  job: SweepJob,
  opts: ScheduleOptions,
  layout: ChunkLayout,
  manifest: SweepManifest,
  pending: number[],
  compute: ComputeChunk,
): Promise<number> {
  const shardUnits = unitsOfChunks(layout, chunksOfShard(layout, manifest.shard));
  let doneUnits = unitsOfChunks(layout, manifest.finishedChunks);
  const bar = progressBar(opts.progressLabel ?? job.kind, shardUnits, 'units');
  bar.update(doneUnits);
  let computed = 0;
  try {
    for (const chunk of pending) {
      if (opts.signal?.aborted || computed === (opts.maxChunks ?? Infinity)) break;
      const [start, end] = chunkRange(layout, chunk);
      const outputs = await compute(start, end, (f) => bar.update(doneUnits + Math.floor(f * (end - start))));
      checkComputedOutputs(job, start, end, outputs);
      await writeChunk(opts.workDir, job, layout, chunk, outputs);
      manifest.finishedChunks.push(chunk);
      manifest.finishedChunks.sort((a, b) => a - b);
      await writeManifest(opts.workDir, manifest);
      computed++;
      doneUnits += end - start;
      bar.update(doneUnits);
    }
  } finally {
    bar.stop();
  }
  return computed;
}

/**
 * Applies the resume rules to whatever the work dir already holds and removes
 * leftover .tmp files; returns the existing manifest, if any, for reuse.
 */
async function prepareWorkDir(job: SweepJob, opts: ScheduleOptions, shard: ShardSpec): Promise<SweepManifest | undefined> {
  const manifestPath = path.join(opts.workDir, MANIFEST_FILE);
  const manifest = await readSweepManifest(opts.workDir);
  const chunkFiles = await listChunkFiles(opts.workDir);
  if (!manifest && chunkFiles.length > 0) {
    throw new Error(
      `${opts.workDir}: holds ${chunkFiles.length} chunk file(s) but no ${MANIFEST_FILE}; ` +
        'it was not written by this scheduler or was damaged. Use an empty work dir, or delete this one',
    );
  }
  if (manifest && !opts.resume && (manifest.finishedChunks.length > 0 || chunkFiles.length > 0)) {
    throw new Error(
      `${manifestPath}: a ${manifest.job.kind} sweep with ${manifest.finishedChunks.length} of ` +
        `${manifest.chunkCount} chunks finished is already here. Pass --resume to continue it, ` +
        'or use another work dir (or delete this one) to start over',
    );
  }
  if (manifest && opts.resume) checkManifestMatchesRun(manifestPath, manifest, job, opts.chunkUnits, shard);
  await removeLeftoverTmpFiles(opts.workDir);
  return opts.resume ? manifest : undefined;
}

function checkManifestMatchesRun(
  manifestPath: string,
  manifest: SweepManifest,
  job: SweepJob,
  chunkUnits: number,
  shard: ShardSpec,
): void {
  const jobMismatch = describeJobMismatch(manifest.job, job);
  if (jobMismatch) {
    throw new Error(
      `${manifestPath}: cannot resume: the work dir belongs to a different sweep (${jobMismatch}). ` +
        'Use another work dir, or delete this one to start over',
    );
  }
  if (manifest.chunkUnits !== chunkUnits) {
    throw new Error(
      `${manifestPath}: cannot resume: the sweep was started with chunkUnits=${manifest.chunkUnits}, ` +
        `this run uses chunkUnits=${chunkUnits}; resume with the same chunk size (chunk boundaries must line up)`,
    );
  }
  if (!sameShard(manifest.shard, shard)) {
    throw new Error(
      `${manifestPath}: cannot resume: this work dir holds shard ${shardName(manifest.shard)}, ` +
        `this run is shard ${shardName(shard)}; each shard needs its own work dir`,
    );
  }
}

/**
 * The shard's chunks whose files are valid; listed chunks whose files are not
 * are reported as discarded. Without a previous manifest nothing is reused.
 */
async function findFinishedChunks(
  workDir: string,
  job: SweepJob,
  layout: ChunkLayout,
  shardChunks: number[],
  previous: SweepManifest | undefined,
): Promise<{ finished: Set<number>; discarded: number[] }> {
  const finished = new Set<number>();
  const discarded: number[] = [];
  if (!previous) return { finished, discarded };
  const listed = new Set(previous.finishedChunks);
  const present = new Set((await listChunkFiles(workDir)).map(chunkIndexOfFile));
  for (const chunk of shardChunks) {
    if (!present.has(chunk)) {
      if (listed.has(chunk)) discarded.push(chunk);
      continue;
    }
    const problem = await chunkFileProblem(workDir, job, layout, chunk);
    if (problem === undefined) finished.add(chunk);
    else discarded.push(chunk);
  }
  return { finished, discarded };
}

function checkComputedOutputs(job: SweepJob, start: number, end: number, outputs: Float32Array[]): void {
  const where = `${job.kind}: compute(${start}, ${end})`;
  if (!Array.isArray(outputs) || outputs.length !== job.outputs.length) {
    throw new Error(
      `${where} returned ${Array.isArray(outputs) ? outputs.length : typeof outputs} output(s); ` +
        `expected ${job.outputs.length} (${job.outputs.map((o) => o.name).join(', ')})`,
    );
  }
  job.outputs.forEach((spec, i) => {
    const expected = (end - start) * product(spec.unitShape);
    const data = outputs[i];
    if (!(data instanceof Float32Array) || data.length !== expected) {
      const got = data instanceof Float32Array ? `length ${data.length}` : typeName(data);
      throw new Error(
        `${where}: output "${spec.name}" is ${got}; expected a Float32Array of length ` +
          `${expected} = ${end - start} units x [${spec.unitShape.join(', ')}]`,
      );
    }
  });
}

// ---------------------------------------------------------------------------
// Assembling and merging
// ---------------------------------------------------------------------------

/** The final tensors, once every chunk of every shard is finished in one of `workDirs`. */
export async function assembleSweep(workDirs: string[]): Promise<{ job: SweepJob; tensors: SweepTensor[] }> {
  if (workDirs.length === 0) throw new Error('assembleSweep: no work dirs given');
  const dirs = await Promise.all(workDirs.map(loadWorkDirManifest));
  checkWorkDirsAgree(dirs);
  const { job, chunkUnits, shard } = dirs[0].manifest;
  const layout = chunkLayout(job.units, chunkUnits);
  const owners = chunkOwners(dirs, layout, shard.count);

  const tensors = job.outputs.map((spec) => ({
    name: spec.name,
    shape: [...job.leadingShape, ...spec.unitShape],
    data: new Float32Array(job.units * product(spec.unitShape)),
  }));
  for (let chunk = 0; chunk < layout.chunkCount; chunk++) {
    const owner = owners[chunk];
    const outputs = await readChunk(owner.dir, job, layout, chunk, owner.manifest.shard);
    const [start] = chunkRange(layout, chunk);
    job.outputs.forEach((spec, i) => tensors[i].data.set(outputs[i], start * product(spec.unitShape)));
  }
  return { job, tensors };
}

/**
 * Writes the assembled result as F32 safetensors. The metadata records the job
 * kind and fingerprint (keys plateau_sweep_kind, plateau_sweep_fingerprint);
 * the caller's `metadata` is added and wins on clashes.
 */
export async function mergeShards(workDirs: string[], outFile: string, metadata: Record<string, string> = {}): Promise<void> {
  const { job, tensors } = await assembleSweep(workDirs);
  await writeSafetensors(
    outFile,
    tensors.map((t) => ({ name: t.name, dtype: 'F32', shape: t.shape, data: t.data })),
    {
      plateau_sweep_kind: job.kind,
      plateau_sweep_fingerprint: JSON.stringify(sortedRecord(job.fingerprint)),
      ...metadata,
    },
  );
}

interface WorkDirManifest {
  dir: string;
  manifest: SweepManifest;
}

async function loadWorkDirManifest(dir: string): Promise<WorkDirManifest> {
  const manifest = await readSweepManifest(dir);
  if (!manifest) throw new Error(`${dir}: no ${MANIFEST_FILE}; not a sweep work dir (or the sweep never started)`);
  return { dir, manifest };
}

/** Same sweep, same chunking, same shard count, and no shard given twice. */
function checkWorkDirsAgree(dirs: WorkDirManifest[]): void {
  const [first] = dirs;
  const seenShards = new Map<number, string>();
  for (const { dir, manifest } of dirs) {
    const against = `${dir} and ${first.dir}`;
    const jobMismatch = describeJobMismatch(first.manifest.job, manifest.job);
    if (jobMismatch) throw new Error(`cannot merge ${against}: they belong to different sweeps (${jobMismatch})`);
    if (manifest.chunkUnits !== first.manifest.chunkUnits) {
      throw new Error(
        `cannot merge ${against}: chunkUnits ${manifest.chunkUnits} vs ${first.manifest.chunkUnits}; ` +
          'all shards must use the same chunk size',
      );
    }
    if (manifest.shard.count !== first.manifest.shard.count) {
      throw new Error(
        `cannot merge ${against}: shard ${shardName(manifest.shard)} vs ${shardName(first.manifest.shard)}; ` +
          'all shards must split the sweep the same number of ways',
      );
    }
    const twin = seenShards.get(manifest.shard.index);
    if (twin !== undefined) throw new Error(`cannot merge: ${twin} and ${dir} both hold shard ${shardName(manifest.shard)}`);
    seenShards.set(manifest.shard.index, dir);
  }
}

/** For each chunk, the work dir whose manifest lists it finished; otherwise an error naming every gap. */
function chunkOwners(dirs: WorkDirManifest[], layout: ChunkLayout, shardCount: number): WorkDirManifest[] {
  const owners: WorkDirManifest[] = [];
  const problems: string[] = [];
  for (let index = 0; index < shardCount; index++) {
    const shard = { index, count: shardCount };
    const expected = chunksOfShard(layout, shard);
    if (expected.length === 0) continue;
    const dir = dirs.find((d) => d.manifest.shard.index === index);
    if (!dir) {
      problems.push(`shard ${shardName(shard)} is missing (no work dir given for it; chunks ${listChunks(expected)})`);
      continue;
    }
    const finished = new Set(dir.manifest.finishedChunks);
    const missing = expected.filter((chunk) => !finished.has(chunk));
    if (missing.length > 0) {
      problems.push(
        `shard ${shardName(shard)} in ${dir.dir} is incomplete: chunks ${listChunks(missing)} ` +
          `(${missing.length} of ${expected.length}) not finished; rerun it with --resume`,
      );
    }
    for (const chunk of expected) owners[chunk] = dir;
  }
  if (problems.length > 0) throw new Error(`cannot assemble the sweep: ${problems.join('; ')}`);
  return owners;
}

// ---------------------------------------------------------------------------
// Chunk layout and sharding
// ---------------------------------------------------------------------------

interface ChunkLayout {
  units: number;
  chunkUnits: number;
  chunkCount: number;
}

function chunkLayout(units: number, chunkUnits: number): ChunkLayout {
  return { units, chunkUnits, chunkCount: Math.ceil(units / chunkUnits) };
}

/** The chunk's unit range [start, end). */
function chunkRange(layout: ChunkLayout, chunk: number): [number, number] {
  const start = chunk * layout.chunkUnits;
  return [start, Math.min(layout.units, start + layout.chunkUnits)];
}

function chunksOfShard(layout: ChunkLayout, shard: ShardSpec): number[] {
  const chunks: number[] = [];
  for (let chunk = shard.index; chunk < layout.chunkCount; chunk += shard.count) chunks.push(chunk);
  return chunks;
}

function unitsOfChunks(layout: ChunkLayout, chunks: number[]): number {
  return chunks.reduce((sum, chunk) => {
    const [start, end] = chunkRange(layout, chunk);
    return sum + end - start;
  }, 0);
}

/** Parses a shard flag "i/n" (0-based i) into a ShardSpec. */
export function parseShard(text: string): ShardSpec {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  const shard = match ? { index: Number(match[1]), count: Number(match[2]) } : undefined;
  if (!shard || shard.count < 1 || shard.index >= shard.count) {
    throw new Error(`--shard: expected i/n with 0 <= i < n (e.g. 0/3), got "${text}"`);
  }
  return shard;
}

function shardName(shard: ShardSpec): string {
  return `${shard.index}/${shard.count}`;
}

function sameShard(a: ShardSpec, b: ShardSpec): boolean {
  return a.index === b.index && a.count === b.count;
}

function listChunks(chunks: number[], max = 10): string {
  const shown = chunks.slice(0, max).join(', ');
  return chunks.length > max ? `${shown}, ... (${chunks.length - max} more)` : shown;
}

// ---------------------------------------------------------------------------
// Chunk files
// ---------------------------------------------------------------------------

function chunkFileName(chunk: number): string {
  return `chunk-${String(chunk).padStart(6, '0')}.safetensors`;
}

function chunkIndexOfFile(fileName: string): number {
  return Number(/^chunk-(\d+)\./.exec(fileName)![1]);
}

async function listChunkFiles(workDir: string): Promise<string[]> {
  return (await fs.readdir(workDir)).filter((name) => CHUNK_FILE_PATTERN.test(name));
}

async function removeLeftoverTmpFiles(workDir: string): Promise<void> {
  const leftovers = (await fs.readdir(workDir)).filter((name) => TMP_FILE_PATTERN.test(name));
  await Promise.all(leftovers.map((name) => fs.rm(path.join(workDir, name), { force: true })));
}

/** Metadata that ties a chunk file to its sweep, position and contents. */
function chunkMetadata(job: SweepJob, layout: ChunkLayout, chunk: number, outputs: Float32Array[]): Record<string, string> {
  const [start, end] = chunkRange(layout, chunk);
  return {
    chunk: String(chunk),
    start_unit: String(start),
    end_unit: String(end),
    job_digest: jobDigest(job, layout.chunkUnits),
    sha256: outputsDigest(outputs),
  };
}

/** Writes tmp + fsync + rename (writeSafetensors), then fsyncs the directory so the rename is durable. */
async function writeChunk(workDir: string, job: SweepJob, layout: ChunkLayout, chunk: number, outputs: Float32Array[]): Promise<void> {
  const [start, end] = chunkRange(layout, chunk);
  const unitCount = end - start;
  await writeSafetensors(
    path.join(workDir, chunkFileName(chunk)),
    job.outputs.map((spec, i) => ({ name: spec.name, dtype: 'F32', shape: [unitCount, ...spec.unitShape], data: outputs[i] })),
    chunkMetadata(job, layout, chunk, outputs),
  );
  await syncDirectory(workDir);
}

/** Why the chunk's file is not a finished chunk of this job, or undefined if it is. */
async function chunkFileProblem(workDir: string, job: SweepJob, layout: ChunkLayout, chunk: number): Promise<string | undefined> {
  try {
    await readChunkFile(workDir, job, layout, chunk);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** readChunkFile, with an error that says how to repair the shard. */
async function readChunk(workDir: string, job: SweepJob, layout: ChunkLayout, chunk: number, shard: ShardSpec): Promise<Float32Array[]> {
  try {
    return await readChunkFile(workDir, job, layout, chunk);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}; the chunk is listed as finished in ${path.join(workDir, MANIFEST_FILE)}: ` +
        `rerun shard ${shardName(shard)} with --resume to recompute it`,
    );
  }
}

/** Reads and fully validates one chunk file (shapes, dtype, unit range, job digest, checksum). */
async function readChunkFile(workDir: string, job: SweepJob, layout: ChunkLayout, chunk: number): Promise<Float32Array[]> {
  const file = path.join(workDir, chunkFileName(chunk));
  const [start, end] = chunkRange(layout, chunk);
  const st = await SafetensorsFile.openPath(file);
  try {
    const outputs: Float32Array[] = [];
    for (const spec of job.outputs) {
      checkChunkTensor(file, st, spec, end - start);
      outputs.push(await st.readF32(spec.name));
    }
    checkChunkMetadata(file, st.metadata, chunkMetadata(job, layout, chunk, outputs));
    return outputs;
  } finally {
    await st.close();
  }
}

function checkChunkTensor(file: string, st: SafetensorsFile, spec: SweepOutputSpec, unitCount: number): void {
  const expectedShape = [unitCount, ...spec.unitShape];
  if (!st.has(spec.name)) throw new Error(`${file}: no tensor "${spec.name}"; expected F32 [${expectedShape.join(', ')}]`);
  const info = st.info(spec.name);
  if (info.dtype !== 'F32' || !sameArray(info.shape, expectedShape)) {
    throw new Error(
      `${file}: tensor "${spec.name}" is ${info.dtype} [${info.shape.join(', ')}]; ` +
        `expected F32 [${expectedShape.join(', ')}]`,
    );
  }
}

function checkChunkMetadata(file: string, actual: Record<string, string>, expected: Record<string, string>): void {
  for (const [key, value] of Object.entries(expected)) {
    if (actual[key] !== value) {
      throw new Error(`${file}: metadata "${key}" is ${JSON.stringify(actual[key])}; expected ${JSON.stringify(value)}`);
    }
  }
}

function outputsDigest(outputs: Float32Array[]): string {
  const hash = createHash('sha256');
  for (const data of outputs) hash.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return hash.digest('hex');
}

/** Identifies the sweep and its chunking (not the shard: shards' chunks are interchangeable). */
function jobDigest(job: SweepJob, chunkUnits: number): string {
  return createHash('sha256').update(JSON.stringify({ job: normalizedJob(job), chunkUnits })).digest('hex');
}

// ---------------------------------------------------------------------------
// Manifest
// ---------------------------------------------------------------------------

const dimSchema = z.number().int().nonnegative();
const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  job: z.object({
    kind: z.string(),
    units: z.number().int().positive(),
    leadingShape: z.array(dimSchema),
    outputs: z.array(z.object({ name: z.string(), unitShape: z.array(dimSchema) })).min(1),
    fingerprint: z.record(z.string(), z.string()),
  }),
  chunkUnits: z.number().int().positive(),
  chunkCount: z.number().int().positive(),
  shard: z.object({ index: dimSchema, count: z.number().int().positive() }),
  finishedChunks: z.array(dimSchema),
});

/** The work dir's manifest, or undefined if it has none; a malformed manifest is an error. */
export async function readSweepManifest(workDir: string): Promise<SweepManifest | undefined> {
  const file = path.join(workDir, MANIFEST_FILE);
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message}); delete the work dir to start over`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(`${file}: not a ${MANIFEST_FORMAT} manifest:\n${z.prettifyError(parsed.error)}`);
  }
  return parsed.data as SweepManifest;
}

async function writeManifest(workDir: string, manifest: SweepManifest): Promise<void> {
  await writeFileAtomic(path.join(workDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 1)}\n`);
}

/** tmp + fsync + rename + directory fsync: readers see the old or the new file, never a torn one. */
async function writeFileAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, file);
  await syncDirectory(path.dirname(file));
}

/** Makes renames in `dir` durable; a no-op where directories cannot be fsynced (Windows). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL') throw err;
  } finally {
    await handle?.close();
  }
}

// ---------------------------------------------------------------------------
// Job validation and comparison
// ---------------------------------------------------------------------------

function validateJob(job: SweepJob): void {
  const fail = (what: string): never => {
    throw new Error(`sweep job "${job.kind}": ${what}`);
  };
  if (!Number.isSafeInteger(job.units) || job.units < 1) fail(`units must be a positive integer, got ${job.units}`);
  if (!isShape(job.leadingShape) || product(job.leadingShape) !== job.units) {
    fail(`leadingShape [${job.leadingShape}] must be non-negative integers whose product is units=${job.units}`);
  }
  if (job.outputs.length === 0) fail('needs at least one output');
  const names = new Set<string>();
  for (const spec of job.outputs) {
    if (!spec.name || spec.name === '__metadata__' || names.has(spec.name)) {
      fail(`output names must be non-empty, unique and not "__metadata__", got "${spec.name}"`);
    }
    names.add(spec.name);
    if (!isShape(spec.unitShape)) fail(`output "${spec.name}": unitShape [${spec.unitShape}] must be non-negative integers`);
  }
  for (const [key, value] of Object.entries(job.fingerprint)) {
    if (typeof value !== 'string') fail(`fingerprint "${key}" must be a string, got ${typeof value}`);
  }
}

function validateScheduleOptions(opts: ScheduleOptions, shard: ShardSpec): void {
  if (!opts.workDir) throw new Error('runSweep: workDir is empty');
  if (!Number.isSafeInteger(opts.chunkUnits) || opts.chunkUnits < 1) {
    throw new Error(`runSweep: chunkUnits must be a positive integer, got ${opts.chunkUnits}`);
  }
  const validShard = Number.isSafeInteger(shard.count) && shard.count >= 1 &&
    Number.isSafeInteger(shard.index) && shard.index >= 0 && shard.index < shard.count;
  if (!validShard) throw new Error(`--shard: expected i/n with 0 <= i < n, got ${shard.index}/${shard.count}`);
}

/** A copy with a canonical key order, so that digests and manifests do not depend on how the caller built it. */
function normalizedJob(job: SweepJob): SweepJob {
  return {
    kind: job.kind,
    units: job.units,
    leadingShape: [...job.leadingShape],
    outputs: job.outputs.map((o) => ({ name: o.name, unitShape: [...o.unitShape] })),
    fingerprint: sortedRecord(job.fingerprint),
  };
}

/** What differs between two jobs, naming fields and fingerprint keys; undefined if they are the same sweep. */
function describeJobMismatch(stored: SweepJob, current: SweepJob): string | undefined {
  const differences: string[] = [];
  const fields = ['kind', 'units', 'leadingShape', 'outputs'] as const;
  for (const field of fields) {
    const [was, now] = [JSON.stringify(normalizedJob(stored)[field]), JSON.stringify(normalizedJob(current)[field])];
    if (was !== now) differences.push(`${field} was ${shorten(was)}, now ${shorten(now)}`);
  }
  const fingerprint = describeFingerprintDiff(stored.fingerprint, current.fingerprint);
  if (fingerprint) differences.push(`fingerprint differs: ${fingerprint}`);
  return differences.length > 0 ? differences.join('; ') : undefined;
}

function describeFingerprintDiff(stored: Record<string, string>, current: Record<string, string>): string | undefined {
  const keys = [...new Set([...Object.keys(stored), ...Object.keys(current)])].sort();
  const parts: string[] = [];
  for (const key of keys) {
    const [was, now] = [stored[key], current[key]];
    if (was === now) continue;
    if (was === undefined) parts.push(`"${key}" added (${shorten(now)})`);
    else if (now === undefined) parts.push(`"${key}" removed (was ${shorten(was)})`);
    else parts.push(`"${key}" was ${shorten(was)}, now ${shorten(now)}`);
  }
  return parts.length > 0 ? parts.join(', ') : undefined;
}

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

function typeName(value: unknown): string {
  return value === null || value === undefined ? String(value) : (value as object).constructor?.name ?? typeof value;
}

function product(dims: number[]): number {
  return dims.reduce((p, d) => p * d, 1);
}

function isShape(dims: unknown): dims is number[] {
  return Array.isArray(dims) && dims.every((d) => Number.isSafeInteger(d) && d >= 0);
}

function sameArray(a: number[], b: number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function sortedRecord(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function shorten(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}
