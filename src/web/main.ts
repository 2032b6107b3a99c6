// The Plateau page: the same engine as the CLI on the browser's WebGPU (navigator.gpu). Adapter
// panel, model picker (folder or files, tensors streamed through Blob slices), forward pass with
// per-token loss and top-5 predictions, neuron/head sweeps with cancel and downloads, activation
// patching of any per-block hook with a layer × position chart, and the rare-token analysis with
// the report's Vega-Lite charts.
//
// Test hooks live on `window.plateau` (see PlateauApi); every job's <progress> element carries
// data-state="idle|running|done|error|cancelled" and data-run (a counter bumped when a job starts).
import embed from 'vega-embed';
import { Gpu } from '../gpu/device.js';
import type { Checkpoint } from '../io/checkpoint.js';
import { encodeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { loadTokenizer, type TextTokenizer } from '../io/tokenizer.js';
import type { Transformer } from '../model/forward.js';
import { loadModelFromCheckpoint } from '../model/load.js';
import { runSequences } from '../model/run.js';
import { headAblationSweep, neuronSweep, type SweepRunner } from '../interventions/sweeps.js';
import { patchRunner } from '../interventions/patch.js';
import { logSoftmax } from '../interventions/batched.js';
import { PATCH_HOOKS, parsePatchHook, type PatchHook } from '../interventions/plan.js';
import { Analysis, type AnalyzeOptions, type Phase } from '../analysis/pipeline.js';
import { agreementLines, toChromeTrace, type ProfileReport } from '../gpu/profiler.js';
import { profileRuns, profileWorkload, tuneForWorkload, type ProfileWorkload } from '../interventions/profile-workload.js';
import type { SplitMethod } from '../analysis/frequency.js';
import type { AnalysisResults } from '../analysis/results.js';
import { buildCharts } from '../report/charts.js';
import { headsCsv, neuronsCsv } from '../report/csv.js';
import { keyFindings, renderReport, type VegaBundles } from '../report/html.js';
import { collectDocuments } from './corpus.js';
import { openCheckpoint, pickModel, readInputIds, type PickedModel } from './files.js';
import { finalLayerNeuronWeightsFromCheckpoint } from './neuron-weights.js';

// ---------------------------------------------------------------------------------------------
// DOM helpers

function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: no element #${id}`);
  return el as T;
}

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

function num(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(digits - 1) : x.toFixed(digits);
}

function bytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A job's progress element and status line. */
type JobName = 'load' | 'forward' | 'sweep' | 'patch' | 'profile' | 'analysis';
type JobState = 'idle' | 'running' | 'done' | 'error' | 'cancelled';

class Job {
  runs = 0;
  state: JobState = 'idle';
  message = '';
  constructor(readonly bar: HTMLProgressElement, readonly status: HTMLElement) {}

  private set(state: JobState, message: string, cls = ''): void {
    this.state = state;
    this.message = message;
    this.bar.dataset.state = state;
    this.status.textContent = message;
    this.status.className = `status ${cls}`;
  }

  start(message: string): void {
    this.runs++;
    this.bar.dataset.run = String(this.runs);
    this.bar.removeAttribute('value'); // indeterminate until the first update
    this.set('running', message);
  }

  update(done: number, total: number, message?: string): void {
    this.bar.max = Math.max(1, total);
    this.bar.value = Math.min(done, total);
    if (message !== undefined) this.status.textContent = message;
  }

  done(message: string): void {
    this.bar.max = 1;
    this.bar.value = 1;
    this.set('done', message, 'ok');
  }

  fail(err: unknown): void {
    console.error(err);
    this.bar.value = 0;
    this.set('error', errorText(err), 'error');
  }

  cancelled(message: string): void {
    this.set('cancelled', message, '');
  }
}

class Cancelled extends Error {
  constructor() {
    super('cancelled');
  }
}

// ---------------------------------------------------------------------------------------------
// State

interface Loaded {
  picked: PickedModel;
  model: Transformer;
  ckpt: Checkpoint;
  tokenizer: TextTokenizer | null;
}

interface ForwardRecord {
  source: string;
  B: number;
  T: number;
  V: number;
  ids: Int32Array;
  nll: Float32Array;
  logits: Float32Array;
}

/** What one patch covers: a (layer, position), a layer at every position, or a head's slice of hook_z at one or every position. */
type PatchGranularity = 'position' | 'layer' | 'head-position' | 'head';

interface ProfileRecord {
  work: ProfileWorkload;
  repeat: number;
  /** Tokens per run (B·T of the forward's ids). */
  tokens: number;
  report: ProfileReport;
  /** The autotune's report lines when it ran first, else null. */
  tuneLog: string[] | null;
}

interface PatchRecord {
  hook: PatchHook;
  granularity: PatchGranularity;
  cleanRow: number;
  corruptedRow: number;
  /** One entry per patch: [L, T], [L], [L, H, T] or [L, H]. */
  leading: number[];
  /** Vocabulary columns kept per patch: every token (null), or [clean answer, corrupted answer] for per-head patching. */
  tokens: number[] | null;
  /** V, or tokens.length. */
  width: number;
  /** log-softmax at the corrupted row's last position, per patch: [...leading, width]. */
  logprobs: Float32Array;
  /** The clean run's top prediction at its last position, whose log-probability the chart shows. */
  answer: number;
  seconds: number;
}

interface SweepRecord {
  kind: 'neurons' | 'heads';
  ablation: string;
  layers: number[];
  strategy: string;
  leadingShape: number[];
  unitShape: number[];
  units: number;
  dnll: Float32Array;
  seconds: number;
}

let gpu: Gpu | null = null;
let gpuError: string | null = null;
let loaded: Loaded | null = null;
let lastForward: ForwardRecord | null = null;
let lastSweep: SweepRecord | null = null;
let lastPatch: PatchRecord | null = null;
let cancelPatch = false;
let lastAnalysis: AnalysisResults | null = null;
let lastProfile: ProfileRecord | null = null;
let busy = false;
let cancelSweep = false;
let cancelAnalysis = false;

const jobs: Record<JobName, Job> = {
  load: new Job($('load-progress'), $('load-status')),
  forward: new Job($('forward-progress'), $('forward-status')),
  sweep: new Job($('sweep-progress'), $('sweep-status')),
  patch: new Job($('patch-progress'), $('patch-status')),
  profile: new Job($('profile-progress'), $('profile-status')),
  analysis: new Job($('analysis-progress'), $('analysis-status')),
};

