// Strategy "batched-from-layer": activations before layer l come from the clean run's cache; many
// variants (each a copy of the whole batch with its own edit) go through layers l..L−1 together.
// Also the "naive" reference strategy: one full forward pass per intervention.
import type { HookSite, Transformer } from '../model/forward.js';
import type { CleanRun } from './clean-run.js';
import type { WatchedNeurons } from './plan.js';

/** Records GPU edits at a hook site for variants [v0, v0 + count) of a batch laid out variant-major. */
export type VariantEditor = (site: HookSite, v0: number, count: number, rowsPerVariant: number) => void;

export interface VariantRunOptions {
  /** Upper bound on variants per batch (the device's binding limit also bounds it). */
  maxVariantsPerBatch?: number;
  /** Rows (within one variant's B·T rows) whose logits to read back. */
  logitRows?: number[];
  onProgress?: (variantsDone: number) => void;
  /** Neurons whose `mlp.hook_post` (after the edits) to read back from every variant. */
  watch?: WatchedNeurons;
  /** true: no loss (nllRows stay 0): only the `logitRows` are unembedded. */
  noLoss?: boolean;
}

export interface VariantRunResult {
  /** [variants, B·T] per-row nll (0 at each sequence's last position). */
  nllRows: Float32Array;
  /** [variants, logitRows.length, V] when logitRows was given. */
  logits: Float32Array | null;
  /** [variants, B·T, watched neurons] when `watch` was given and its layer was run (a run starting after it leaves it as in the clean run: null). */
  watched: Float32Array | null;
}

export const watchHookName = (watch: WatchedNeurons) => `blocks.${watch.layer}.mlp.hook_post`;

/** The watched neurons' columns of a read-back hook_post [rows, dMlp] → [rows, W], written at `offset` rows of `out`. */
export function gatherWatched(post: Float32Array, dMlp: number, neurons: number[], out: Float32Array, offset: number): void {
  const W = neurons.length;
  const rows = post.length / dMlp;
  for (let r = 0; r < rows; r++) for (let w = 0; w < W; w++) out[(offset + r) * W + w] = post[r * dMlp + neurons[w]];
}

export function variantsPerBatch(model: Transformer, rowsPerVariant: number, cap = Infinity): number {
  return Math.max(1, Math.min(cap, Math.floor(model.maxRows() / rowsPerVariant)));
}

/** Runs variants [first, first + count) from `layer` on, starting each from the clean run's resid_pre(layer). */
export async function runVariantsFromLayer(
  model: Transformer,
  clean: CleanRun,
  layer: number,
  first: number,
  count: number,
  edit: VariantEditor,
  options: VariantRunOptions = {},
): Promise<VariantRunResult> {
  const { gpu, spec } = model;
  const N = clean.B * clean.T;
  const d = spec.dModel;
  const perBatch = variantsPerBatch(model, N, options.maxVariantsPerBatch);
  const start = layer === 0 ? null : clean.buffer(`blocks.${layer}.hook_resid_pre`);
  const nllRows = new Float32Array(count * N);
  const logitRows = options.logitRows ?? [];
  const logits = logitRows.length ? new Float32Array(count * logitRows.length * spec.vocab) : null;
  const watch = options.watch && options.watch.layer >= layer ? options.watch : null;
  const watched = watch ? new Float32Array(count * N * watch.neurons.length) : null;
  let replicated: GPUBuffer | null = null;
  for (let v0 = 0; v0 < count; v0 += perBatch) {
    const nv = Math.min(perBatch, count - v0);
    const ids = new Int32Array(nv * N);
    for (let v = 0; v < nv; v++) ids.set(clean.ids, v * N);
    let startState: { layer: number; resid: GPUBuffer } | undefined;
    if (start) {
      if (!replicated || replicated.size < nv * N * d * 4) {
        replicated?.destroy();
        replicated = gpu.createBuffer('variants:resid', perBatch * N * d * 4);
      }
      for (let v = 0; v < nv; v++) gpu.copy(start, 0, replicated, v * N * d * 4, N * d * 4);
      startState = { layer, resid: replicated };
    }
    const result = await model.forward({
      ids, batch: nv * clean.B, seq: clean.T, start: startState,
      logits: logitRows.length ? Array.from({ length: nv }, (_, v) => logitRows.map((r) => v * N + r)).flat() : 'none',
      nll: !options.noLoss,
      onHook: (site) => edit(site, first + v0, nv, N),
      hooks: watch ? [watchHookName(watch)] : [],
    });
    if (watch && watched) gatherWatched(result.hooks.get(watchHookName(watch))!.data, spec.dMlp, watch.neurons, watched, v0 * N);
    for (let v = 0; v < nv; v++) {
      for (let b = 0; b < clean.B; b++) {
        nllRows.set(result.nll.subarray((v * clean.B + b) * (clean.T - 1), (v * clean.B + b + 1) * (clean.T - 1)), (v0 + v) * N + b * clean.T);
      }
    }
    if (logits && result.logits) logits.set(result.logits, v0 * logitRows.length * spec.vocab);
    options.onProgress?.(v0 + nv);
  }
  replicated?.destroy();
  return { nllRows, logits, watched };
}

