// Per-dispatch GPU profiler. Attach it to a Gpu and every compute pass recorded afterwards is timed:
//
// - 'timestamp' mode (the adapter offers `timestamp-query`): each pass gets timestampWrites into a
//   QuerySet (begin and end of pass); just before each submission the used queries are resolved
//   into a buffer and copied to a mappable one, which is read back later (at the next submission
//   or at collect()). Costs two timestamp writes per pass and nothing on the CPU path. In Node,
//   open the Gpu with Dawn's `disable-dawn-features=timestamp_quantization`, or timestamps are
//   rounded to 65.536 µs.
// - 'cpu' mode (no timestamp-query, or forced): every dispatch is recorded (pipeline, bindings, a
//   copy of its uniforms) and, at collect(), replayed on its own between queue syncs and timed with
//   the CPU clock. Slow, and each duration includes one submit + sync round trip (measured with an
//   empty submission and reported), but honest. Dispatches whose buffers were destroyed before
//   collect() cannot be replayed and are counted as such.
//
// Profiling off costs nothing: the Gpu's hooks stay null until attach() and are cleared by detach().
import type { Gpu, KernelWork, RecordedDispatch } from './device.js';

export type ProfileMode = 'timestamp' | 'cpu';

export interface DispatchTiming {
  /** Order of recording within the profiled region. */
  index: number;
  kernel: string;
  /** Begin and end, ns, relative to the earliest begin in the report. */
  startNs: number;
  endNs: number;
  flops: number;
  bytes: number;
}

export interface KernelStats {
  kernel: string;
  calls: number;
  totalMs: number;
  meanUs: number;
  /** Fraction of the sum of all pass durations. */
  share: number;
  flops: number;
  bytes: number;
  /** flops / time and bytes / time over this kernel's total time (0 when no work was declared). */
  gflops: number;
  gbps: number;
}

export interface ProfileReport {
  mode: ProfileMode;
  /** What the numbers mean and how they were measured. */
  note: string;
  adapter: string;
  dispatches: DispatchTiming[];
  /** Sorted by total time, largest first. */
  kernels: KernelStats[];
  /** Sum of all pass durations. */
  gpuSumMs: number;
  /** From the first pass's begin to the last pass's end (timestamp mode; in cpu mode, the sum of replays). */
  gpuSpanMs: number;
  /** Wall clock of the profiled region (attach()/reset() until collect(), after a queue sync). */
  wallMs: number;
  /** cpu mode: dispatches that could not be replayed (their buffers were destroyed). */
  skipped: number;
  /** cpu mode: the measured submit + sync overhead included in each duration, µs. */
  syncOverheadUs?: number;
}

export interface ProfilerOptions {
  /** Force a mode; default: 'timestamp' when the device has `timestamp-query`, else 'cpu'. */
  mode?: ProfileMode;
}

interface PendingDispatch {
  kernel: string;
  flops: number;
  bytes: number;
  begin: number; // ns (absolute GPU clock) or NaN until read back
  end: number;
}

/** Queries per QuerySet (the WebGPU maximum): 2048 passes. */
const QUERY_CAPACITY = 4096;

interface ActiveSet {
  set: GPUQuerySet;
  used: number;
  /** Dispatch index of each query pair (slot / 2). */
  owners: number[];
}

interface Readback {
  staging: GPUBuffer;
  resolve: GPUBuffer;
  owners: number[];
  generation: number;
  done: Promise<void> | null;
}

const attached = new WeakMap<Gpu, Profiler>();

export class Profiler {
  readonly gpu: Gpu;
  readonly mode: ProfileMode;
  private records: PendingDispatch[] = [];
  private replays: (RecordedDispatch | null)[] = [];
  private sets: ActiveSet[] = [];
  private spare: ActiveSet[] = [];
  private readbacks: Readback[] = [];
  private regionStart = performance.now();
  private attachedNow = false;
  /** Bumped by reset(): readbacks of an older generation are dropped. */
  private generation = 0;
  /** First GPU tick seen: ticks are u64, kept exact by subtracting it before converting to Number. */
  private baseTick: bigint | null = null;

