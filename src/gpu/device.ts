// One interface over a WebGPU device, in Node (Dawn through the `webgpu` package) and in the
// browser (navigator.gpu): adapter with its real limits, optional features, a pipeline cache keyed
// by kernel + specialisation, a per-flush uniform arena, errors that name the kernel, and a clear
// message when the device is lost or no adapter exists.
import { memoryBudgetFromEnv } from './memory-budget.js';

export interface GpuOptions {
  /** Dawn toggles for Node, e.g. 'disable-dawn-features=timestamp_quantization'. */
  dawnFlags?: string[];
  powerPreference?: GPUPowerPreference;
  /** Ask for `shader-f16` when offered (default true). */
  wantF16?: boolean;
  /** Bytes a batch's working buffers may take (default: PLATEAU_MEMORY_BUDGET, else 4 GiB; see memory-budget.ts). */
  memoryBudget?: number;
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  features: string[];
  limits: Record<string, number>;
}

const OPTIONAL_FEATURES: GPUFeatureName[] = ['shader-f16', 'timestamp-query', 'subgroups' as GPUFeatureName];

export const NO_ADAPTER_HELP =
  'No WebGPU adapter is available. In Node, Plateau uses Dawn (npm `webgpu`) over Vulkan: on a ' +
  'machine without a GPU install Mesa\'s software Vulkan driver (lavapipe) — on Debian 12 run ' +
  '`sudo bash .ci/install-vulkan.sh` (Mesa 25 from bookworm-backports; Debian 12\'s own Mesa 22.3 is ' +
  'rejected by Dawn). On a GPU machine make sure libvulkan1 and the vendor\'s Vulkan driver are ' +
  'installed. In Chrome, WebGPU needs a secure context (https or localhost) and a supported GPU, or ' +
  '--enable-unsafe-webgpu.';

async function getGpuNamespace(flags: string[]): Promise<GPU> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return nav.gpu;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (!isNode) throw new Error('WebGPU is not available in this browser (navigator.gpu is missing). ' + NO_ADAPTER_HELP);
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp'; // silences Mesa's warning
  const moduleName = 'webgpu';
  const webgpu = await import(/* @vite-ignore */ moduleName);
  // Install the GPU* constants (GPUBufferUsage, ...) but not the gpu object itself: keeping the
  // GPU object off globalThis lets the process exit when work is done.
  Object.assign(globalThis, webgpu.globals);
  return webgpu.create(flags) as GPU;
}

export class Gpu {
  readonly device: GPUDevice;
  readonly adapter: AdapterSummary;
  readonly hasF16: boolean;
  readonly hasTimestamps: boolean;
  readonly hasSubgroups: boolean;
  readonly maxBinding: number;
  /** Bytes a batch's working buffers may take: batch sizes respect it as well as the binding limit. */
  memoryBudget = memoryBudgetFromEnv();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private pendingDispatches = 0;
  private uncaptured: string[] = [];
  private pendingChecks: Promise<void>[] = [];
  private lostMessage: string | null = null;
  private destroyed = false;
  private uniformArena: GPUBuffer;
  private uniformStaging: Uint8Array<ArrayBuffer>;
  private uniformUsed = 0;
  private readonly uniformArenaSize = 1 << 16;
  private readonly uniformAlign: number;
  /** Observers of dispatches (the profiler). All null unless a profiler is attached: profiling off costs nothing. */
  dispatchHook: ((kernel: string, pass: GPUComputePassEncoder, phase: 'begin' | 'end', work?: KernelWork) => void) | null = null;
  passTimestampWrites: ((kernel: string, work?: KernelWork) => GPUComputePassTimestampWrites | undefined) | null = null;
  /** Called with everything a dispatch used, after it is recorded (the profiler's CPU-timing replay). */
  recordHook: ((d: RecordedDispatch) => void) | null = null;
  /** Called on the command encoder just before it is finished and submitted (the profiler resolves timestamp queries). */
  submitHook: ((encoder: GPUCommandEncoder) => void) | null = null;

