// Interventions as data: what is changed, where, and what is measured. The CLI and the analysis
// layer build plans; `planStrategy` picks how a plan is executed (see strategies below).
import type { ModelSpec } from '../model/spec.js';

/** What an ablated activation is set to: 0, its mean over a population, or its value in another run (resampling). */
export type AblationValue = 'zero' | 'mean' | 'resample';

/** Ablate each neuron of one layer's `mlp.hook_post` (zero/mean/resample) at every position (one intervention per neuron). */
export interface NeuronSweepPlan {
  kind: 'neurons';
  layer: number;
  ablation: AblationValue;
  /** Neurons to sweep (default: all). */
  neurons?: number[];
  /** Mean activations to use for 'mean' (default: the mean over all B·T positions of this batch; `populationMeans` takes them over another population). */
  means?: Float32Array;
  /** For 'resample': token ids [B·T] of the run whose activations replace the ablated ones, position by position. */
  resampleIds?: Int32Array;
  /** Also measure: log-probabilities of the vocabulary at these positions (see `resolvePositions`) → `logprobs`. */
  logprobsAt?: number[];
  /** Also measure: the change of these neurons' `mlp.hook_post` (after the intervention) at every position → `dact`. */
  watch?: WatchedNeurons;
}

/** Neurons of one layer's `mlp.hook_post` whose change an intervention measures. */
export interface WatchedNeurons { layer: number; neurons: number[] }

/** Ablate each head of the selected layers (its slice of `attn.hook_z`), zero/mean/resample at every position, or BOS-redirect one query row at a time. */
export interface HeadSweepPlan {
  kind: 'heads';
  layers: number[];
  ablation: AblationValue | 'bos';
  /** Neurons of one layer's `mlp.hook_post` whose change is measured → `dact`: for 'bos' at the redirected position, otherwise at every position. */
  watch?: WatchedNeurons;
  /** For 'mean': hook_z means [H·dh] per entry of `layers` (default: over all B·T positions of this batch). */
  means?: Float32Array[];
  /** For 'resample': token ids [B·T] of the run whose hook_z replaces the ablated head's, position by position. */
  resampleIds?: Int32Array;
  /** Also measure (zero / mean / resample): log-probabilities of the vocabulary at these positions → `logprobs`. */
  logprobsAt?: number[];
}

/**
 * Per-layer hooks that activation patching can overwrite, by their TransformerLens short names
 * (`utils.get_act_name`): the full name is `blocks.{l}.` + the value.
 */
export const PATCH_HOOKS = {
  resid_pre: 'hook_resid_pre',
  attn_out: 'hook_attn_out',
  resid_mid: 'hook_resid_mid',
  mlp_out: 'hook_mlp_out',
  resid_post: 'hook_resid_post',
  z: 'attn.hook_z',
  pre: 'mlp.hook_pre',
  post: 'mlp.hook_post',
} as const;
export type PatchHook = keyof typeof PATCH_HOOKS;

/** Patch a hook of the corrupted run from the clean run, one (layer[, head][, position]) at a time; measure log-probs at the final position. */
export interface PatchPlan {
  kind: 'patch';
  hook: PatchHook;
  cleanRow: number;
  corruptedRow: number;
  /** 'each' (default): one patch per position; 'all': the hook at every position at once. */
  positions?: 'each' | 'all';
  /** Hook z only: patch one head's slice at a time (TransformerLens' attn_head_out patching). */
  perHead?: boolean;
  /** Keep only these vocabulary columns of the log-probs (computed over the whole vocabulary). */
  tokens?: number[];
}

/** `--tokens 464,1212`: vocabulary ids, each in [0, V). */
export function parseTokenList(spec: ModelSpec, value: string, flag = '--tokens'): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const ids = parts.map(Number);
  for (const [i, id] of ids.entries()) {
    if (!/^\d+$/.test(parts[i]) || id >= spec.vocab) throw new Error(`${flag}: expected comma-separated token ids in [0, ${spec.vocab}), got "${parts[i]}"`);
  }
  return ids;
}

export function parsePatchHook(spec: ModelSpec, value: string): PatchHook {
  if (!Object.hasOwn(PATCH_HOOKS, value)) throw new Error(`--hook: expected one of ${Object.keys(PATCH_HOOKS).join(', ')}, got "${value}"`);
  if (value === 'resid_mid' && spec.parallelResidual) throw new Error('--hook resid_mid: parallel-residual blocks (GPT-NeoX) have no hook_resid_mid');
  return value as PatchHook;
}

export type InterventionPlan = NeuronSweepPlan | HeadSweepPlan | PatchPlan;

export type Strategy =
  /** Exact closed form through the final LayerNorm and unembedding: no re-forward (final-layer neurons; final-layer heads of parallel-residual models). */
  | 'final-layer-closed-form'
  /** Cached activations up to layer l, many variants batched through the remaining layers. */
  | 'batched-from-layer'
  /** Only the intervened position is re-run from layer l on, against cached keys/values. */
  | 'single-position-cached'
  /** Only the positions from the intervened one on are re-run from layer l, against cached keys/values of the earlier ones (patching one position). */
  | 'suffix-cached'
  /** One full forward pass per intervention (TransformerLens-style): the reference. */
  | 'naive';

