// The profiler on the gpt2-tiny fixture: expected kernels in the table, positive per-kernel sums,
// a trace with one complete event per dispatch, the CPU-timed fallback, and nothing recorded (no
// hooks set) when profiling is off; `plateau profile` end to end.
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gpu } from '../src/gpu/device.js';
import { loadModel } from '../src/model/load.js';
import { runSequences } from '../src/model/run.js';
import type { Transformer } from '../src/model/forward.js';
import { Profiler, timestampQuantumUs, toChromeTrace, toTable, type ProfileReport } from '../src/gpu/profiler.js';
import { PROFILE_WORKLOADS, profileRuns, profileWorkload } from '../src/interventions/profile-workload.js';
import { fixtureDir, readReference } from './fixtures.js';
import { runCli, tempDir } from './helpers/cli.js';

const EXPECTED_KERNELS = ['matmul-', 'layernorm', 'attention-dh16', 'gelu-tanh', 'add-inplace', 'embed-gather-f32', 'lse-update', 'nll-finalize'];

let gpu: Gpu;
let model: Transformer;
let ids: Int32Array;
let B: number;
let T: number;

/** Counts Gpu.dispatch calls (independently of the profiler) while `body` runs. */
async function countDispatches(body: () => Promise<void>): Promise<number> {
  const original = gpu.dispatch;
  let n = 0;
  gpu.dispatch = function (this: Gpu, ...args: Parameters<Gpu['dispatch']>) {
    n++;
    return original.apply(this, args);
  } as Gpu['dispatch'];
  try {
    await body();
  } finally {
    gpu.dispatch = original;
  }
  return n;
}

function checkReport(report: ProfileReport, dispatched: number): void {
  expect(report.dispatches).toHaveLength(dispatched);
  expect(report.skipped).toBe(0);
  const names = report.kernels.map((k) => k.kernel);
  for (const expected of EXPECTED_KERNELS) expect(names.some((n) => n.startsWith(expected)), expected).toBe(true);
  let calls = 0;
  for (const k of report.kernels) {
    expect(k.totalMs, k.kernel).toBeGreaterThan(0);
    expect(k.meanUs).toBeCloseTo((k.totalMs * 1000) / k.calls, 6);
    calls += k.calls;
  }
  expect(calls).toBe(dispatched);
  expect(report.kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 9);
  expect(report.gpuSumMs).toBeGreaterThan(0);
  const matmul = report.kernels.find((k) => k.kernel.startsWith('matmul-'))!;
  expect(matmul.gflops).toBeGreaterThan(0);
  expect(matmul.gbps).toBeGreaterThan(0);

  const table = toTable(report);
  for (const k of report.kernels) expect(table).toContain(k.kernel);
  expect(table).toMatch(/sum of pass durations/);

  const trace = JSON.parse(toChromeTrace(report));
  const events = (trace.traceEvents as { ph: string; ts: number; dur: number; name: string; pid: number; tid: number; args: { flops: number; bytes: number } }[]).filter((e) => e.ph === 'X');
  expect(events).toHaveLength(dispatched);
  for (const e of events) {
    expect(e.ts).toBeGreaterThanOrEqual(0);
    expect(e.dur).toBeGreaterThanOrEqual(0);
    expect(typeof e.pid).toBe('number');
    expect(typeof e.tid).toBe('number');
    expect(typeof e.args.flops).toBe('number');
    expect(typeof e.args.bytes).toBe('number');
  }
}

beforeAll(async () => {
  gpu = await Gpu.create({ dawnFlags: ['disable-dawn-features=timestamp_quantization'] });
  model = await loadModel(gpu, fixtureDir('gpt2-tiny'));
  const ref = await readReference('gpt2-tiny');
  ({ ids, B, T } = ref);
  await ref.file.close();
  await runSequences(model, ids, B, T); // warm-up: compile outside the profiled region
});

afterAll(() => {
  model?.destroy();
  gpu?.destroy();
});