  /** The GPU entry object: held so that it is not garbage-collected while the device lives (Dawn frees its instance with it). */
  readonly gpuEntry: GPU;

  private constructor(gpuEntry: GPU, device: GPUDevice, adapter: AdapterSummary) {
    this.gpuEntry = gpuEntry;
    this.device = device;
    this.adapter = adapter;
    this.hasF16 = device.features.has('shader-f16');
    this.hasTimestamps = device.features.has('timestamp-query');
    this.hasSubgroups = device.features.has('subgroups' as GPUFeatureName);
    this.maxBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.uniformArena = device.createBuffer({
      label: 'uniform-arena',
      size: this.uniformArenaSize,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    });
    this.uniformStaging = new Uint8Array(this.uniformArenaSize);
    device.addEventListener('uncapturederror', (event) => {
      const err = (event as GPUUncapturedErrorEvent).error;
      this.uncaptured.push(err.message);
    });
    device.lost.then((info) => {
      if (this.destroyed) return;
      this.lostMessage = `GPU device lost (${info.reason}): ${info.message}`;
      console.error(`plateau: ${this.lostMessage}. Results computed after this point are invalid; rerun (with --resume for sweeps).`);
    });
  }

  static async create(options: GpuOptions = {}): Promise<Gpu> {
    const gpu = await getGpuNamespace(options.dawnFlags ?? []);
    const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (!adapter) throw new Error(NO_ADAPTER_HELP);
    const features = OPTIONAL_FEATURES.filter(
      (f) => adapter.features.has(f) && (f !== 'shader-f16' || options.wantF16 !== false),
    );
    const requiredLimits: Record<string, number> = {};
    for (const key of LIMIT_NAMES) {
      const value = (adapter.limits as unknown as Record<string, number>)[key];
      if (typeof value === 'number') requiredLimits[key] = value;
    }
    const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits, label: 'plateau' });
    const info = adapter.info ?? ({} as GPUAdapterInfo);
    const limits: Record<string, number> = {};
    for (const key of LIMIT_NAMES) limits[key] = (device.limits as unknown as Record<string, number>)[key];
    const result = new Gpu(gpu, device, {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      description: info.description ?? '',
      device: info.device ?? '',
      features: [...device.features].sort(),
      limits,
    });
    if (options.memoryBudget !== undefined) result.memoryBudget = options.memoryBudget;
    return result;
  }

  /** Short human description of the adapter. */
  describe(): string {
    const a = this.adapter;
    return `${a.description || a.device || a.vendor} (${a.vendor}, ${a.architecture})`;
  }

  /** Compiles (once) and returns a compute pipeline; `key` must identify kernel + specialisation. */
  pipeline(key: string, makeCode: () => string, entryPoint = 'main'): GPUComputePipeline {
    let pipeline = this.pipelines.get(key);
    if (pipeline) return pipeline;
    const code = makeCode();
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ label: key, code });
    pipeline = this.device.createComputePipeline({ label: key, layout: 'auto', compute: { module, entryPoint } });
    this.pendingChecks.push(
      module.getCompilationInfo().then((info) => {
        for (const m of info.messages) if (m.type === 'error') this.uncaptured.push(`kernel ${key}, line ${m.lineNum}: ${m.message}`);
      }),
      this.device.popErrorScope().then((err) => {
        if (err) this.uncaptured.push(`kernel ${key}: ${err.message}`);
      }),
    );
    this.pipelines.set(key, pipeline);
    return pipeline;
  }

  /** Resolves once a pipeline is known to have compiled; throws with the kernel's name otherwise. */
  async checkPipeline(key: string, makeCode: () => string, entryPoint = 'main'): Promise<void> {
    const code = makeCode();
    const module = this.device.createShaderModule({ label: key, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length) {
      throw new Error(`kernel ${key} failed to compile:\n` + errors.map((e) => `  line ${e.lineNum}: ${e.message}`).join('\n'));
    }
    await this.device.createComputePipelineAsync({ label: key, layout: 'auto', compute: { module, entryPoint } });
  }

  createBuffer(label: string, byteSize: number, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): GPUBuffer {
    const size = Math.max(16, Math.ceil(byteSize / 16) * 16);
    if (size > this.device.limits.maxBufferSize) {
      throw new Error(`buffer ${label}: ${size} bytes exceeds this adapter's maxBufferSize ${this.device.limits.maxBufferSize}`);
    }
    return this.device.createBuffer({ label, size, usage });
  }

  /** Creates a storage buffer holding `data` (padded to 16 bytes). */
  upload(label: string, data: ArrayBufferView, extraUsage = 0): GPUBuffer {
    const buffer = this.createBuffer(label, data.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | extraUsage);
    this.write(buffer, data);
    return buffer;
  }

  write(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    // WebGPU's typings refuse views of SharedArrayBuffer; Plateau never passes one.
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength) as Uint8Array<ArrayBuffer>;
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      bytes = padded;
    }
    // Large writes in pieces keep Dawn's staging memory bounded.
    const piece = 64 << 20;
    for (let off = 0; off < bytes.byteLength; off += piece) {
      const part = bytes.subarray(off, Math.min(bytes.byteLength, off + piece));
      this.device.queue.writeBuffer(buffer, byteOffset + off, part);
    }
  }

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'plateau' });
    return this.encoder;
  }

  /** Packs uniform words into the arena and returns the binding for them. */
  private uniform(words: ArrayLike<number>, floatMask?: readonly boolean[]): GPUBufferBinding {
    const bytes = Math.max(16, Math.ceil((words.length * 4) / 16) * 16);
    if (this.uniformUsed + bytes > this.uniformArenaSize) this.flush();
    const offset = this.uniformUsed;
    const view = new DataView(this.uniformStaging.buffer, offset, bytes);
    for (let i = 0; i < words.length; i++) {
      if (floatMask?.[i]) view.setFloat32(i * 4, words[i], true);
      else view.setUint32(i * 4, words[i] >>> 0, true);
    }
    this.uniformUsed = Math.ceil((offset + bytes) / this.uniformAlign) * this.uniformAlign;
    return { buffer: this.uniformArena, offset, size: bytes };
  }

  /**
   * Records one dispatch. `buffers` bind in order at @binding(0..) (null = a binding this entry
   * point does not use, left out of its 'auto' layout); if `uniforms` is given it binds after them
   * (u32 words; entries flagged in `floatMask` are written as f32), or at `uniforms.binding`.
   */
  dispatch(
    kernel: string,
    pipeline: GPUComputePipeline,
    buffers: (GPUBuffer | GPUBufferBinding | null)[],
    workgroups: [number, number?, number?],
    uniforms?: { words: ArrayLike<number>; floatMask?: readonly boolean[]; binding?: number },
    work?: KernelWork,
  ): void {
    const [x, y = 1, z = 1] = workgroups;
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (x > maxGroups || y > maxGroups || z > maxGroups) {
      throw new Error(`kernel ${kernel}: dispatch ${x}×${y}×${z} exceeds ${maxGroups} workgroups per dimension`);
    }
    if (x === 0 || y === 0 || z === 0) return;
    const entries: GPUBindGroupEntry[] = [];
    buffers.forEach((b, i) => {
      if (b) entries.push({ binding: i, resource: 'buffer' in b ? b : { buffer: b } });
    });
    const uniformBinding = uniforms ? this.uniform(uniforms.words, uniforms.floatMask) : null;
    if (uniforms) entries.push({ binding: uniforms.binding ?? buffers.length, resource: uniformBinding! });
    const bindGroup = this.device.createBindGroup({ label: kernel, layout: pipeline.getBindGroupLayout(0), entries });
    const timestampWrites = this.passTimestampWrites?.(kernel, work);
    const pass = this.getEncoder().beginComputePass({ label: kernel, ...(timestampWrites ? { timestampWrites } : {}) });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    this.dispatchHook?.(kernel, pass, 'begin', work);
    pass.dispatchWorkgroups(x, y, z);
    this.dispatchHook?.(kernel, pass, 'end', work);
    pass.end();
    if (this.recordHook) {
      // A copy of the uniform words: the arena is reused after the next flush.
      const u = uniformBinding ? { binding: uniforms!.binding ?? buffers.length, bytes: this.uniformStaging.slice(uniformBinding.offset!, uniformBinding.offset! + uniformBinding.size!) } : null;
      this.recordHook({ kernel, pipeline, entries: u ? entries.filter((e) => e.binding !== u.binding) : entries, uniform: u, workgroups: [x, y, z], work });
    }
    this.pendingDispatches++;
    if (this.pendingDispatches >= 512) this.flush();
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, size: number): void {
    this.getEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, Math.ceil(size / 4) * 4);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.throwIfBroken();
    if (this.uniformUsed > 0) {
      this.device.queue.writeBuffer(this.uniformArena, 0, this.uniformStaging, 0, this.uniformUsed);
      this.uniformUsed = 0;
    }
    if (this.encoder) {
      this.submitHook?.(this.encoder);
      this.device.queue.submit([this.encoder.finish()]);
      this.encoder = null;
      this.pendingDispatches = 0;
    }
  }

  /** Waits for all submitted work; surfaces validation errors with the kernel named. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await Promise.all(this.pendingChecks.splice(0));
    this.throwIfBroken();
  }

  private throwIfBroken(): void {
    if (this.lostMessage) throw new Error(this.lostMessage);
    if (this.uncaptured.length) {
      const messages = this.uncaptured.splice(0);
      throw new Error('WebGPU error: ' + messages.join('\n'));
    }
  }

  /** Reads `byteLength` bytes of `buffer` from `byteOffset` back to the CPU. */
  async read(buffer: GPUBuffer, byteOffset = 0, byteLength = buffer.size - byteOffset): Promise<ArrayBuffer> {
    const size = Math.ceil(byteLength / 4) * 4;
    const staging = this.device.createBuffer({ label: 'readback', size: Math.max(4, size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copy(buffer, byteOffset, staging, 0, size);
    this.flush();
    await staging.mapAsync(GPUMapMode.READ);
    await Promise.all(this.pendingChecks.splice(0));
    this.throwIfBroken();
    const out = staging.getMappedRange().slice(0, byteLength);
    staging.unmap();
    staging.destroy();
    return out;
  }

  async readF32(buffer: GPUBuffer, offsetElems = 0, count?: number): Promise<Float32Array> {
    const n = count ?? buffer.size / 4 - offsetElems;
    return new Float32Array(await this.read(buffer, offsetElems * 4, n * 4));
  }

  destroy(): void {
    this.destroyed = true;
    this.device.destroy();
  }
}

/** FLOP and byte counts of one dispatch, for the profiler. */
export interface KernelWork {
  flops: number;
  bytes: number;
}

/** One recorded dispatch, as handed to `Gpu.recordHook`: enough to replay it on its own. */
export interface RecordedDispatch {
  kernel: string;
  pipeline: GPUComputePipeline;
  /** Bind group entries except the uniform block's. */
  entries: GPUBindGroupEntry[];
  /** The uniform block's binding and a copy of its bytes. */
  uniform: { binding: number; bytes: Uint8Array } | null;
  workgroups: [number, number, number];
  work?: KernelWork;
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
  'minUniformBufferOffsetAlignment',
  'minStorageBufferOffsetAlignment',
  'maxBindGroups',
];