  private constructor(gpu: Gpu, mode: ProfileMode) {
    this.gpu = gpu;
    this.mode = mode;
  }

  /** Starts profiling every dispatch of `gpu` (one profiler per Gpu at a time). */
  static attach(gpu: Gpu, options: ProfilerOptions = {}): Profiler {
    if (attached.has(gpu) || gpu.passTimestampWrites || gpu.recordHook || gpu.submitHook) {
      throw new Error('a profiler is already attached to this GPU device: detach() it first');
    }
    const mode = options.mode ?? (gpu.hasTimestamps ? 'timestamp' : 'cpu');
    if (mode === 'timestamp' && !gpu.hasTimestamps) {
      throw new Error('timestamp profiling needs the timestamp-query feature, which this adapter does not offer (use mode "cpu")');
    }
    // Work recorded before attach() must not be counted: submit it now.
    gpu.flush();
    const profiler = new Profiler(gpu, mode);
    profiler.install();
    return profiler;
  }

  private install(): void {
    const gpu = this.gpu;
    attached.set(gpu, this);
    this.attachedNow = true;
    if (this.mode === 'timestamp') {
      gpu.passTimestampWrites = (kernel, work) => this.onPass(kernel, work);
      gpu.submitHook = (encoder) => this.onSubmit(encoder);
    } else {
      gpu.recordHook = (d) => this.onRecord(d);
    }
    this.regionStart = performance.now();
  }

  /** Stops profiling: the Gpu's hooks are cleared (queries recorded so far can still be collected). */
  detach(): void {
    if (!this.attachedNow) return;
    const gpu = this.gpu;
    // Resolve what was recorded with the hooks still in place.
    gpu.flush();
    gpu.passTimestampWrites = null;
    gpu.submitHook = null;
    gpu.recordHook = null;
    attached.delete(gpu);
    this.attachedNow = false;
  }

  get attached(): boolean {
    return this.attachedNow;
  }

  /** Forgets everything recorded so far and restarts the region's wall clock. */
  reset(): void {
    this.gpu.flush();
    this.records = [];
    this.replays = [];
    this.generation++;
    // Everything is submitted (flush above): map what is outstanding, results are dropped.
    for (const r of this.readbacks) r.done ??= this.finishReadback(r);
    this.readbacks = [];
    this.regionStart = performance.now();
  }

  /** Number of dispatches recorded so far. */
  get count(): number {
    return this.mode === 'timestamp' ? this.records.length : this.replays.length;
  }

  // ---- timestamp mode ----

  private onPass(kernel: string, work?: KernelWork): GPUComputePassTimestampWrites {
    let active = this.sets.find((s) => s.used < QUERY_CAPACITY);
    if (!active) {
      active = this.spare.pop() ?? {
        set: this.gpu.device.createQuerySet({ label: 'plateau-profiler', type: 'timestamp', count: QUERY_CAPACITY }),
        used: 0,
        owners: [],
      };
      this.sets.push(active);
    }
    const index = this.records.length;
    this.records.push({ kernel, flops: work?.flops ?? 0, bytes: work?.bytes ?? 0, begin: NaN, end: NaN });
    const slot = active.used;
    active.used += 2;
    active.owners.push(index);
    return { querySet: active.set, beginningOfPassWriteIndex: slot, endOfPassWriteIndex: slot + 1 };
  }

