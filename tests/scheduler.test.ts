// Sweep scheduler: chunked runs, kill-and-resume (a real SIGKILLed child process), torn and
// damaged chunk files, resume/overwrite guards, sharding and merging. The fake compute's values
// are arbitrary bit patterns of (unit, output, element), so every check is bit-exact.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { readFile, readdir, rm, stat, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { SafetensorsFile } from '../src/io/safetensors.js';
import {
  type ScheduleOptions,
  type SweepJob,
  assembleSweep,
  mergeShards,
  parseShard,
  readSweepManifest,
  runSweep,
} from '../src/interventions/scheduler.js';
import { FAKE_OUTPUTS, fakeCompute, fakeJob, fakeOutputs } from './helpers/scheduler-worker.js';

const testDir = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(testDir, '..');
const WORKER = path.join(testDir, 'helpers', 'scheduler-worker.ts');
const CHUNK_UNITS = 4; // 35 units -> 9 chunks, the last one of 3 units
const CHUNK_COUNT = 9;

const tempRoot = mkdtempSync(path.join(os.tmpdir(), 'plateau-scheduler-'));
let dirCounter = 0;
const freshDir = () => path.join(tempRoot, `run-${dirCounter++}`);
afterAll(() => rm(tempRoot, { recursive: true, force: true }));

function options(workDir: string, extra: Partial<ScheduleOptions> = {}): ScheduleOptions {
  return { workDir, chunkUnits: CHUNK_UNITS, resume: false, ...extra };
}

async function runAll(workDir: string, extra: Partial<ScheduleOptions> = {}, job: SweepJob = fakeJob()) {
  const fake = fakeCompute();
  const result = await runSweep(job, options(workDir, extra), fake.compute);
  return { ...result, calls: fake.calls };
}

const bytesOf = (data: Float32Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);
const chunkFile = (dir: string, chunk: number) => path.join(dir, `chunk-${String(chunk).padStart(6, '0')}.safetensors`);
const chunkOfCall = ([start]: [number, number]) => start / CHUNK_UNITS;

/** The assembled result must be exactly the fake compute over all 35 units. */
function expectExactResult(tensors: { name: string; shape: number[]; data: Float32Array }[]): void {
  const expected = fakeOutputs(0, 35);
  expect(tensors.map((t) => t.name)).toEqual(FAKE_OUTPUTS.map((o) => o.name));
  tensors.forEach((tensor, i) => {
    expect(tensor.shape).toEqual([5, 7, ...FAKE_OUTPUTS[i].unitShape]);
    expect(bytesOf(tensor.data).equals(bytesOf(expected[i]))).toBe(true);
  });
}

async function readManifestJson(dir: string): Promise<{ finishedChunks: number[] } | undefined> {
  try {
    return JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
  } catch {
    return undefined; // not written yet (or mid-rename: the test simply polls again)
  }
}