describe('Profiler on gpt2-tiny', () => {
  it('timestamp mode: expected kernels, positive sums, one trace event per dispatch', async () => {
    expect(gpu.hasTimestamps).toBe(true); // lavapipe offers timestamp-query
    const profiler = Profiler.attach(gpu);
    expect(profiler.mode).toBe('timestamp');
    expect(() => Profiler.attach(gpu)).toThrow(/already attached/);
    let dispatched = 0;
    try {
      dispatched = await countDispatches(async () => {
        for (let i = 0; i < 2; i++) await runSequences(model, ids, B, T);
      });
      const report = await profiler.collect();
      checkReport(report, dispatched);
      // Pass durations lie within the GPU span, which lies within the wall clock of the region.
      expect(report.gpuSumMs).toBeLessThanOrEqual(report.gpuSpanMs * 1.0001);
      expect(report.gpuSpanMs).toBeLessThanOrEqual(report.wallMs);
      // Dispatches are in order and do not overlap.
      for (let i = 1; i < report.dispatches.length; i++) {
        expect(report.dispatches[i].startNs).toBeGreaterThanOrEqual(report.dispatches[i - 1].startNs);
      }
      // reset() forgets everything; recording goes on.
      profiler.reset();
      const again = await countDispatches(() => runSequences(model, ids, B, T).then(() => {}));
      expect((await profiler.collect()).dispatches).toHaveLength(again);
    } finally {
      profiler.detach();
    }
  });

  it('thousands of dispatches over many submissions (query sets reused) are all timed', async () => {
    const a = gpu.createBuffer('a', 1024 * 4);
    const b = gpu.createBuffer('b', 1024 * 4);
    const profiler = Profiler.attach(gpu);
    try {
      // Gpu submits every 512 dispatches: 3000 dispatches cross several submissions and readbacks.
      for (let i = 0; i < 3000; i++) model.kernels.addInPlace(a, b, 1024);
      const report = await profiler.collect();
      expect(report.dispatches).toHaveLength(3000);
      expect(report.skipped).toBe(0);
      expect(report.kernels.map((k) => k.kernel)).toEqual(['add-inplace']);
      for (const d of report.dispatches) expect(d.endNs).toBeGreaterThanOrEqual(d.startNs);
    } finally {
      profiler.detach();
      a.destroy();
      b.destroy();
    }
  });

  it('cpu mode (no timestamp-query fallback): replayed dispatches, same kernels', async () => {
    const profiler = Profiler.attach(gpu, { mode: 'cpu' });
    try {
      const dispatched = await countDispatches(() => runSequences(model, ids, B, T).then(() => {}));
      const report = await profiler.collect();
      expect(report.mode).toBe('cpu');
      expect(report.note).toMatch(/replayed/);
      expect(report.syncOverheadUs).toBeGreaterThan(0);
      checkReport(report, dispatched);
    } finally {
      profiler.detach();
    }
  });

  it('profiling off records nothing and leaves no hooks', async () => {
    const profiler = Profiler.attach(gpu);
    profiler.detach();
    expect(gpu.passTimestampWrites).toBeNull();
    expect(gpu.submitHook).toBeNull();
    expect(gpu.recordHook).toBeNull();
    expect(gpu.dispatchHook).toBeNull();
    const n = await countDispatches(() => runSequences(model, ids, B, T).then(() => {}));
    expect(n).toBeGreaterThan(0);
    const report = await profiler.collect();
    expect(report.dispatches).toHaveLength(0);
    expect(report.kernels).toHaveLength(0);
    expect(report.gpuSumMs).toBe(0);
    // and a new profiler can attach again
    Profiler.attach(gpu).detach();
  });
});