/** Plain numbers for Playwright (typed arrays are converted only when read). */
const api = {
  get adapter() {
    return gpu ? { ...gpu.adapter, hasF16: gpu.hasF16, maxBinding: gpu.maxBinding } : null;
  },
  get gpuError() {
    return gpuError;
  },
  get model() {
    if (!loaded) return null;
    return { name: loaded.picked.name, spec: loaded.model.spec, storage: loaded.model.weights.storage, tokenizer: !!loaded.tokenizer };
  },
  get jobs() {
    return Object.fromEntries(Object.entries(jobs).map(([k, j]) => [k, { runs: j.runs, state: j.state, message: j.message }]));
  },
  get busy() {
    return busy;
  },
  get lastForward() {
    const f = lastForward;
    if (!f) return null;
    return {
      source: f.source, B: f.B, T: f.T, V: f.V,
      get ids() { return Array.from(f.ids); },
      get nll() { return Array.from(f.nll); },
      get logits() { return Array.from(f.logits); },
    };
  },
  get lastSweep() {
    const s = lastSweep;
    if (!s) return null;
    return { ...s, dnll: undefined, get values() { return Array.from(s.dnll); } };
  },
  get lastPatch() {
    const p = lastPatch;
    if (!p) return null;
    return { ...p, logprobs: undefined, shape: [...p.leading, p.width], get values() { return Array.from(p.logprobs); } };
  },
  get lastAnalysis() {
    return lastAnalysis;
  },
  get lastProfile() {
    const p = lastProfile;
    if (!p) return null;
    const { dispatches, ...summary } = p.report;
    return { work: p.work, repeat: p.repeat, tokens: p.tokens, tuneLog: p.tuneLog, ...summary, dispatchCount: dispatches.length };
  },
  /** Text of a download offered on the page (by file name). */
  async download(name: string): Promise<string | null> {
    const a = Array.from(document.querySelectorAll<HTMLAnchorElement>('a[download]')).find((x) => x.download === name);
    return a ? (await fetch(a.href)).text() : null;
  },
};

declare global {
  interface Window {
    plateau: typeof api;
  }
}
window.plateau = api;

function setBusy(value: boolean): void {
  busy = value;
  const ready = !!loaded && !busy;
  $<HTMLButtonElement>('forward-run').disabled = !ready || !loaded?.tokenizer;
  $<HTMLButtonElement>('sweep-run').disabled = !ready || !lastForward;
  $<HTMLButtonElement>('patch-run').disabled = !ready || !lastForward || lastForward.B < 2;
  $<HTMLButtonElement>('patch-texts').disabled = !ready || !loaded?.tokenizer;
  $<HTMLButtonElement>('profile-run').disabled = !ready || !lastForward;
  $<HTMLButtonElement>('analysis-run').disabled = !ready || !loaded?.tokenizer;
  for (const id of ['model-dir', 'model-files', 'ids-file']) $<HTMLInputElement>(id).disabled = busy || (id === 'ids-file' && !loaded);
}

// ---------------------------------------------------------------------------------------------
// Adapter

const KEY_LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage'];

async function initAdapter(): Promise<void> {
  const panel = $('adapter');
  const status = $('adapter-status');
  const info = $('adapter-info');
  if (!('gpu' in navigator) || !navigator.gpu) {
    gpuError = 'WebGPU is not available in this browser: navigator.gpu is missing. Use a recent Chrome or Edge over https or localhost '
      + '(on Linux without a GPU: chromium --enable-unsafe-webgpu --use-webgpu-adapter=swiftshader).';
    panel.dataset.state = 'missing';
    status.textContent = gpuError;
    status.className = 'status error';
    return;
  }
  try {
    gpu = await Gpu.create();
  } catch (err) {
    gpuError = errorText(err);
    panel.dataset.state = 'error';
    status.textContent = gpuError;
    status.className = 'status error';
    return;
  }
  const a = gpu.adapter;
  panel.dataset.state = 'ok';
  status.textContent = `Adapter ready: ${gpu.describe()}`;
  status.className = 'status ok';
  const f16 = gpu.hasF16
    ? 'shader-f16: present'
    : 'shader-f16: absent — f32 fallback (f16 weights stay packed in u32 and are decoded with unpack2x16float; all arithmetic in f32)';
  const rows: [string, string][] = [
    ['description', a.description || '–'],
    ['vendor / architecture', `${a.vendor || '–'} / ${a.architecture || '–'}`],
    ['f16', f16],
    ['features', a.features.join(', ') || 'none'],
    ...KEY_LIMITS.map((k): [string, string] => [k, a.limits[k] >= 1 << 20 ? `${a.limits[k]} (${bytes(a.limits[k])})` : String(a.limits[k])]),
  ];
  info.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', k === 'f16' ? { id: 'adapter-f16', class: gpu!.hasF16 ? '' : 'warn' } : {}, v)]));
}

// ---------------------------------------------------------------------------------------------
// Model

async function loadFromFiles(list: FileList | null): Promise<void> {
  if (!list?.length) return;
  const job = jobs.load;
  job.start('Reading files…');
  if (!gpu) return job.fail(new Error(gpuError ?? 'no WebGPU adapter'));
  setBusy(true);
  try {
    const picked = await pickModel(list);
    if (loaded) {
      loaded.model.destroy();
      await loaded.ckpt.close();
      loaded = null;
    }
    clearResults();
    const ckpt = await openCheckpoint(picked);
    let model: Transformer;
    try {
      model = await loadModelFromCheckpoint(gpu, picked.config, ckpt, picked.name, {
        onProgress: (done, total, name) => job.update(done, total, `Loading ${name} (${done}/${total})`),
      });
      await gpu.sync();
    } catch (err) {
      await ckpt.close();
      throw err;
    }
    const tokenizer = picked.tokenizerJson ? await loadTokenizer({ tokenizerJson: picked.tokenizerJson, tokenizerConfig: picked.tokenizerConfig }) : null;
    loaded = { picked, model, ckpt, tokenizer };
    showModel();
    job.done(`Loaded ${picked.name}${tokenizer ? '' : ' (no tokenizer.json: token ids only)'}`);
  } catch (err) {
    job.fail(err);
  } finally {
    setBusy(false);
  }
}