/** The reference: one full forward pass (from the embeddings) per intervention. */
export async function runVariantsNaive(model: Transformer, clean: CleanRun, first: number, count: number, edit: VariantEditor, options: Pick<VariantRunOptions, 'logitRows' | 'watch' | 'noLoss'> = {}): Promise<VariantRunResult> {
  const N = clean.B * clean.T;
  const nllRows = new Float32Array(count * N);
  const logitRows = options.logitRows ?? [];
  const V = model.spec.vocab;
  const logits = logitRows.length ? new Float32Array(count * logitRows.length * V) : null;
  const { watch } = options;
  const watched = watch ? new Float32Array(count * N * watch.neurons.length) : null;
  for (let v = 0; v < count; v++) {
    const result = await model.forward({
      ids: clean.ids, batch: clean.B, seq: clean.T, onHook: (site) => edit(site, first + v, 1, N),
      logits: logitRows.length ? logitRows : 'none', nll: !options.noLoss, hooks: watch ? [watchHookName(watch)] : [],
    });
    for (let b = 0; b < clean.B; b++) nllRows.set(result.nll.subarray(b * (clean.T - 1), (b + 1) * (clean.T - 1)), v * N + b * clean.T);
    if (logits && result.logits) logits.set(result.logits, v * logitRows.length * V);
    if (watch && watched) gatherWatched(result.hooks.get(watchHookName(watch))!.data, model.spec.dMlp, watch.neurons, watched, v * N);
  }
  return { nllRows, logits, watched };
}

/**
 * An editor that, at hook `hookName`, overwrites columns of each variant's rows:
 * variant v gets a[·, col0(v) .. col0(v)+width) = values[valueOffset(v) ..] — one value row for every
 * position (zero, mean), or, given `source` (another run's activation of this hook on the GPU,
 * [B·T, width], not owned), position by position: a[r, col0 ..] = source[r, valueOffset ..].
 */
export function columnEditor(
  model: Transformer,
  hookName: string,
  values: Float32Array | { source: GPUBuffer; width: number },
  columnsOf: (variant: number) => { col0: number; width: number; valueOffset: number },
): VariantEditor & { dispose(): void } {
  const { gpu, kernels } = model;
  const fromSource = !(values instanceof Float32Array);
  const valuesBuf = fromSource ? values.source : gpu.upload(`edit-values:${hookName}`, values.length ? values : new Float32Array(1));
  const valueStride = fromSource ? values.width : 0;
  const tables: GPUBuffer[] = [];
  const editor = ((site: HookSite, v0: number, count: number, rowsPerVariant: number) => {
    if (site.name !== hookName) return;
    const table = new Uint32Array(count * 3);
    let maxWidth = 0;
    for (let v = 0; v < count; v++) {
      const c = columnsOf(v0 + v);
      table.set([c.col0, c.width, c.valueOffset], v * 3);
      maxWidth = Math.max(maxWidth, c.width);
    }
    // Each call gets its own table: edits recorded for several batches may be in flight at once.
    const editsBuf = gpu.upload(`edit-table:${hookName}`, table);
    tables.push(editsBuf);
    kernels.setColumns(site.buffer, valuesBuf, editsBuf, site.rows, site.width, rowsPerVariant, maxWidth, valueStride);
  }) as VariantEditor & { dispose(): void };
  editor.dispose = () => {
    if (!fromSource) valuesBuf.destroy();
    for (const t of tables.splice(0)) t.destroy();
  };
  return editor;
}

/** Row-wise log-softmax of logits read back from variant runs ([rows, V], float64 sums). */
export function logSoftmax(logits: Float32Array, V: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / V; r++) {
    const row = logits.subarray(r * V, (r + 1) * V);
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    for (let i = 0; i < V; i++) out[r * V + i] = row[i] - lse;
  }
  return out;
}

/** dnll[v, b, t] = nll_v[b, t] − nll_clean[b, t] from per-row nll ([variants, B·T]). */
export function dnllFromRows(nllRows: Float32Array, clean: CleanRun, count: number): Float32Array {
  const { B, T } = clean;
  const out = new Float32Array(count * B * (T - 1));
  for (let v = 0; v < count; v++) {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T - 1; t++) {
        out[(v * B + b) * (T - 1) + t] = nllRows[v * B * T + b * T + t] - clean.nllRows[b * T + t];
      }
    }
  }
  return out;
}