describe('runSweep: single process', () => {
  it('computes every chunk once, in order, and assembles the exact tensors', async () => {
    const dir = freshDir();
    const result = await runAll(dir);
    expect(result).toMatchObject({ complete: true, computedChunks: CHUNK_COUNT, reusedChunks: 0, discardedChunks: [] });
    expect(result.calls).toEqual([[0, 4], [4, 8], [8, 12], [12, 16], [16, 20], [20, 24], [24, 28], [28, 32], [32, 35]]);
    const manifest = await readSweepManifest(dir);
    expect(manifest).toMatchObject({ chunkUnits: 4, chunkCount: 9, shard: { index: 0, count: 1 } });
    expect(manifest!.finishedChunks).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const { job, tensors } = await assembleSweep([dir]);
    expect(job).toEqual(fakeJob());
    expectExactResult(tensors);
  });

  it('writes chunk files with [unitsInChunk, ...unitShape] F32 tensors', async () => {
    const dir = freshDir();
    await runAll(dir);
    const last = await SafetensorsFile.openPath(chunkFile(dir, 8));
    expect(last.info('dnll')).toMatchObject({ dtype: 'F32', shape: [3, 3, 4] });
    expect(last.info('dact')).toMatchObject({ dtype: 'F32', shape: [3, 2] });
    expect(last.metadata).toMatchObject({ chunk: '8', start_unit: '32', end_unit: '35' });
    await last.close();
  });

  it('stops after maxChunks or on abort with complete=false, and a resume finishes the rest', async () => {
    const dir = freshDir();
    const partial = await runAll(dir, { maxChunks: 3 });
    expect(partial).toMatchObject({ complete: false, computedChunks: 3 });

    const controller = new AbortController();
    const fake = fakeCompute();
    const abortAfterOne = async (start: number, end: number) => {
      controller.abort();
      return fake.compute(start, end);
    };
    const aborted = await runSweep(fakeJob(), options(dir, { resume: true, signal: controller.signal }), abortAfterOne);
    expect(aborted).toMatchObject({ complete: false, computedChunks: 1, reusedChunks: 3 });

    const rest = await runAll(dir, { resume: true });
    expect(rest).toMatchObject({ complete: true, computedChunks: 5, reusedChunks: 4 });
    expect(rest.calls.map(chunkOfCall)).toEqual([4, 5, 6, 7, 8]);
    expectExactResult((await assembleSweep([dir])).tensors);
  });

  it('resume=true on an empty work dir simply starts the sweep', async () => {
    const result = await runAll(freshDir(), { resume: true });
    expect(result).toMatchObject({ complete: true, computedChunks: CHUNK_COUNT, reusedChunks: 0 });
  });

  it('rejects a compute result with the wrong number or length of outputs', async () => {
    const tooShort = async (start: number, end: number) => [fakeOutputs(start, end)[0], new Float32Array(1)];
    await expect(runSweep(fakeJob(), options(freshDir()), tooShort)).rejects.toThrow(
      /compute\(0, 4\): output "dact" is length 1; expected a Float32Array of length 8/,
    );
    const oneOutput = async (start: number, end: number) => [fakeOutputs(start, end)[0]];
    await expect(runSweep(fakeJob(), options(freshDir()), oneOutput)).rejects.toThrow(/returned 1 output\(s\); expected 2 \(dnll, dact\)/);
  });

  it('rejects an inconsistent job or options', async () => {
    const { compute } = fakeCompute();
    await expect(runSweep({ ...fakeJob(), leadingShape: [5, 6] }, options(freshDir()), compute)).rejects.toThrow(/leadingShape/);
    await expect(runSweep(fakeJob(), options(freshDir(), { chunkUnits: 0 }), compute)).rejects.toThrow(/chunkUnits/);
    await expect(runSweep(fakeJob(), options(freshDir(), { shard: { index: 3, count: 3 } }), compute)).rejects.toThrow(/--shard/);
  });
});