/** Forgets the previous model's forward, sweep and analysis outputs. */
function clearResults(): void {
  lastForward = null;
  lastSweep = null;
  lastAnalysis = null;
  lastProfile = null;
  for (const id of ['loss-table', 'top5', 'forward-seq', 'forward-mean', 'sweep-summary', 'sweep-downloads', 'profile-summary', 'profile-table', 'profile-downloads', 'analysis-downloads', 'analysis-findings', 'charts']) clearElement(id);
}

/** Empties an element, releasing the blob URLs of its download links. */
function clearElement(id: string): void {
  const el = $(id);
  el.querySelectorAll('a[href^="blob:"]').forEach((a) => URL.revokeObjectURL((a as HTMLAnchorElement).href));
  el.replaceChildren();
}

function showModel(): void {
  const el = $('model-summary');
  if (!loaded) return void el.replaceChildren();
  const { spec } = loaded.model;
  const weightBytes = loaded.picked.weightFiles.reduce((a, f) => a + f.size, 0);
  const rows: [string, string][] = [
    ['model', `${loaded.picked.name} (${spec.arch})`],
    ['shape', `${spec.nLayers} layers, d_model ${spec.dModel}, ${spec.nHeads} heads, d_mlp ${spec.dMlp}, vocab ${spec.vocab}, context ${spec.nCtx}`],
    ['weights', `${loaded.picked.weightFiles.length} file(s), ${bytes(weightBytes)}, stored on the GPU as ${loaded.model.weights.storage}`],
    ['tokenizer', loaded.tokenizer ? `tokenizer.json (vocab ${loaded.tokenizer.vocabSize})` : 'none (load ids from a safetensors file)'],
  ];
  el.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  // Sweep layer choices follow the model.
  updateSweepControls();
  updatePatchHooks();
}

// ---------------------------------------------------------------------------------------------
// Forward

async function runForward(ids: Int32Array, B: number, T: number, source: string): Promise<void> {
  const job = jobs.forward;
  job.start(`Running ${B} × ${T} tokens…`);
  if (!loaded) return job.fail(new Error('load a model first'));
  setBusy(true);
  try {
    const { model } = loaded;
    if (T > model.spec.nCtx) throw new Error(`${T} tokens exceed the model's context of ${model.spec.nCtx}`);
    if (T < 1) throw new Error('no tokens');
    for (const id of ids) if (id < 0 || id >= model.spec.vocab) throw new Error(`token id ${id} is outside the vocabulary [0, ${model.spec.vocab})`);
    const t0 = performance.now();
    const result = await runSequences(model, ids, B, T, { logits: true, onProgress: (d, n) => job.update(d, n) });
    const seconds = (performance.now() - t0) / 1000;
    lastForward = { source, B, T, V: model.spec.vocab, ids, nll: result.nll, logits: result.logits! };
    const select = $<HTMLSelectElement>('forward-seq');
    select.replaceChildren(...Array.from({ length: B }, (_, b) => h('option', { value: String(b) }, `${b}`)));
    updatePatchRows(B);
    showForward(0);
    const meanNll = result.nll.length ? result.nll.reduce((a, x) => a + x, 0) / result.nll.length : NaN;
    job.done(`${B} × ${T} tokens from ${source} in ${seconds.toFixed(2)} s; mean loss ${num(meanNll)} nats`);
  } catch (err) {
    job.fail(err);
  } finally {
    setBusy(false);
  }
}

function tokenText(id: number): string {
  const tok = loaded?.tokenizer;
  if (!tok) return `#${id}`;
  try {
    return JSON.stringify(tok.decode([id])).slice(1, -1);
  } catch {
    return `#${id}`;
  }
}

function showForward(b: number): void {
  const f = lastForward;
  if (!f) return;
  const { T, V } = f;
  const maxRows = 1024;
  const head = h('tr', {}, h('th', { class: 'num' }, 'pos'), h('th', {}, 'token'), h('th', { class: 'num' }, 'id'), h('th', { class: 'num' }, 'loss (nats)'));
  const rows: HTMLTableRowElement[] = [];
  let sum = 0;
  for (let t = 0; t < T; t++) {
    const id = f.ids[b * T + t];
    const loss = t > 0 ? f.nll[b * (T - 1) + t - 1] : NaN;
    if (t > 0) sum += loss;
    if (t < maxRows) rows.push(h('tr', {}, h('td', { class: 'num' }, String(t)), h('td', {}, tokenText(id)), h('td', { class: 'num' }, String(id)), h('td', { class: 'num' }, t > 0 ? num(loss) : '–')));
  }
  $('loss-table').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows));
  $('forward-mean').textContent = T > 1 ? `sequence ${b}: mean loss ${num(sum / (T - 1))} nats over ${T - 1} predictions` : '';
  // Top-5 next tokens at the last position.
  const row = f.logits.subarray((b * T + T - 1) * V, (b * T + T) * V);
  let max = -Infinity;
  for (const x of row) if (x > max) max = x;
  let z = 0;
  for (const x of row) z += Math.exp(x - max);
  const top = Array.from({ length: V }, (_, i) => i).sort((i, j) => row[j] - row[i]).slice(0, 5);
  $('top5').replaceChildren(
    h('thead', {}, h('tr', {}, h('th', {}, 'token'), h('th', { class: 'num' }, 'id'), h('th', { class: 'num' }, 'logit'), h('th', { class: 'num' }, 'p'))),
    h('tbody', {}, ...top.map((i) => h('tr', {}, h('td', {}, tokenText(i)), h('td', { class: 'num' }, String(i)), h('td', { class: 'num' }, num(row[i])), h('td', { class: 'num' }, num(Math.exp(row[i] - max) / z))))),
  );
}

async function forwardText(): Promise<void> {
  const tok = loaded?.tokenizer;
  if (!tok) return jobs.forward.fail(new Error('this model has no tokenizer.json: load token ids from a safetensors file instead'));
  const text = $<HTMLTextAreaElement>('forward-text').value;
  const ids = tok.encode(text);
  if ($<HTMLInputElement>('forward-bos').checked) ids.unshift(tok.bosId ?? tok.eosId ?? 0);
  if (!ids.length) return jobs.forward.fail(new Error('no tokens: type some text'));
  await runForward(Int32Array.from(ids), 1, ids.length, 'text');
}