export function planStrategy(spec: ModelSpec, plan: InterventionPlan, force?: Strategy): Strategy {
  if (force === 'final-layer-closed-form' && (plan.kind === 'neurons' ? measuresMoreThanLoss(plan) : plan.kind === 'heads' && !!plan.logprobsAt?.length)) throw new Error(LOSS_ONLY);
  if (plan.kind === 'patch') return patchStrategy(plan, force);
  if (force === 'suffix-cached') throw new Error('--strategy suffix-cached applies to patching one position at a time (plateau patch)');
  if (force) return force;
  // The closed forms give the loss only; log-probabilities at chosen positions need the logits.
  if (plan.kind === 'neurons') return plan.layer === spec.nLayers - 1 && !measuresMoreThanLoss(plan) ? 'final-layer-closed-form' : 'batched-from-layer';
  return plan.ablation === 'bos' ? 'single-position-cached' : 'batched-from-layer';
}

/** Patching: one position at a time re-runs only the suffix it reaches; a hook at every position needs whole sequences. */
function patchStrategy(plan: PatchPlan, force?: Strategy): Strategy {
  const each = (plan.positions ?? 'each') === 'each';
  if (force === 'suffix-cached' && !each) throw new Error('--strategy suffix-cached: patching every position at once (--positions all) changes the whole sequence; use batched-from-layer');
  if (force && !['suffix-cached', 'batched-from-layer', 'naive'].includes(force)) throw new Error(`--strategy ${force}: patching runs as suffix-cached, batched-from-layer or naive`);
  return force ?? (each ? 'suffix-cached' : 'batched-from-layer');
}

/**
 * Whether zero / mean ablations of the final layer's heads have the exact closed form: the head's
 * output must reach the final residual unchanged (parallel residual, as in GPT-NeoX / Pythia); in
 * sequential blocks (GPT-2) the final MLP reads it, and only a re-run is exact.
 */
export function finalHeadsHaveClosedForm(spec: ModelSpec): boolean {
  return spec.parallelResidual && spec.nHeads * spec.dHead === spec.dModel;
}

const LOSS_ONLY = '--strategy final-layer-closed-form: the closed form measures the loss only, not log-probabilities at chosen positions (--logprobs-at) or, for neurons, watched activations (--watch)';

/**
 * Whether a neuron sweep measures more than the loss (log-probs, or watched activations — the
 * ablated neuron's own among them): then only re-runs apply. (The final-layer head closed form
 * handles watching: nothing it skips can change a watched activation.)
 */
export function measuresMoreThanLoss(plan: NeuronSweepPlan): boolean {
  return !!plan.logprobsAt?.length || !!plan.watch;
}

/** Strategy of a zero / mean / resample head sweep at one layer: the closed form where it is exact (and only the loss is measured), else batched from the layer. */
export function headLayerStrategy(spec: ModelSpec, layer: number, force?: Strategy, measuresMore = false): Strategy {
  if (force === 'final-layer-closed-form' && measuresMore) throw new Error(LOSS_ONLY);
  const closedForm = layer === spec.nLayers - 1 && finalHeadsHaveClosedForm(spec) && !measuresMore;
  if (force === 'final-layer-closed-form' && !closedForm) {
    throw new Error(`--strategy final-layer-closed-form: heads of layer ${layer} have no closed form (only the final layer of a parallel-residual model)`);
  }
  if (force) return force;
  return closedForm ? 'final-layer-closed-form' : 'batched-from-layer';
}

export function validateLayer(spec: ModelSpec, layer: number, flag: string): void {
  if (!Number.isInteger(layer) || layer < 0 || layer >= spec.nLayers) {
    throw new Error(`${flag}: layer ${layer} is out of range (the model has layers 0..${spec.nLayers - 1})`);
  }
}

/** Positions within a sequence of length T; negative ones count from the end (−1 = the last). */
export function resolvePositions(positions: number[], T: number, flag = '--logprobs-at'): number[] {
  return positions.map((p) => {
    const t = p < 0 ? T + p : p;
    if (!Number.isInteger(p) || t < 0 || t >= T) throw new Error(`${flag}: position ${p} is outside the sequences (length ${T}; negative positions count from the end)`);
    return t;
  });
}

/** Parses `i,j,a-b` (neuron indices and inclusive ranges) for --neurons. */
export function parseNeurons(spec: ModelSpec, value: string): number[] {
  const out: number[] = [];
  for (const part of value.split(',').map((s) => s.trim())) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`--neurons: expected indices and ranges like 0,5,10-20, got "${part}"`);
    const [a, b] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (b < a || b >= spec.dMlp) throw new Error(`--neurons: ${part} is out of range (the layer has neurons 0..${spec.dMlp - 1})`);
    for (let i = a; i <= b; i++) out.push(i);
  }
  return out;
}

/** Parses `N` or `last` for --layer. */
export function parseLayer(spec: ModelSpec, value: string, flag = '--layer'): number {
  const layer = value === 'last' ? spec.nLayers - 1 : Number(value);
  validateLayer(spec, layer, flag);
  return layer;
}

/** Parses `all` or `N,N,...` for --layers. */
export function parseLayers(spec: ModelSpec, value: string | undefined, flag = '--layers'): number[] {
  if (!value || value === 'all') return Array.from({ length: spec.nLayers }, (_, l) => l);
  return value.split(',').map((s) => parseLayer(spec, s.trim(), flag));
}

/** Parses `LAYER:i,j,...` for --watch. */
export function parseWatch(spec: ModelSpec, value: string): WatchedNeurons {
  const m = /^L?(\w+):([\d,\s]+)$/.exec(value.trim());
  if (!m) throw new Error(`--watch: expected LAYER:i,j,... (e.g. 11:0,5,42), got "${value}"`);
  const layer = parseLayer(spec, m[1], '--watch');
  const neurons = m[2].split(',').map((s) => Number(s.trim()));
  for (const n of neurons) {
    if (!Number.isInteger(n) || n < 0 || n >= spec.dMlp) throw new Error(`--watch: neuron ${n} is out of range (0..${spec.dMlp - 1})`);
  }
  return { layer, neurons };
}