describe('timestamp rounding', () => {
  const report = (times: number[][], mode: 'timestamp' | 'cpu' = 'timestamp') => ({
    mode, dispatches: times.map(([startNs, endNs], index) => ({ index, kernel: 'k', startNs, endNs, flops: 0, bytes: 0 })),
  });
  it('names Chrome\'s 100 µs and Dawn\'s 65.536 µs steps, and nothing for exact or CPU-timed reports', () => {
    expect(timestampQuantumUs(report([[0, 100_000], [100_000, 100_000], [200_000, 400_000], [400_000, 500_000]]))).toBe(100);
    expect(timestampQuantumUs(report([[0, 65_536], [65_536, 131_072], [131_072, 131_072], [131_072, 196_608]]))).toBe(65.536);
    expect(timestampQuantumUs(report([[0, 1234], [1300, 5000], [5100, 9000], [9100, 9400]]))).toBeNull();
    expect(timestampQuantumUs(report([[0, 100_000], [100_000, 200_000], [200_000, 300_000], [300_000, 400_000]], 'cpu'))).toBeNull();
    expect(timestampQuantumUs(report([[0, 100_000]]))).toBeNull(); // too few to tell
  });
});

describe('profile workloads (shared by the CLI and the page)', () => {
  it('each workload profiles: forward, sweeps and patching; patching needs two rows', async () => {
    expect([...PROFILE_WORKLOADS]).toEqual(['forward', 'neurons', 'heads', 'heads-bos', 'patch']);
    const ctx = { model, ids, B, T };
    const seen: Record<string, string[]> = {};
    for (const kind of PROFILE_WORKLOADS) {
      const work = profileWorkload(kind, ctx);
      await work(); // warm-up
      const report = await profileRuns(gpu, work, 2, { onRun: (n) => expect(n).toBeGreaterThan(0) });
      expect(report.dispatches.length, kind).toBeGreaterThan(0);
      seen[kind] = report.kernels.map((k) => k.kernel);
    }
    expect(seen.forward.some((k) => k.startsWith('attention-'))).toBe(true);
    expect(seen.neurons.some((k) => k.startsWith('neuron-closed-form') || k.includes('pair'))).toBe(true);
    expect(() => profileWorkload('patch', { model, ids: ids.subarray(0, T), B: 1, T })).toThrow(/token ids need two or more rows/);
  });
});