async function forwardIdsFile(file: File | undefined): Promise<void> {
  if (!file) return;
  try {
    const { ids, B, T } = await readInputIds(file);
    await runForward(ids, B, T, file.name);
  } catch (err) {
    jobs.forward.start('');
    jobs.forward.fail(err);
  }
}

// ---------------------------------------------------------------------------------------------
// Downloads

function offer(containerId: string, files: { name: string; blob: Blob }[]): void {
  clearElement(containerId);
  $(containerId).replaceChildren(
    h('span', { class: 'muted' }, 'Download: '),
    ...files.map(({ name, blob }) => {
      const a = h('a', { href: URL.createObjectURL(blob), download: name }, `${name} (${bytes(blob.size)})`);
      return a;
    }),
  );
}

function safetensorsBlob(tensors: TensorToWrite[], metadata: Record<string, string>): Blob {
  return new Blob([encodeSafetensors(tensors, metadata)], { type: 'application/octet-stream' });
}

function jsonBlob(value: unknown): Blob {
  return new Blob([JSON.stringify(value, null, 1)], { type: 'application/json' });
}

// ---------------------------------------------------------------------------------------------
// Sweeps

function updateSweepControls(): void {
  const kind = $<HTMLSelectElement>('sweep-kind').value;
  const layer = $<HTMLSelectElement>('sweep-layer');
  const ablation = $<HTMLSelectElement>('sweep-ablation');
  const L = loaded?.model.spec.nLayers ?? 0;
  const layers = Array.from({ length: L }, (_, l) => h('option', { value: String(l) }, String(l)));
  if (kind === 'heads') layer.replaceChildren(h('option', { value: 'all' }, 'all'), ...layers);
  else {
    layer.replaceChildren(...layers);
    layer.value = String(Math.max(0, L - 1));
  }
  const choices = kind === 'heads' ? ['zero', 'mean', 'resample', 'bos'] : ['zero', 'mean', 'resample'];
  const labels: Record<string, string> = { bos: 'bos (redirect to BOS, per position)', resample: 'resample (from the next row)' };
  const previous = ablation.value;
  ablation.replaceChildren(...choices.map((c) => h('option', { value: c }, labels[c] ?? c)));
  if (choices.includes(previous)) ablation.value = previous;
}

/** Resampling in the page: row b takes its activations from row (b + 1) mod B of the same batch. */
function nextRowIds(f: { ids: Int32Array; B: number; T: number }): Int32Array {
  if (f.B < 2) throw new Error('resample ablation takes each row\'s activations from the next row: run a forward pass with two or more rows first');
  const out = new Int32Array(f.ids.length);
  for (let b = 0; b < f.B; b++) out.set(f.ids.subarray(((b + 1) % f.B) * f.T, ((b + 1) % f.B + 1) * f.T), b * f.T);
  return out;
}

async function runSweepFromUi(): Promise<void> {
  const job = jobs.sweep;
  job.start('Preparing (clean run)…');
  const f = lastForward;
  if (!loaded || !f) return job.fail(new Error('run a forward pass first: the sweep uses its token ids'));
  const kind = $<HTMLSelectElement>('sweep-kind').value as 'neurons' | 'heads';
  const ablation = $<HTMLSelectElement>('sweep-ablation').value;
  const layerValue = $<HTMLSelectElement>('sweep-layer').value;
  const { model } = loaded;
  const layers = layerValue === 'all' ? Array.from({ length: model.spec.nLayers }, (_, l) => l) : [Number(layerValue)];
  setBusy(true);
  cancelSweep = false;
  lastSweep = null;
  clearElement('sweep-summary');
  clearElement('sweep-downloads');
  $<HTMLButtonElement>('sweep-cancel').disabled = false;
  let runner: SweepRunner | null = null;
  const t0 = performance.now();
  try {
    const ctx = { model, ids: f.ids, B: f.B, T: f.T };
    const resampleIds = ablation === 'resample' ? nextRowIds(f) : undefined;
    runner = kind === 'neurons'
      ? await neuronSweep(ctx, { kind: 'neurons', layer: layers[0], ablation: ablation as 'zero' | 'mean' | 'resample', resampleIds })
      : await headAblationSweep(ctx, { kind: 'heads', layers, ablation: ablation as 'zero' | 'mean' | 'resample' | 'bos', resampleIds });
    const unitShape = runner.outputs[0].unitShape;
    const perUnit = unitShape.reduce((a, c) => a * c, 1);
    const dnll = new Float32Array(runner.units * perUnit);
    const chunk = Math.max(1, runner.chunkUnits);
    for (let start = 0; start < runner.units; start += chunk) {
      if (cancelSweep) throw new Cancelled();
      const end = Math.min(runner.units, start + chunk);
      const [part] = await runner.compute(start, end, (fr) => job.update(start + fr * (end - start), runner!.units));
      dnll.set(part, start * perUnit);
      job.update(end, runner.units, `${runner.strategy}: ${end} / ${runner.units} ${kind}`);
    }
    const seconds = (performance.now() - t0) / 1000;
    lastSweep = { kind, ablation, layers, strategy: runner.strategy, leadingShape: runner.leadingShape, unitShape, units: runner.units, dnll, seconds };
    showSweep(lastSweep);
    job.done(`${runner.units} ${kind} (${ablation}, ${runner.strategy}) in ${seconds.toFixed(2)} s`);
  } catch (err) {
    if (err instanceof Cancelled) job.cancelled('Cancelled: no results');
    else job.fail(err);
  } finally {
    runner?.dispose();
    $<HTMLButtonElement>('sweep-cancel').disabled = true;
    setBusy(false);
  }
}

function unitLabel(s: SweepRecord, u: number): string {
  if (s.kind === 'neurons') return `L${s.layers[0]} N${u}`;
  const H = s.leadingShape[1];
  return `L${s.layers[Math.floor(u / H)]} H${u % H}`;
}