  /** Before a submission: resolve this encoder's queries; start reading back earlier submissions. */
  private onSubmit(encoder: GPUCommandEncoder): void {
    const device = this.gpu.device;
    // Readbacks created at earlier submissions have been submitted by now: map them.
    for (const r of this.readbacks) r.done ??= this.finishReadback(r);
    for (const active of this.sets) {
      if (active.used === 0) continue;
      const bytes = active.used * 8;
      const resolve = device.createBuffer({ label: 'profiler-resolve', size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      const staging = device.createBuffer({ label: 'profiler-readback', size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      encoder.resolveQuerySet(active.set, 0, active.used, resolve, 0);
      encoder.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
      this.readbacks.push({ staging, resolve, owners: active.owners, generation: this.generation, done: null });
      // Later submissions write the set again only after this resolve (queue order): reuse it.
      active.used = 0;
      active.owners = [];
    }
    // Keep one set active, the others spare.
    while (this.sets.length > 1) this.spare.push(this.sets.pop()!);
  }

  private async finishReadback(r: Readback): Promise<void> {
    try {
      await r.staging.mapAsync(GPUMapMode.READ);
    } catch {
      r.resolve.destroy();
      return; // device lost or destroyed: these dispatches stay without a timing
    }
    const ticks = new BigUint64Array(r.staging.getMappedRange().slice(0));
    r.staging.unmap();
    r.staging.destroy();
    r.resolve.destroy();
    if (r.generation !== this.generation) return; // reset() in between
    r.owners.forEach((index, i) => {
      const rec = this.records[index];
      const begin = ticks[2 * i];
      const end = ticks[2 * i + 1];
      if (!rec || begin === 0n || end === 0n) return; // a query never written
      this.baseTick ??= begin;
      rec.begin = Number(begin - this.baseTick);
      rec.end = Number(end - this.baseTick);
    });
  }

  // ---- cpu mode ----

  private onRecord(d: RecordedDispatch): void {
    this.replays.push(d);
  }

  private async replayAll(): Promise<{ timings: PendingDispatch[]; skipped: number; overheadUs: number }> {
    const device = this.gpu.device;
    const queue = device.queue;
    // Submit + sync round trip with nothing in it, median of a few.
    const empty: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      queue.submit([device.createCommandEncoder().finish()]);
      await queue.onSubmittedWorkDone();
      empty.push((performance.now() - t0) * 1000);
    }
    empty.sort((a, b) => a - b);
    const overheadUs = empty[3];
    const timings: PendingDispatch[] = [];
    let skipped = 0;
    let clock = 0;
    const uniformBuffers = new Map<number, GPUBuffer>();
    for (const d of this.replays) {
      if (!d) continue;
      const work = d.work;
      let uniform: GPUBuffer | null = null;
      if (d.uniform) {
        const size = d.uniform.bytes.byteLength;
        uniform = uniformBuffers.get(size) ?? device.createBuffer({ label: 'profiler-uniform', size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
        uniformBuffers.set(size, uniform);
        queue.writeBuffer(uniform, 0, d.uniform.bytes as Uint8Array<ArrayBuffer>);
      }
      device.pushErrorScope('validation');
      const entries = d.uniform ? [...d.entries, { binding: d.uniform.binding, resource: { buffer: uniform! } }] : d.entries;
      const bindGroup = device.createBindGroup({ label: d.kernel, layout: d.pipeline.getBindGroupLayout(0), entries });
      const encoder = device.createCommandEncoder({ label: 'profiler-replay' });
      const pass = encoder.beginComputePass({ label: d.kernel });
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...d.workgroups);
      pass.end();
      const commands = encoder.finish();
      await queue.onSubmittedWorkDone(); // the uniform write lands before the clock starts
      const t0 = performance.now();
      queue.submit([commands]);
      await queue.onSubmittedWorkDone();
      const dt = (performance.now() - t0) * 1e6;
      const err = await device.popErrorScope();
      if (err) {
        skipped++;
        continue;
      }
      timings.push({ kernel: d.kernel, flops: work?.flops ?? 0, bytes: work?.bytes ?? 0, begin: clock, end: clock + dt });
      clock += dt;
    }
    for (const b of uniformBuffers.values()) b.destroy();
    return { timings, skipped, overheadUs };
  }

  /**
   * Waits for all recorded work, reads the timings back and aggregates them. The profiled region
   * (for wallMs) ends here; recording goes on if still attached (call reset() to start afresh).
   */
  async collect(): Promise<ProfileReport> {
    const gpu = this.gpu;
    await gpu.sync();
    const wallMs = performance.now() - this.regionStart;
    let timings: PendingDispatch[];
    let skipped = 0;
    let overheadUs: number | undefined;
    let note: string;
    if (this.mode === 'timestamp') {
      // The last submission has happened (sync flushed it): map everything outstanding.
      for (const r of this.readbacks) r.done ??= this.finishReadback(r);
      await Promise.all(this.readbacks.map((r) => r.done));
      this.readbacks = [];
      timings = this.records.filter((r) => Number.isFinite(r.begin) && Number.isFinite(r.end));
      skipped = this.records.length - timings.length;
      note = 'GPU timestamps at the beginning and end of each compute pass (timestamp-query).';
    } else {
      const replay = await this.replayAll();
      timings = replay.timings;
      skipped = replay.skipped;
      overheadUs = replay.overheadUs;
      note = 'CPU timing (this adapter has no timestamp-query, or cpu mode was forced): each dispatch was replayed on its own ' +
        `between queue syncs after the region; durations include a submit + sync round trip (~${overheadUs.toFixed(0)} µs measured empty), ` +
        'so short kernels are overstated.' + (skipped ? ` ${skipped} dispatches could not be replayed (buffers destroyed).` : '');
    }
    return buildReport(this.mode, note, gpu.describe(), timings, wallMs, skipped, overheadUs);
  }
}

function buildReport(mode: ProfileMode, note: string, adapter: string, raw: PendingDispatch[], wallMs: number, skipped: number, syncOverheadUs?: number): ProfileReport {
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const r of raw) {
    t0 = Math.min(t0, r.begin);
    t1 = Math.max(t1, r.end);
  }
  if (!raw.length) t0 = t1 = 0;
  const dispatches: DispatchTiming[] = raw.map((r, index) => ({
    index,
    kernel: r.kernel,
    startNs: r.begin - t0,
    // A pass whose end reads before its begin (clock hiccup) counts as zero.
    endNs: Math.max(r.end, r.begin) - t0,
    flops: r.flops,
    bytes: r.bytes,
  }));
  const byKernel = new Map<string, { calls: number; ns: number; flops: number; bytes: number }>();
  let sumNs = 0;
  for (const d of dispatches) {
    const ns = d.endNs - d.startNs;
    sumNs += ns;
    const k = byKernel.get(d.kernel) ?? { calls: 0, ns: 0, flops: 0, bytes: 0 };
    k.calls++;
    k.ns += ns;
    k.flops += d.flops;
    k.bytes += d.bytes;
    byKernel.set(d.kernel, k);
  }
  const kernels: KernelStats[] = [...byKernel].map(([kernel, k]) => ({
    kernel,
    calls: k.calls,
    totalMs: k.ns / 1e6,
    meanUs: k.ns / 1e3 / k.calls,
    share: sumNs > 0 ? k.ns / sumNs : 0,
    flops: k.flops,
    bytes: k.bytes,
    gflops: k.ns > 0 ? k.flops / k.ns : 0,
    gbps: k.ns > 0 ? k.bytes / k.ns : 0,
  }));
  kernels.sort((a, b) => b.totalMs - a.totalMs || a.kernel.localeCompare(b.kernel));
  return {
    mode,
    note,
    adapter,
    dispatches,
    kernels,
    gpuSumMs: sumNs / 1e6,
    gpuSpanMs: (t1 - t0) / 1e6,
    wallMs,
    skipped,
    ...(syncOverheadUs !== undefined ? { syncOverheadUs } : {}),
  };
}

function fmt(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : '-';
}

/** Plain-text table: one row per kernel, then totals and the agreement of sum, span and wall clock. */
export function toTable(report: ProfileReport): string {
  const header = ['kernel', 'calls', 'total ms', 'mean µs', 'share', 'GFLOP/s', 'GB/s'];
  const rows = report.kernels.map((k) => [
    k.kernel,
    String(k.calls),
    fmt(k.totalMs, 3),
    fmt(k.meanUs, 1),
    `${fmt(100 * k.share, 1)}%`,
    k.flops ? fmt(k.gflops, 2) : '-',
    k.bytes ? fmt(k.gbps, 2) : '-',
  ]);
  rows.push(['total', String(report.dispatches.length), fmt(report.gpuSumMs, 3), '', '100.0%', '', '']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const out = [line(header), rule, ...rows.slice(0, -1).map(line), rule, line(rows[rows.length - 1])];
  out.push('');
  out.push(`mode: ${report.mode} — ${report.note}`);
  out.push(`adapter: ${report.adapter}`);
  out.push(...agreementLines(report));
  return out.join('\n');
}

/** Sum of pass durations vs GPU span vs wall clock, as lines of text. */
export function agreementLines(report: ProfileReport): string[] {
  const pct = (a: number, b: number) => (b > 0 ? `${fmt((100 * a) / b, 1)}%` : '-');
  const lines = [
    `sum of pass durations: ${fmt(report.gpuSumMs, 3)} ms`,
    `GPU span (first begin → last end): ${fmt(report.gpuSpanMs, 3)} ms (sum is ${pct(report.gpuSumMs, report.gpuSpanMs)} of it)`,
    `wall clock of the region (with queue sync): ${fmt(report.wallMs, 3)} ms (sum is ${pct(report.gpuSumMs, report.wallMs)} of it)`,
  ];
  if (report.mode === 'cpu') lines[1] = `replayed total: ${fmt(report.gpuSpanMs, 3)} ms (cpu mode: no GPU clock)`;
  if (report.skipped) lines.push(`${report.skipped} dispatches without a timing`);
  const quantum = timestampQuantumUs(report);
  if (quantum !== null) {
    lines.push(`timestamps are whole multiples of ${quantum} µs: the implementation rounds them (Chrome: 100 µs unless started with ` +
      '--enable-webgpu-developer-features; Dawn in Node: 65.536 µs unless its timestamp_quantization feature is disabled, as plateau does), ' +
      'so single short passes read as 0 or one quantum; totals over many passes stay meaningful');
  }
  return lines;
}

/** The rounding step of the report's timestamps if they all sit on one (Chrome's 100 µs, Dawn's 65.536 µs), else null. */
export function timestampQuantumUs(report: Pick<ProfileReport, 'mode' | 'dispatches'>): number | null {
  if (report.mode !== 'timestamp' || report.dispatches.length < 4) return null;
  for (const quantumNs of [100_000, 65_536]) {
    if (report.dispatches.every((d) => d.startNs % quantumNs === 0 && d.endNs % quantumNs === 0)) return quantumNs / 1000;
  }
  return null;
}

/**
 * Chrome trace-event JSON (loads in Perfetto and chrome://tracing): one complete event ("X") per
 * dispatch, ts/dur in µs from the first pass, on one GPU track.
 */
export function toChromeTrace(report: ProfileReport): string {
  const pid = 1;
  const tid = 1;
  const events: object[] = [
    { name: 'process_name', ph: 'M', pid, tid, args: { name: `GPU: ${report.adapter}` } },
    { name: 'thread_name', ph: 'M', pid, tid, args: { name: report.mode === 'timestamp' ? 'compute passes (GPU timestamps)' : 'compute passes (CPU-timed replay)' } },
  ];
  for (const d of report.dispatches) {
    events.push({
      name: d.kernel,
      cat: 'gpu',
      ph: 'X',
      ts: d.startNs / 1000,
      dur: (d.endNs - d.startNs) / 1000,
      pid,
      tid,
      args: { index: d.index, flops: d.flops, bytes: d.bytes },
    });
  }
  return JSON.stringify({
    traceEvents: events,
    displayTimeUnit: 'ns',
    otherData: { adapter: report.adapter, mode: report.mode, note: report.note, gpuSumMs: report.gpuSumMs, gpuSpanMs: report.gpuSpanMs, wallMs: report.wallMs },
  });
}
