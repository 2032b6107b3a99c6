// Fake sweep for the scheduler tests. Imported by tests/scheduler.test.ts for the job and the
// deterministic compute; run as a script (`node --import tsx scheduler-worker.ts WORKDIR
// CHUNK_UNITS DELAY_MS`) it starts that sweep in WORKDIR, sleeping DELAY_MS per chunk so the
// test can SIGKILL it midway.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type ComputeChunk, type SweepJob, runSweep } from '../../src/interventions/scheduler.js';

export const FAKE_LEADING_SHAPE = [5, 7];
export const FAKE_OUTPUTS = [
  { name: 'dnll', unitShape: [3, 4] },
  { name: 'dact', unitShape: [2] },
];

export function fakeJob(fingerprint: Record<string, string> = {}): SweepJob {
  return {
    kind: 'test-sweep',
    units: FAKE_LEADING_SHAPE[0] * FAKE_LEADING_SHAPE[1],
    leadingShape: [...FAKE_LEADING_SHAPE],
    outputs: FAKE_OUTPUTS.map((o) => ({ name: o.name, unitShape: [...o.unitShape] })),
    fingerprint: { model: 'fake-model', model_sha: 'aaaa', ids_hash: '1234', ...fingerprint },
  };
}

/** Arbitrary 32-bit patterns (NaN payloads, -0, subnormals, inf included): only a byte copy preserves them. */
export function fakeBits(unit: number, output: number, element: number): number {
  let h = Math.imul(unit * 1_000_003 + output * 7919 + element + 1, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  h ^= h >>> 13;
  return h >>> 0;
}

function perUnit(output: number): number {
  return FAKE_OUTPUTS[output].unitShape.reduce((a, b) => a * b, 1);
}

/** The output blocks of units [start, end), exactly as the fake compute produces them. */
export function fakeOutputs(start: number, end: number): Float32Array[] {
  return FAKE_OUTPUTS.map((_, output) => {
    const size = perUnit(output);
    const bits = new Uint32Array((end - start) * size);
    for (let unit = start; unit < end; unit++) {
      for (let k = 0; k < size; k++) bits[(unit - start) * size + k] = fakeBits(unit, output, k);
    }
    return new Float32Array(bits.buffer);
  });
}

/** A compute that records its calls and sleeps `delayMs` before each chunk. */
export function fakeCompute(delayMs = 0): { compute: ComputeChunk; calls: [number, number][] } {
  const calls: [number, number][] = [];
  const compute: ComputeChunk = async (start, end) => {
    calls.push([start, end]);
    if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return fakeOutputs(start, end);
  };
  return { compute, calls };
}

async function main(): Promise<void> {
  const [workDir, chunkUnits, delayMs] = process.argv.slice(2);
  const { compute } = fakeCompute(Number(delayMs));
  await runSweep(fakeJob(), { workDir, chunkUnits: Number(chunkUnits), resume: false }, compute);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