function showSweep(s: SweepRecord): void {
  const per = s.unitShape.reduce((a, c) => a * c, 1);
  const meanAbs = Array.from({ length: s.units }, (_, u) => {
    let a = 0;
    for (let i = 0; i < per; i++) a += Math.abs(s.dnll[u * per + i]);
    return a / per;
  });
  const top = meanAbs.map((v, u) => [u, v] as const).sort((a, b) => b[1] - a[1]).slice(0, 10);
  $('sweep-summary').replaceChildren(
    h('p', { class: 'muted' }, `Most influential units (mean |Δloss| over ${per} positions):`),
    h('table', {}, h('tbody', {}, ...top.map(([u, v]) => h('tr', {}, h('td', {}, unitLabel(s, u)), h('td', { class: 'num' }, num(v)))))),
  );
  const shape = [...s.leadingShape, ...s.unitShape];
  const model = loaded?.picked.name ?? 'model';
  const base = `sweep-${s.kind}-${s.ablation}`;
  offer('sweep-downloads', [
    { name: `${base}.safetensors`, blob: safetensorsBlob([{ name: 'dnll', dtype: 'F32', shape, data: s.dnll }, { name: 'input_ids', dtype: 'I64', shape: [lastForward!.B, lastForward!.T], data: lastForward!.ids }], {
      'plateau.kind': s.kind, 'plateau.ablation': s.ablation, 'plateau.layers': s.layers.join(','), 'plateau.strategy': s.strategy, 'plateau.model': model,
      ...(s.ablation === 'resample' ? { 'plateau.resample_from': 'row (b + 1) mod B of input_ids' } : {}),
    }) },
    { name: `${base}.json`, blob: jsonBlob({
      model, kind: s.kind, ablation: s.ablation, layers: s.layers, strategy: s.strategy, shape, seconds: s.seconds,
      meanAbsDnll: meanAbs, dnll: Array.from(s.dnll),
    }) },
  ]);
}

// ---------------------------------------------------------------------------------------------
// Profiler

async function runProfileFromUi(): Promise<void> {
  const job = jobs.profile;
  job.start('Warm-up run (compiles the pipelines)…');
  const f = lastForward;
  if (!loaded || !gpu || !f) return job.fail(new Error('run a forward pass first: the profiler uses its token ids'));
  const work = $<HTMLSelectElement>('profile-work').value as ProfileWorkload;
  const timer = $<HTMLSelectElement>('profile-timer').value;
  let repeat: number;
  try {
    repeat = intField('profile-repeat', 1);
  } catch (err) {
    return job.fail(err);
  }
  setBusy(true);
  lastProfile = null;
  for (const id of ['profile-summary', 'profile-table', 'profile-downloads']) clearElement(id);
  try {
    const run = profileWorkload(work, { model: loaded.model, ids: f.ids, B: f.B, T: f.T });
    let tuneLog: string[] | null = null;
    if ($<HTMLInputElement>('profile-autotune').checked) {
      tuneLog = [];
      const lines = tuneLog;
      job.update(0, 1, 'Autotuning the kernels of this work…');
      await tuneForWorkload(loaded.model, work, run, { ids: f.ids, B: f.B, T: f.T }, (line) => {
        lines.push(line);
        job.update(0, 1, line.trim());
      });
    }
    await run();
    job.update(0, repeat, `Profiling: 0 / ${repeat} runs`);
    const report = await profileRuns(gpu, run, repeat, {
      mode: timer === 'cpu' ? 'cpu' : undefined,
      onRun: (done) => job.update(done, repeat, `Profiling: ${done} / ${repeat} runs`),
    });
    lastProfile = { work, repeat, tokens: f.B * f.T, report, tuneLog };
    showProfile(lastProfile);
    job.done(`${report.dispatches.length} dispatches of ${report.kernels.length} kernels, ${report.gpuSumMs.toFixed(3)} ms of GPU time (${report.mode === 'timestamp' ? 'GPU timestamps' : 'CPU replay'})`);
  } catch (err) {
    job.fail(err);
  } finally {
    setBusy(false);
  }
}

function showProfile(p: ProfileRecord): void {
  const r = p.report;
  const fixed = (v: number, d: number) => (Number.isFinite(v) ? v.toFixed(d) : '–');
  const head = h('tr', {}, ...['kernel', 'calls', 'total ms', 'mean µs', 'share', 'GFLOP/s', 'GB/s'].map((c) => h('th', {}, c)));
  const rows = r.kernels.map((k) => h('tr', {},
    h('td', {}, k.kernel), h('td', { class: 'num' }, String(k.calls)), h('td', { class: 'num' }, fixed(k.totalMs, 3)),
    h('td', { class: 'num' }, fixed(k.meanUs, 1)), h('td', { class: 'num' }, `${fixed(100 * k.share, 1)}%`),
    h('td', { class: 'num' }, k.flops ? fixed(k.gflops, 2) : '–'), h('td', { class: 'num' }, k.bytes ? fixed(k.gbps, 2) : '–')));
  const total = h('tr', { class: 'total' }, h('td', {}, 'total'), h('td', { class: 'num' }, String(r.dispatches.length)),
    h('td', { class: 'num' }, fixed(r.gpuSumMs, 3)), h('td', {}), h('td', { class: 'num' }, '100.0%'), h('td', {}), h('td', {}));
  $('profile-table').replaceChildren(h('thead', {}, head), h('tbody', {}, ...rows, total));
  const tokens = p.tokens * p.repeat;
  $('profile-summary').replaceChildren(
    h('p', { class: 'muted' }, `${p.repeat} × ${p.work} on ${p.tokens} tokens; mode: ${r.mode} — ${r.note}`),
    h('ul', {}, ...[...agreementLines(r),
      `throughput: ${(tokens / (r.wallMs / 1000)).toFixed(1)} tokens/s (wall clock), ${(tokens / (r.gpuSumMs / 1000)).toFixed(1)} tokens/s (GPU time)`,
    ].map((line) => h('li', {}, line))),
    ...(p.tuneLog ? [h('details', {}, h('summary', {}, 'autotune (choices kept for this page session)'), h('pre', {}, p.tuneLog.join('\n')))] : []),
  );
  const { dispatches, ...summary } = r;
  offer('profile-downloads', [
    { name: `profile-${p.work}-trace.json`, blob: new Blob([toChromeTrace(r)], { type: 'application/json' }) },
    { name: `profile-${p.work}.json`, blob: jsonBlob({ model: loaded?.picked.name ?? 'model', work: p.work, repeat: p.repeat, tokens: p.tokens, autotune: p.tuneLog, ...summary, dispatchCount: dispatches.length }) },
  ]);
}