describe('runSweep: resume', () => {
  it('resumes a SIGKILLed run without recomputing finished chunks, bit-identical to an uninterrupted run', async () => {
    const dir = freshDir();
    // `node --import tsx` rather than `npx tsx`: npx and the tsx CLI run the script in a child
    // process, and a SIGKILL cannot be forwarded, so it would orphan the real worker.
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, dir, String(CHUNK_UNITS), '150'], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (data) => (stderr += data));
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));

    const deadline = Date.now() + 30_000;
    while (((await readManifestJson(dir))?.finishedChunks.length ?? 0) < 2) {
      if (child.exitCode !== null) throw new Error(`worker exited early (${child.exitCode}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`worker made no progress in 30 s: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const finishedAtKill = (await readManifestJson(dir))!.finishedChunks;
    expect(finishedAtKill.length).toBeGreaterThanOrEqual(2);
    expect(finishedAtKill.length).toBeLessThan(CHUNK_COUNT);

    const resumed = await runAll(dir, { resume: true });
    const recomputed = resumed.calls.map(chunkOfCall);
    expect(resumed.complete).toBe(true);
    expect(recomputed.filter((chunk) => finishedAtKill.includes(chunk))).toEqual([]); // (a) nothing finished redone
    expect(new Set(recomputed).size).toBe(recomputed.length); // no chunk twice
    expect(resumed.reusedChunks).toBeGreaterThanOrEqual(finishedAtKill.length);
    expect(resumed.reusedChunks + resumed.computedChunks).toBe(CHUNK_COUNT);
    const recomputedUnits = resumed.calls.reduce((sum, [start, end]) => sum + end - start, 0);
    const reusedUnits = (await readSweepManifest(dir))!.finishedChunks
      .filter((chunk) => !recomputed.includes(chunk))
      .reduce((sum, chunk) => sum + Math.min(35, (chunk + 1) * CHUNK_UNITS) - chunk * CHUNK_UNITS, 0);
    expect(recomputedUnits + reusedUnits).toBe(35);

    const uninterrupted = freshDir();
    await runAll(uninterrupted);
    const [a, b] = await Promise.all([assembleSweep([dir]), assembleSweep([uninterrupted])]); // (b) bit-identical
    a.tensors.forEach((tensor, i) => expect(bytesOf(tensor.data).equals(bytesOf(b.tensors[i].data))).toBe(true));
    expectExactResult(a.tensors);
  }, 60_000);

  it('recomputes torn, corrupted and deleted chunk files and removes leftover .tmp files', async () => {
    const dir = freshDir();
    await runAll(dir);
    await truncate(chunkFile(dir, 3), Math.floor((await stat(chunkFile(dir, 3))).size / 2)); // torn
    const damaged = await readFile(chunkFile(dir, 6));
    damaged[damaged.length - 1] ^= 0x01; // one flipped bit in the data: only the checksum sees it
    await writeFile(chunkFile(dir, 6), damaged);
    await rm(chunkFile(dir, 7)); // listed in the manifest, but gone
    await writeFile(`${chunkFile(dir, 5)}.tmp`, 'half a write');

    const resumed = await runAll(dir, { resume: true });
    expect(resumed).toMatchObject({ complete: true, computedChunks: 3, reusedChunks: 6, discardedChunks: [3, 6, 7] });
    expect(resumed.calls.map(chunkOfCall)).toEqual([3, 6, 7]);
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expectExactResult((await assembleSweep([dir])).tensors);
  });

  it('adopts a valid chunk file the manifest missed (killed between rename and manifest update)', async () => {
    const dir = freshDir();
    await runAll(dir);
    const manifestPath = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8'));
    manifest.finishedChunks = manifest.finishedChunks.filter((c: number) => c !== 2);
    await writeFile(manifestPath, JSON.stringify(manifest));

    const resumed = await runAll(dir, { resume: true });
    expect(resumed).toMatchObject({ complete: true, computedChunks: 0, reusedChunks: CHUNK_COUNT });
    expect((await readSweepManifest(dir))!.finishedChunks).toContain(2);
  });

  it('refuses to resume with a different fingerprint, naming the differing keys', async () => {
    const dir = freshDir();
    await runAll(dir, { maxChunks: 2 });
    const other = fakeJob({ model_sha: 'bbbb', seed: '7' });
    const attempt = runAll(dir, { resume: true }, other);
    await expect(attempt).rejects.toThrow(/manifest\.json: cannot resume: .*fingerprint differs: "model_sha" was aaaa, now bbbb, "seed" added/);
  });

  it('refuses to resume with another job shape, chunk size or shard', async () => {
    const dir = freshDir();
    await runAll(dir, { maxChunks: 2 });
    await expect(runAll(dir, { resume: true }, { ...fakeJob(), kind: 'other' })).rejects.toThrow(/kind was "test-sweep", now "other"/);
    await expect(runAll(dir, { resume: true, chunkUnits: 5 })).rejects.toThrow(/chunkUnits=4, this run uses chunkUnits=5/);
    await expect(runAll(dir, { resume: true, shard: { index: 1, count: 3 } })).rejects.toThrow(/holds shard 0\/1, this run is shard 1\/3/);
  });

  it('never silently overwrites finished work without resume', async () => {
    const dir = freshDir();
    await runAll(dir, { maxChunks: 2 });
    const before = await readFile(path.join(dir, 'manifest.json'), 'utf8');
    await expect(runAll(dir)).rejects.toThrow(/2 of 9 chunks finished is already here\. Pass --resume/);
    expect(await readFile(path.join(dir, 'manifest.json'), 'utf8')).toBe(before);
  });

  it('refuses a work dir with chunk files but no manifest', async () => {
    const dir = freshDir();
    await runAll(dir, { maxChunks: 1 });
    await rm(path.join(dir, 'manifest.json'));
    await expect(runAll(dir, { resume: true })).rejects.toThrow(/holds 1 chunk file\(s\) but no manifest\.json/);
  });
});