describe('plateau profile', () => {
  it('prints the table and the agreement lines, writes a trace with one event per dispatch', async () => {
    const dir = tempDir();
    const trace = path.join(dir, 'trace.json');
    const json = path.join(dir, 'report.json');
    const ids = path.join(fixtureDir('gpt2-tiny'), 'reference.safetensors');
    const res = await runCli(['profile', '--model', fixtureDir('gpt2-tiny'), '--ids', ids, '--repeat', '2', '--trace', trace, '--json', json]);
    expect(res.stderr).not.toMatch(/plateau:/);
    expect(res.code).toBe(0);
    for (const k of EXPECTED_KERNELS) expect(res.stdout).toContain(k);
    expect(res.stdout).toMatch(/sum of pass durations: [\d.]+ ms/);
    expect(res.stdout).toMatch(/GPU span \(first begin → last end\): [\d.]+ ms/);
    expect(res.stdout).toMatch(/wall clock of the region \(with queue sync\): [\d.]+ ms/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    const events = JSON.parse(readFileSync(trace, 'utf8')).traceEvents.filter((e: { ph: string }) => e.ph === 'X');
    expect(events).toHaveLength(report.dispatchCount);
    expect(report.kernels.length).toBeGreaterThanOrEqual(EXPECTED_KERNELS.length);
    const bad = await runCli(['profile', '--model', fixtureDir('gpt2-tiny'), '--ids', ids, '--repeat', '0']);
    expect(bad.stderr).toMatch(/--repeat 0: expected a positive integer/);
  });

  it('--matmul and --attention force kernels (stream-K with PLATEAU_STREAMK_GRID); unknown names are refused with the allowed ones', async () => {
    const dir = tempDir();
    const json = path.join(dir, 'report.json');
    const ids = path.join(fixtureDir('gpt2-tiny'), 'reference.safetensors');
    const kernelsOf = async (extra: string[], env: Record<string, string> = {}) => {
      const res = await runCli(['profile', '--model', fixtureDir('gpt2-tiny'), '--ids', ids, '--repeat', '1', '--json', json, ...extra], env);
      expect(res.stderr).not.toMatch(/plateau:/);
      return (JSON.parse(readFileSync(json, 'utf8')).kernels as { kernel: string }[]).map((k) => k.kernel);
    };
    const forced = await kernelsOf(['--matmul', 'register', '--attention', 'simple']);
    expect(forced.filter((k) => k.startsWith('matmul-'))).toEqual(['matmul-register-f32']);
    expect(forced).toContain('attention-dh16');
    expect(forced).not.toContain('attention-dh16-tiled');
    // gpt2-tiny's widths are multiples of 4: the stream-K variant runs itself, main pass and fixup.
    const streamK = await kernelsOf(['--matmul', 'vec4-128x64-sk'], { PLATEAU_STREAMK_GRID: '3' });
    expect(streamK.some((k) => /^matmul-vec4-128x64-sk-(kn|nk)-f32$/.test(k))).toBe(true);
    expect(streamK.some((k) => /^matmul-vec4-128x64-sk-(kn|nk)-f32-fixup$/.test(k))).toBe(true);
    const bad = await runCli(['run', '--model', fixtureDir('gpt2-tiny'), '--ids', ids, '--matmul', 'fastest', '--out', path.join(dir, 'x.safetensors')]);
    expect(bad.stderr).toMatch(/--matmul <variant>' argument 'fastest' is invalid.*register, shared/s);
  });

  it('--sweep profiles whole sweeps: the closed form\'s, the single-position and the cached-rows kernels appear', async () => {
    const ids = path.join(fixtureDir('pythia-tiny'), 'reference.safetensors');
    for (const [sweep, kernel] of [['neurons', 'neuron-closed-form-pair_lse_update'], ['heads-bos', 'single-position-redirect-z'], ['patch', 'single-position-cached_attention']]) {
      const res = await runCli(['profile', '--model', fixtureDir('pythia-tiny'), '--ids', ids, '--repeat', '1', '--sweep', sweep]);
      expect(res.stderr).not.toMatch(/plateau:/);
      expect(res.code).toBe(0);
      expect(res.stdout).toContain(`1 ${sweep} sweep of 4×32 tokens`);
      expect(res.stdout).toContain(kernel);
    }
  });

  it('--autotune times the forward\'s matmul shapes, caches the choices and profiles with them', async () => {
    const cache = path.join(tempDir(), 'autotune.json');
    const ids = path.join(fixtureDir('gpt2-tiny'), 'reference.safetensors');
    const res = await runCli(['profile', '--model', fixtureDir('gpt2-tiny'), '--ids', ids, '--repeat', '1', '--autotune'], { PLATEAU_AUTOTUNE_CACHE: cache });
    expect(res.stderr).not.toMatch(/plateau:/);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/autotune: 5 matmul shapes/);
    expect(res.stdout).toMatch(/autotune cache in use/);
    const file = JSON.parse(readFileSync(cache, 'utf8'));
    const all = Object.values(file.adapters)[0] as Record<string, Record<string, { variant: string }>>;
    const entries = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('attention:')));
    expect(Object.keys(entries).sort()).toEqual(['256x64:f32:kn', '64x1000:f32:nk', '64x192:f32:kn', '64x256:f32:kn', '64x64:f32:kn']);
    // the profiled forward ran the chosen variants, the attention kernel included
    for (const byM of Object.values(entries)) expect(res.stdout).toContain(`matmul-${Object.values(byM)[0].variant}`);
    const attention = all['attention:dh16'].all.variant;
    expect(res.stdout).toMatch(new RegExp(`attention \\(dh 16\\): ${attention}`));
    expect(res.stdout).toContain(attention === 'tiled' ? 'attention-dh16-tiled' : 'attention-dh16 ');
  });
});