// ---------------------------------------------------------------------------------------------
// Activation patching

/** The hooks a patch can overwrite in this model (no resid_mid in parallel-residual blocks); per-head patching is of hook z. */
function updatePatchHooks(): void {
  const parallel = loaded?.model.spec.parallelResidual ?? false;
  const hooks = Object.keys(PATCH_HOOKS).filter((k) => k !== 'resid_mid' || !parallel);
  const select = $<HTMLSelectElement>('patch-hook');
  const previous = select.value;
  select.replaceChildren(...hooks.map((k) => h('option', { value: k }, k)));
  if (hooks.includes(previous)) select.value = previous;
  updatePatchGranularity();
}

function updatePatchGranularity(): void {
  const perHead = $<HTMLSelectElement>('patch-granularity').value.startsWith('head');
  const hook = $<HTMLSelectElement>('patch-hook');
  if (perHead) hook.value = 'z';
  hook.disabled = perHead;
}

function updatePatchRows(B: number): void {
  for (const [id, fallback] of [['patch-clean-row', 0], ['patch-corrupted-row', 1]] as const) {
    const select = $<HTMLSelectElement>(id);
    select.replaceChildren(...Array.from({ length: B }, (_, b) => h('option', { value: String(b) }, String(b))));
    select.value = String(Math.min(fallback, B - 1));
  }
}

/** The two texts as a 2-row forward pass (clean row 0, corrupted row 1). */
async function forwardPatchTexts(): Promise<void> {
  const tok = loaded?.tokenizer;
  if (!tok) return jobs.forward.fail(new Error('this model has no tokenizer.json: load token ids with two or more rows instead'));
  const encode = (id: string) => {
    const ids = tok.encode($<HTMLTextAreaElement>(id).value);
    if ($<HTMLInputElement>('forward-bos').checked) ids.unshift(tok.bosId ?? tok.eosId ?? 0);
    return ids;
  };
  const clean = encode('patch-clean-text');
  const corrupted = encode('patch-corrupted-text');
  if (!clean.length || clean.length !== corrupted.length) {
    jobs.patch.start('');
    return jobs.patch.fail(new Error(`the clean text has ${clean.length} tokens and the corrupted one ${corrupted.length}: patching needs two texts of the same token length`));
  }
  await runForward(Int32Array.from([...clean, ...corrupted]), 2, clean.length, 'patch texts');
}

async function runPatchFromUi(): Promise<void> {
  const job = jobs.patch;
  job.start('Preparing (clean and corrupted runs)…');
  const f = lastForward;
  if (!loaded || !f || f.B < 2) return job.fail(new Error('run a forward pass with two or more rows first (the two texts, or token ids)'));
  const hook = $<HTMLSelectElement>('patch-hook').value as PatchHook;
  const granularity = $<HTMLSelectElement>('patch-granularity').value as PatchGranularity;
  const cleanRow = Number($<HTMLSelectElement>('patch-clean-row').value);
  const corruptedRow = Number($<HTMLSelectElement>('patch-corrupted-row').value);
  if (cleanRow === corruptedRow) return job.fail(new Error('choose two different rows as clean and corrupted'));
  const { model } = loaded;
  setBusy(true);
  cancelPatch = false;
  lastPatch = null;
  for (const id of ['patch-summary', 'patch-chart', 'patch-downloads']) clearElement(id);
  $<HTMLButtonElement>('patch-cancel').disabled = false;
  let runner: SweepRunner | null = null;
  const t0 = performance.now();
  try {
    const { V } = f;
    const last = (row: number) => f.logits.subarray((row * f.T + f.T - 1) * V, (row * f.T + f.T) * V);
    const argmax = (row: Float32Array) => row.reduce((best, x, v) => (x > row[best] ? v : best), 0);
    const cleanLast = last(cleanRow);
    const answer = argmax(cleanLast);
    const perHead = granularity.startsWith('head');
    // Per-head patching keeps the two answers only (L·H·T full vocabularies would not fit a tab).
    const tokens = perHead ? [answer, argmax(last(corruptedRow))] : null;
    runner = await patchRunner({ model, ids: f.ids, B: f.B, T: f.T }, {
      kind: 'patch', hook: parsePatchHook(model.spec, hook), cleanRow, corruptedRow, perHead,
      positions: granularity === 'position' || granularity === 'head-position' ? 'each' : 'all', tokens: tokens ?? undefined,
    });
    const width = runner.outputs[0].unitShape[0];
    const logprobs = new Float32Array(runner.units * width);
    for (let start = 0; start < runner.units; start += runner.chunkUnits) {
      if (cancelPatch) throw new Cancelled();
      const end = Math.min(runner.units, start + runner.chunkUnits);
      const [part] = await runner.compute(start, end, (fr) => job.update(start + fr * (end - start), runner!.units));
      logprobs.set(part, start * width);
      job.update(end, runner.units, `${end} / ${runner.units} patches`);
    }
    lastPatch = { hook, granularity, cleanRow, corruptedRow, leading: runner.leadingShape, tokens, width, logprobs, answer, seconds: (performance.now() - t0) / 1000 };
    await showPatch(lastPatch, logSoftmax(cleanLast, V)[answer], logSoftmax(last(corruptedRow), V)[answer]);
    job.done(`${runner.units} patches of ${hook} (${runner.strategy}) in ${lastPatch.seconds.toFixed(2)} s`);
  } catch (err) {
    if (err instanceof Cancelled) job.cancelled('Cancelled: no results');
    else job.fail(err);
  } finally {
    runner?.dispose();
    $<HTMLButtonElement>('patch-cancel').disabled = true;
    setBusy(false);
  }
}

/** Chart labels of patch u: its row (layer, or layer and head) and column (position, head, or "all positions"). */
function patchCell(p: PatchRecord, u: number, tokenLabels: string[]): { row: string; column: string } {
  const [L, second = 1, third = 1] = p.leading;
  switch (p.granularity) {
    case 'position': return { row: String(Math.floor(u / second)), column: tokenLabels[u % second] };
    case 'layer': return { row: String(u), column: 'all positions' };
    case 'head': return { row: String(Math.floor(u / second)), column: `H${u % second}` };
    case 'head-position': {
      const layer = Math.floor(u / (second * third));
      return { row: `L${layer} H${Math.floor(u / third) % second}`, column: tokenLabels[u % third] };
    }
    default: throw new Error(`unknown patch granularity over ${L} layers`);
  }
}