describe('sharding and merging', () => {
  async function runShards(count: number, skip: number[] = []): Promise<string[]> {
    const dirs: string[] = [];
    for (let index = 0; index < count; index++) {
      const dir = freshDir();
      dirs.push(dir);
      if (skip.includes(index)) continue;
      const result = await runAll(dir, { shard: { index, count } });
      expect(result.complete).toBe(true);
      expect(result.calls.map(chunkOfCall).every((chunk) => chunk % count === index)).toBe(true);
    }
    return dirs;
  }

  it('shards 0/3, 1/3, 2/3 merged give the same file as one run, in any order', async () => {
    const single = freshDir();
    await runAll(single);
    const oneRun = path.join(tempRoot, 'one-run.safetensors');
    await mergeShards([single], oneRun, { note: 'x' });

    const shards = await runShards(3);
    const merged = path.join(tempRoot, 'merged.safetensors');
    await mergeShards([shards[2], shards[0], shards[1]], merged, { note: 'x' });
    expect((await readFile(merged)).equals(await readFile(oneRun))).toBe(true);

    const file = await SafetensorsFile.openPath(merged);
    expect(file.info('dnll').shape).toEqual([5, 7, 3, 4]);
    expect(file.metadata).toMatchObject({ note: 'x', plateau_sweep_kind: 'test-sweep' });
    expectExactResult([
      { name: 'dnll', shape: file.info('dnll').shape, data: await file.readF32('dnll') },
      { name: 'dact', shape: file.info('dact').shape, data: await file.readF32('dact') },
    ]);
    await file.close();
  });

  it('names a missing shard and the unfinished chunks of an incomplete one', async () => {
    const shards = await runShards(3, [1]);
    const out = path.join(tempRoot, 'never.safetensors');
    await expect(mergeShards([shards[0], shards[2]], out)).rejects.toThrow(/shard 1\/3 is missing \(no work dir given for it; chunks 1, 4, 7\)/);

    await runAll(shards[1], { shard: { index: 1, count: 3 }, maxChunks: 1 });
    await expect(mergeShards(shards, out)).rejects.toThrow(/shard 1\/3 in .* is incomplete: chunks 4, 7 \(2 of 3\) not finished; rerun it with --resume/);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
  });

  it('refuses shard dirs of different sweeps, and a shard given twice', async () => {
    const shards = await runShards(2);
    const foreign = freshDir();
    await runAll(foreign, { shard: { index: 1, count: 2 } }, fakeJob({ ids_hash: '9999' }));
    const out = path.join(tempRoot, 'never.safetensors');
    await expect(mergeShards([shards[0], foreign], out)).rejects.toThrow(/different sweeps \(fingerprint differs: "ids_hash" was 1234, now 9999\)/);
    await expect(mergeShards([shards[0], shards[1], shards[1]], out)).rejects.toThrow(/both hold shard 1\/2/);
    await expect(mergeShards([freshDir()], out)).rejects.toThrow(/no manifest\.json/);
  });

  it('reports a finished chunk whose file was damaged afterwards, naming the file', async () => {
    const dir = freshDir();
    await runAll(dir);
    await truncate(chunkFile(dir, 4), 100);
    await expect(assembleSweep([dir])).rejects.toThrow(/chunk-000004\.safetensors: .*rerun shard 0\/1 with --resume/);
  });

  it('parses shard flags', () => {
    expect(parseShard('1/3')).toEqual({ index: 1, count: 3 });
    expect(() => parseShard('3/3')).toThrow(/--shard: expected i\/n/);
    expect(() => parseShard('x')).toThrow(/--shard/);
  });
});