async function showPatch(p: PatchRecord, cleanLp: number, corruptedLp: number): Promise<void> {
  const f = lastForward!;
  const tokenLabels = Array.from({ length: f.T }, (_, t) => `${t} ${tokenText(f.ids[p.corruptedRow * f.T + t])}`);
  const units = p.logprobs.length / p.width;
  const answerColumn = p.tokens ? 0 : p.answer;
  const grid = Array.from({ length: units }, (_, u) => p.logprobs[u * p.width + answerColumn]);
  const what = { position: '(layer, position)', layer: 'each layer at every position', head: "(layer, head)'s slice at every position", 'head-position': "(layer, head)'s slice at each position" }[p.granularity];
  $('patch-summary').replaceChildren(h('p', { class: 'muted' },
    `log p(${JSON.stringify(tokenText(p.answer))}) at the last position: clean run ${num(cleanLp)}, corrupted run ${num(corruptedLp)}; `
    + `patching ${p.hook} at ${what} moves it to the values below.`));
  const chart = $('patch-chart');
  const cells = grid.map((lp, u) => ({ ...patchCell(p, u, tokenLabels), logprob: lp }));
  const rowOrder = [...new Set(cells.map((c) => c.row))].reverse();
  const columnOrder = [...new Set(cells.map((c) => c.column))];
  const rowTitle = p.granularity === 'head-position' ? 'layer, head' : 'layer';
  const columnTitle = p.granularity === 'head' ? 'head' : p.granularity === 'layer' ? '' : 'position (corrupted token)';
  try {
    await embed(chart, {
      $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
      title: `log p(${tokenText(p.answer)}) after patching ${p.hook}`,
      data: { values: cells },
      width: { step: 30 },
      height: { step: p.granularity === 'head-position' ? 14 : 24 },
      mark: 'rect',
      encoding: {
        x: { field: 'column', type: 'ordinal', sort: columnOrder, title: columnTitle },
        y: { field: 'row', type: 'ordinal', sort: rowOrder, title: rowTitle },
        color: { field: 'logprob', type: 'quantitative', scale: { scheme: 'viridis' } },
        tooltip: [{ field: 'row', title: rowTitle }, { field: 'column', title: columnTitle || 'positions' }, { field: 'logprob', format: '.4f' }],
      },
    }, { renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } });
    chart.dataset.rendered = 'true';
  } catch (err) {
    chart.dataset.rendered = 'error';
    chart.replaceChildren(h('p', { class: 'status error' }, `The chart could not be drawn: ${errorText(err)}`));
  }
  const base = `patch-${p.hook}${p.granularity === 'position' ? '' : `-${p.granularity}`}`;
  offer('patch-downloads', [
    { name: `${base}.safetensors`, blob: safetensorsBlob([{ name: 'logprobs', dtype: 'F32', shape: [...p.leading, p.width], data: p.logprobs }, { name: 'input_ids', dtype: 'I64', shape: [f.B, f.T], data: f.ids }], {
      'plateau.hook': p.hook, 'plateau.granularity': p.granularity, 'plateau.clean_row': String(p.cleanRow), 'plateau.corrupted_row': String(p.corruptedRow),
      'plateau.tokens': p.tokens ? p.tokens.join(',') : 'all', 'plateau.model': loaded?.picked.name ?? 'model',
    }) },
    { name: `${base}.json`, blob: jsonBlob({
      hook: p.hook, granularity: p.granularity, cleanRow: p.cleanRow, corruptedRow: p.corruptedRow, answer: p.answer, answerText: tokenText(p.answer),
      tokens: p.tokens, cleanLogprob: cleanLp, corruptedLogprob: corruptedLp, shape: p.leading, logprobOfAnswer: grid,
    }) },
  ]);
}

// ---------------------------------------------------------------------------------------------
// Analysis

function intField(id: string, min: number): number {
  const el = $<HTMLInputElement>(id);
  const n = Number(el.value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${el.closest('label')?.textContent?.trim() || id}: expected an integer ≥ ${min}, got "${el.value}"`);
  return n;
}

function percentField(id: string): number {
  const el = $<HTMLInputElement>(id);
  const x = Number(el.value);
  if (!Number.isFinite(x) || x < 0 || x >= 100) throw new Error(`top %: expected a number in [0, 100), got "${el.value}"`);
  return x;
}

let vegaBundles: VegaBundles | null = null;

/** The UMD builds of vega, vega-lite and vega-embed (copied next to main.js) for the offline report. */
async function fetchVegaBundles(): Promise<VegaBundles> {
  if (vegaBundles) return vegaBundles;
  const get = async (file: string) => {
    const res = await fetch(new URL(`vendor/${file}`, import.meta.url));
    if (!res.ok) throw new Error(`report.html: cannot fetch vendor/${file} (${res.status})`);
    return res.text();
  };
  const [vega, vegaLite, vegaEmbed] = await Promise.all([get('vega.min.js'), get('vega-lite.min.js'), get('vega-embed.min.js')]);
  vegaBundles = { vega, vegaLite, vegaEmbed };
  return vegaBundles;
}

async function runAnalysisFromUi(): Promise<void> {
  const job = jobs.analysis;
  job.start('Preparing…');
  const phaseEl = $('analysis-phase');
  if (!loaded || !gpu) return job.fail(new Error('load a model first'));
  if (!loaded.tokenizer) return job.fail(new Error('the analysis needs the model folder\'s tokenizer.json'));
  setBusy(true);
  cancelAnalysis = false;
  $<HTMLButtonElement>('analysis-cancel').disabled = false;
  for (const id of ['charts', 'analysis-findings', 'analysis-downloads']) clearElement(id);
  lastAnalysis = null;
  try {
    const corpus = await collectDocuments($<HTMLTextAreaElement>('corpus-text').value, Array.from($<HTMLInputElement>('corpus-files').files ?? []));
    const options: AnalyzeOptions = {
      modelDir: loaded.picked.name, corpus: corpus.names,
      rows: intField('an-rows', 1), seq: intField('an-seq', 8), meanRows: intField('an-mean-rows', 1), seed: intField('an-seed', 0),
      split: $<HTMLSelectElement>('an-split').value as SplitMethod, topPercent: percentField('an-top-percent'), by: 'target',
      ablation: $<HTMLSelectElement>('an-ablation').value as 'mean' | 'zero',
      randomGroups: intField('an-random-groups', 100), bootstrap: intField('an-bootstrap', 10), edgeThreshold: 0.3,
      headIntervention: $<HTMLSelectElement>('an-head-intervention').value as 'bos' | 'zero' | 'mean',
      permutations: intField('an-permutations', 100),
      vocabScope: $<HTMLSelectElement>('an-vocab-scope').value as 'observed' | 'all',
    };
    const check = () => {
      if (cancelAnalysis) throw new Cancelled();
    };
    let label = '';
    const phase: Phase = {
      start(name, total, unit) {
        check();
        label = `${name} (${unit})`;
        phaseEl.textContent = label;
        job.update(0, total, `${name}…`);
      },
      update(done, total) {
        check();
        job.update(done, total ?? Number(job.bar.max), `${label}: ${done}`);
      },
      end() {
        check();
      },
    };
    const neuronWeights = await finalLayerNeuronWeightsFromCheckpoint(loaded.ckpt, loaded.model.spec);
    check();
    const analysis = new Analysis(gpu, options, phase, { model: loaded.model, tokenizer: loaded.tokenizer, documents: corpus.documents, neuronWeights });
    const { results, influence } = await analysis.run();
    results.model.files = loaded.picked.files.map((f) => ({ ...f, sha256: '' })); // hashing would read whole files
    lastAnalysis = results;
    phaseEl.textContent = 'charts';
    $('analysis-findings').replaceChildren(...keyFindings(results).map((s) => h('li', {}, s)));
    await renderCharts(results);
    const m = results.model.dMlp;
    const files = [
      { name: 'results.json', blob: jsonBlob(results) },
      { name: 'neurons.csv', blob: new Blob([neuronsCsv(results)], { type: 'text/csv' }) },
      { name: 'heads.csv', blob: new Blob([headsCsv(results)], { type: 'text/csv' }) },
      { name: 'influence.safetensors', blob: safetensorsBlob([
        { name: 'rare.dnll', dtype: 'F32', shape: [m, influence.rare.positions.length], data: influence.rare.deltas },
        { name: 'rare.positions', dtype: 'I32', shape: [influence.rare.positions.length], data: influence.rare.positions },
        { name: 'common.dnll', dtype: 'F32', shape: [m, influence.common.positions.length], data: influence.common.deltas },
        { name: 'common.positions', dtype: 'I32', shape: [influence.common.positions.length], data: influence.common.positions },
      ], { 'plateau.rows': String(results.corpus.rowsAnalysed), 'plateau.seq': String(results.corpus.seq) }) },
    ];
    try {
      files.push({ name: 'report.html', blob: new Blob([await renderReport(results, await fetchVegaBundles())], { type: 'text/html' }) });
    } catch (err) {
      console.error(err);
      $('analysis-findings').append(h('li', { class: 'warn' }, `report.html is not offered: ${errorText(err)}`));
    }
    offer('analysis-downloads', files);
    phaseEl.textContent = '';
    const rare = results.sets.rare.regimes;
    job.done(`Done in ${results.timings.total.toFixed(1)} s: plateau of ${results.groups.plateau.length} neurons (r1 = ${rare.r1}, r2 = ${rare.r2}, α = ${num(rare.alpha, 3)})`);
  } catch (err) {
    phaseEl.textContent = '';
    if (err instanceof Cancelled) job.cancelled('Cancelled');
    else job.fail(err);
  } finally {
    $<HTMLButtonElement>('analysis-cancel').disabled = true;
    setBusy(false);
  }
}

async function renderCharts(results: AnalysisResults): Promise<void> {
  const container = $('charts');
  const charts = buildCharts(results);
  const divs = charts.map((c) => h('div', { class: 'chart', 'data-chart': c.id }));
  container.replaceChildren(...divs);
  await Promise.all(charts.map(async (c, i) => {
    const el = divs[i];
    try {
      await embed(el, c.spec, { renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } });
      el.dataset.rendered = 'true';
    } catch (err) {
      el.dataset.rendered = 'error';
      el.replaceChildren(h('p', { class: 'status error' }, `This chart could not be drawn: ${errorText(err)}`));
    }
  }));
}

// ---------------------------------------------------------------------------------------------
// Wiring

$<HTMLInputElement>('model-dir').addEventListener('change', (e) => void loadFromFiles((e.target as HTMLInputElement).files));
$<HTMLInputElement>('model-files').addEventListener('change', (e) => void loadFromFiles((e.target as HTMLInputElement).files));
$<HTMLInputElement>('ids-file').addEventListener('change', (e) => void forwardIdsFile((e.target as HTMLInputElement).files?.[0]));
$('forward-run').addEventListener('click', () => void forwardText());
$<HTMLSelectElement>('forward-seq').addEventListener('change', (e) => showForward(Number((e.target as HTMLSelectElement).value)));
$('sweep-kind').addEventListener('change', updateSweepControls);
$('sweep-run').addEventListener('click', () => void runSweepFromUi());
$('sweep-cancel').addEventListener('click', () => {
  cancelSweep = true;
  jobs.sweep.status.textContent = 'Cancelling after the chunk in flight…';
});
$('patch-texts').addEventListener('click', () => void forwardPatchTexts());
$('patch-run').addEventListener('click', () => void runPatchFromUi());
$('patch-granularity').addEventListener('change', updatePatchGranularity);
$('patch-cancel').addEventListener('click', () => {
  cancelPatch = true;
  jobs.patch.status.textContent = 'Cancelling after the layer in flight…';
});
$('profile-run').addEventListener('click', () => void runProfileFromUi());
$('analysis-run').addEventListener('click', () => void runAnalysisFromUi());
$('analysis-cancel').addEventListener('click', () => {
  cancelAnalysis = true;
  jobs.analysis.status.textContent = 'Cancelling at the next step…';
});

updateSweepControls();
updatePatchHooks();
setBusy(false);
void initAdapter().then(() => {
  document.body.dataset.ready = 'true';
});
