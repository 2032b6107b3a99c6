/**
 * Token frequencies and the rare/common split of the rare-token analyses
 * (shared/docs/rare-token-analysis.md, "Rare vs common tokens" and "Data").
 *
 * - `countUnigrams` counts token ids over any corpus.
 * - `readCountsFile` / `parseNpy` / `parseCountsJson` read a user-supplied
 *   counts file (.npy 1-D numeric array, or .json array / {id: count}).
 * - `smoothedProbabilities`: add-one smoothing p(v) = (c(v)+1) / Σ(c+1).
 * - `rareCommonSplit`: 'longtail_50' (default), 'elbow_band', 'quantile_band'.
 * - `classifyPositions`: per-position labels (excluded / rare / common / other)
 *   with the position filters of the spec.
 *
 * Frequency ranks: tokens sorted by p descending, ties broken by token id
 * ascending; rank 1 = most frequent.
 */

import { importNodeFs } from '../io/byte-source.js';
import { quantileSorted } from './stats.js';

// ---------------------------------------------------------------------------
// Counting and reading counts

/** Unigram counts over rows of token ids; throws on an id outside [0, vocab). */
export function countUnigrams(idRows: Iterable<ArrayLike<number>>, vocab: number): Float64Array {
  if (!Number.isSafeInteger(vocab) || vocab <= 0) throw new Error(`countUnigrams: vocab must be a positive integer, got ${vocab}`);
  const counts = new Float64Array(vocab);
  let r = 0;
  for (const row of idRows) {
    for (let i = 0; i < row.length; i++) {
      const id = row[i];
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new Error(`countUnigrams: token id ${id} at row ${r}, position ${i} is outside [0, ${vocab})`);
      }
      counts[id]++;
    }
    r++;
  }
  return counts;
}

/**
 * Reads a counts file: `.npy` (1-D little-endian int32/int64/uint32/uint64/
 * float32/float64, NPY format v1/v2/v3) or `.json` (array of numbers, or an
 * object token-id → count; missing ids count 0). When `vocab` is given the
 * result must have exactly that length (an object may not name ids ≥ vocab).
 * Counts must be finite and ≥ 0. Every error names the file.
 */
export async function readCountsFile(path: string, vocab?: number): Promise<Float64Array> {
  const lower = path.toLowerCase();
  if (!lower.endsWith('.npy') && !lower.endsWith('.json')) {
    throw new Error(`${path}: unsupported counts file extension; expected .npy or .json`);
  }
  const fs = await importNodeFs();
  const bytes = new Uint8Array(await fs.promises.readFile(path));
  const counts = lower.endsWith('.npy') ? parseNpy(bytes, path) : parseCountsJson(new TextDecoder().decode(bytes), path, vocab);
  validateCounts(counts, path, vocab);
  return counts;
}

/** Throws unless every count is finite and ≥ 0 and (when given) the length equals vocab. */
export function validateCounts(counts: ArrayLike<number>, name: string, vocab?: number): void {
  if (vocab !== undefined && counts.length !== vocab) {
    throw new Error(`${name}: counts have length ${counts.length} but the vocabulary has ${vocab} tokens`);
  }
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (!Number.isFinite(c) || c < 0) throw new Error(`${name}: count for token ${i} is ${c}; counts must be finite and ≥ 0`);
  }
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"

const NPY_DTYPES: Record<string, { size: number; read: (v: DataView, o: number) => number }> = {
  '<i4': { size: 4, read: (v, o) => v.getInt32(o, true) },
  '<u4': { size: 4, read: (v, o) => v.getUint32(o, true) },
  '<i8': { size: 8, read: (v, o) => safeBig(v.getBigInt64(o, true)) },
  '<u8': { size: 8, read: (v, o) => safeBig(v.getBigUint64(o, true)) },
  '<f4': { size: 4, read: (v, o) => v.getFloat32(o, true) },
  '<f8': { size: 8, read: (v, o) => v.getFloat64(o, true) },
};

function safeBig(b: bigint): number {
  const n = Number(b);
  if (!Number.isSafeInteger(n)) throw new RangeError(`64-bit value ${b} does not fit a double exactly`);
  return n;
}

/**
 * Parses a 1-D .npy array into a Float64Array. Supports format versions 1.0,
 * 2.0 and 3.0; dtypes <i4 <u4 <i8 <u8 <f4 <f8 ('|'/'=' byte orders and big-endian
 * are rejected); fortran_order must be False (for a 1-D array either order is
 * the same bytes, but we follow the C-order contract strictly). The data must
 * be exactly shape[0] × itemsize bytes. `name` is used in error messages.
 */
export function parseNpy(bytes: Uint8Array, name: string): Float64Array {
  const fail = (msg: string): never => {
    throw new Error(`${name}: invalid .npy file: ${msg}`);
  };
  if (bytes.length < 10 || NPY_MAGIC.some((b, i) => bytes[i] !== b)) fail('missing \\x93NUMPY magic string');
  const major = bytes[6];
  if (major !== 1 && major !== 2 && major !== 3) fail(`unsupported format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) fail('truncated header length');
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lenBytes + headerLen;
  if (dataStart > bytes.length) fail(`header length ${headerLen} runs past the end of the file (${bytes.length} bytes)`);
  const decoder = new TextDecoder(major === 3 ? 'utf-8' : 'latin1');
  const header = decoder.decode(bytes.subarray(8 + lenBytes, dataStart));
  const { descr, fortran, shape } = parseNpyHeader(header, fail);
  const dtype = NPY_DTYPES[descr];
  if (!dtype) fail(`unsupported dtype '${descr}'; expected one of ${Object.keys(NPY_DTYPES).join(', ')}`);
  if (fortran) fail('fortran_order True is not supported; save the array in C order');
  if (shape.length !== 1) fail(`expected a 1-D array, got shape (${shape.join(', ')})`);
  const n = shape[0];
  const expected = n * dtype.size;
  if (bytes.length - dataStart !== expected) {
    fail(`data has ${bytes.length - dataStart} bytes but shape (${n},) of ${descr} needs ${expected}`);
  }
  const out = new Float64Array(n);
  try {
    for (let i = 0; i < n; i++) out[i] = dtype.read(view, dataStart + i * dtype.size);
  } catch (err) {
    fail((err as Error).message);
  }
  return out;
}

/** Extracts descr / fortran_order / shape from the Python-literal header dict. */
function parseNpyHeader(
  header: string,
  fail: (msg: string) => never,
): { descr: string; fortran: boolean; shape: number[] } {
  const h = header.trim();
  if (!h.startsWith('{') || !h.endsWith('}')) fail(`header is not a dict literal: ${JSON.stringify(header.slice(0, 80))}`);
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(h)?.[1];
  const fortranText = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(h)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(h)?.[1];
  if (descr === undefined) fail(`header has no 'descr': ${h}`);
  if (fortranText === undefined) fail(`header has no 'fortran_order' True/False: ${h}`);
  if (shapeText === undefined) fail(`header has no 'shape' tuple: ${h}`);
  const parts = shapeText!.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  const shape = parts.map((s) => {
    const v = Number(s.replace(/L$/, ''));
    if (!/^\d+L?$/.test(s) || !Number.isSafeInteger(v)) fail(`bad shape entry '${s}' in ${h}`);
    return v;
  });
  return { descr: descr!, fortran: fortranText === 'True', shape };
}

/**
 * Parses a JSON counts document: an array of numbers (index = token id), or
 * an object whose keys are token ids (non-negative integer strings) and values
 * counts. For an object the length is `vocab` when given, else max id + 1.
 */
export function parseCountsJson(text: string, name: string, vocab?: number): Float64Array {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`${name}: invalid JSON: ${(err as Error).message}`);
  }
  if (Array.isArray(doc)) {
    return Float64Array.from(doc, (v, i) => {
      if (typeof v !== 'number') throw new Error(`${name}: entry ${i} is ${JSON.stringify(v)}, expected a number`);
      return v;
    });
  }
  if (doc === null || typeof doc !== 'object') {
    throw new Error(`${name}: expected a JSON array of counts or an object token-id → count`);
  }
  const entries = Object.entries(doc as Record<string, unknown>);
  let maxId = -1;
  for (const [k, v] of entries) {
    if (!/^\d+$/.test(k)) throw new Error(`${name}: key '${k}' is not a token id (non-negative integer)`);
    if (typeof v !== 'number') throw new Error(`${name}: count for token ${k} is ${JSON.stringify(v)}, expected a number`);
    maxId = Math.max(maxId, Number(k));
  }
  if (vocab !== undefined && maxId >= vocab) throw new Error(`${name}: token id ${maxId} is outside the vocabulary [0, ${vocab})`);
  const out = new Float64Array(vocab ?? maxId + 1);
  for (const [k, v] of entries) out[Number(k)] = v as number;
  return out;
}

/** Add-one smoothing: p(v) = (c(v) + 1) / Σ_u (c(u) + 1). */
export function smoothedProbabilities(counts: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] + 1;
  const p = new Float64Array(counts.length);
  for (let i = 0; i < counts.length; i++) p[i] = (counts[i] + 1) / total;
  return p;
}

// ---------------------------------------------------------------------------
// Rare / common split

export type SplitMethod = 'longtail_50' | 'elbow_band' | 'quantile_band';

export interface SplitOptions {
  /** elbow_band: the band's frequent end is the frequency at the top-X% rank (X ∈ [0, 100), typically 0, 15, 20). Default 0. */
  topPercent?: number;
  /** elbow_band: window length in ranks (default 2000; scaled down for small vocabularies, see `elbowPoint`). */
  window?: number;
  /** elbow_band: the first window starts at this rank percentile (default 0.5). */
  startPercentile?: number;
  /** elbow_band: flag |Δslope| > mean + k·sd (population sd), k default 3. */
  sdMultiplier?: number;
  /** elbow_band: window stride in ranks (default 1, as in the authors' code). */
  step?: number;
  /** elbow_band: 'center' (default) places the elbow where the two compared windows meet their midpoint, i.e. at the kink; 'window-start' is the authors' convention (first rank of the later window, ≈ window/2 ranks before the kink). */
  elbowLocation?: 'center' | 'window-start';
  /** quantile_band: lower and upper quantiles of p over the vocabulary (default 0 and 0.5). */
  lowQuantile?: number;
  highQuantile?: number;
}

export interface ElbowInfo {
  /** True when the chosen change exceeded mean + k·sd; false means the fallback (largest change) was used. */
  flagged: boolean;
  message: string;
  /** 1-based frequency rank of the elbow and its probability. */
  rank: number;
  probability: number;
  slopeBefore: number;
  slopeAfter: number;
  change: number;
  changeThreshold: number;
  window: number;
  step: number;
  startRank: number;
  nWindows: number;
}

export interface SplitResult {
  method: SplitMethod;
  isRare: Uint8Array;
  isCommon: Uint8Array;
  info: {
    nRare: number;
    nCommon: number;
    /** Tokens that are neither rare nor common. */
    nNeither: number;
    /** Rare iff lowProbability ≤ p ≤ highProbability (longtail_50: p < threshold). */
    lowProbability?: number;
    highProbability?: number;
    threshold?: number;
    medianRank?: number;
    nAtThreshold?: number;
    topPercent?: number;
    topRank?: number;
    elbow?: ElbowInfo;
    lowQuantile?: number;
    highQuantile?: number;
    notes: string[];
  };
}

/** Token ids ordered by p descending (ties by id ascending). */
export function frequencyOrder(p: ArrayLike<number>): Int32Array {
  const order = Int32Array.from({ length: p.length }, (_, i) => i);
  order.sort((a, b) => p[b] - p[a] || a - b);
  return order;
}

/**
 * Splits the vocabulary into rare and common tokens.
 *
 * - 'longtail_50' (default): threshold = p at the median rank ⌈V/2⌉ (ranks by
 *   p descending); rare = p < threshold, common = p > threshold. Tokens whose
 *   p equals the threshold (the median token and any ties with it) are
 *   neither, so with many tied counts (e.g. unseen tokens after smoothing) the
 *   rare set can be small or empty: `info.nAtThreshold` reports it.
 * - 'elbow_band': rare = p in [p_elbow, p_top] where p_top is p at rank index
 *   ⌊V·X/100⌋ (0-based, descending; the authors' "top-X%" point) and p_elbow
 *   is p at the Zipf elbow (`elbowPoint`); bounds are swapped if reversed.
 *   Common = p > p_top (empty when X = 0); tokens below the elbow (the
 *   extreme tail) are neither.
 * - 'quantile_band': rare = p in [Q(lowQuantile), Q(highQuantile)] with Q the
 *   interpolated quantile of p over the vocabulary; common = p > Q(high).
 */
export function rareCommonSplit(
  p: ArrayLike<number>,
  method: SplitMethod = 'longtail_50',
  options: SplitOptions = {},
): SplitResult {
  if (p.length === 0) throw new Error('rareCommonSplit: empty probability vector');
  if (method === 'longtail_50') return longtailSplit(p);
  if (method === 'elbow_band') return elbowBandSplit(p, options);
  if (method === 'quantile_band') return quantileBandSplit(p, options);
  throw new Error(`rareCommonSplit: unknown method '${method as string}'`);
}

/** Labels tokens by two inclusive band bounds: rare inside, common above, neither below. */
function bandSplit(p: ArrayLike<number>, lo: number, hi: number) {
  const isRare = new Uint8Array(p.length);
  const isCommon = new Uint8Array(p.length);
  let nRare = 0;
  let nCommon = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] >= lo && p[i] <= hi) {
      isRare[i] = 1;
      nRare++;
    } else if (p[i] > hi) {
      isCommon[i] = 1;
      nCommon++;
    }
  }
  return { isRare, isCommon, nRare, nCommon, nNeither: p.length - nRare - nCommon };
}

function longtailSplit(p: ArrayLike<number>): SplitResult {
  const order = frequencyOrder(p);
  const medianRank = Math.ceil(p.length / 2);
  const threshold = p[order[medianRank - 1]];
  const isRare = new Uint8Array(p.length);
  const isCommon = new Uint8Array(p.length);
  let nRare = 0;
  let nCommon = 0;
  for (let i = 0; i < p.length; i++) {
    if (p[i] < threshold) {
      isRare[i] = 1;
      nRare++;
    } else if (p[i] > threshold) {
      isCommon[i] = 1;
      nCommon++;
    }
  }
  const nAtThreshold = p.length - nRare - nCommon;
  const notes = ['tokens with p exactly equal to the median-rank threshold are neither rare nor common'];
  if (nRare === 0) notes.push('no token lies strictly below the threshold (ties at the median): the rare set is empty');
  return {
    method: 'longtail_50',
    isRare,
    isCommon,
    info: { nRare, nCommon, nNeither: nAtThreshold, threshold, medianRank, nAtThreshold, notes },
  };
}

function elbowBandSplit(p: ArrayLike<number>, options: SplitOptions): SplitResult {
  const X = options.topPercent ?? 0;
  if (!(X >= 0 && X < 100)) throw new Error(`rareCommonSplit: topPercent must be in [0, 100), got ${X}`);
  const order = frequencyOrder(p);
  const sorted = Float64Array.from(order, (i) => p[i]);
  const elbow = elbowPoint(sorted, options);
  const topIndex = Math.min(sorted.length - 1, Math.floor((sorted.length * X) / 100));
  let hi = sorted[topIndex];
  let lo = elbow.probability;
  const notes: string[] = [];
  if (lo > hi) {
    [lo, hi] = [hi, lo];
    notes.push('the elbow lies above the top-X% point: band bounds swapped');
  }
  if (!elbow.flagged) notes.push(elbow.message);
  const band = bandSplit(p, lo, hi);
  return {
    method: 'elbow_band',
    isRare: band.isRare,
    isCommon: band.isCommon,
    info: {
      nRare: band.nRare,
      nCommon: band.nCommon,
      nNeither: band.nNeither,
      lowProbability: lo,
      highProbability: hi,
      topPercent: X,
      topRank: topIndex + 1,
      elbow,
      notes,
    },
  };
}

function quantileBandSplit(p: ArrayLike<number>, options: SplitOptions): SplitResult {
  const qLo = options.lowQuantile ?? 0;
  const qHi = options.highQuantile ?? 0.5;
  if (!(qLo >= 0 && qLo <= qHi && qHi <= 1)) {
    throw new Error(`rareCommonSplit: need 0 ≤ lowQuantile ≤ highQuantile ≤ 1, got ${qLo}, ${qHi}`);
  }
  const asc = Float64Array.from(p).sort();
  const lo = quantileSorted(asc, qLo);
  const hi = quantileSorted(asc, qHi);
  const band = bandSplit(p, lo, hi);
  return {
    method: 'quantile_band',
    isRare: band.isRare,
    isCommon: band.isCommon,
    info: { nRare: band.nRare, nCommon: band.nCommon, nNeither: band.nNeither, lowProbability: lo, highProbability: hi, lowQuantile: qLo, highQuantile: qHi, notes: [] },
  };
}

/**
 * Zipf elbow of probabilities sorted descending: slide a window of W ranks
 * (stride `step`) over (log rank, log p) starting at rank index
 * ⌊V·startPercentile⌋, least-squares slope per window (prefix sums, O(V)),
 * |Δslope| between consecutive windows, flag changes > mean + k·sd
 * (population sd). The elbow is the largest flagged change; if none is
 * flagged, the largest change is used and `flagged` is false.
 *
 * Small vocabularies: W_eff = min(W, ⌊(V − start)/4⌋), so that at least
 * ~3·W_eff + 1 windows fit after the start; V − start must allow W_eff ≥ 3.
 * Location of the change between windows starting at s and s + step:
 * 'center' → rank index s + ⌊(W + step)/2⌋ (where a kink sits when the
 * change is largest), 'window-start' → s + step (the authors' convention).
 */
export function elbowPoint(sortedDesc: ArrayLike<number>, options: SplitOptions = {}): ElbowInfo {
  const V = sortedDesc.length;
  const startIdx = Math.floor(V * (options.startPercentile ?? 0.5));
  const W = Math.min(options.window ?? 2000, Math.floor((V - startIdx) / 4));
  const step = options.step ?? 1;
  const k = options.sdMultiplier ?? 3;
  if (W < 3) throw new Error(`elbowPoint: vocabulary of ${V} tokens is too small for elbow detection (window would be ${W})`);
  if (!Number.isInteger(step) || step < 1) throw new Error(`elbowPoint: step must be a positive integer, got ${step}`);
  const slopes = windowSlopes(sortedDesc, startIdx, W, step);
  if (slopes.length < 3) throw new Error(`elbowPoint: only ${slopes.length} windows fit (window ${W}, step ${step}); use a smaller step`);
  const changes = new Float64Array(slopes.length - 1);
  for (let i = 0; i < changes.length; i++) changes[i] = Math.abs(slopes[i + 1] - slopes[i]);
  let m = 0;
  for (const c of changes) m += c;
  m /= changes.length;
  let v = 0;
  for (const c of changes) v += (c - m) ** 2;
  const threshold = m + k * Math.sqrt(v / changes.length);
  let best = 0;
  for (let i = 1; i < changes.length; i++) if (changes[i] > changes[best]) best = i;
  const flagged = changes[best] > threshold;
  const s = startIdx + best * step;
  const loc = options.elbowLocation ?? 'center';
  const idx = Math.min(V - 1, loc === 'center' ? s + Math.floor((W + step) / 2) : s + step);
  return {
    flagged,
    message: flagged
      ? `elbow at rank ${idx + 1}: |Δslope| ${changes[best].toPrecision(4)} > mean + ${k}·sd = ${threshold.toPrecision(4)}`
      : `no slope change above mean + ${k}·sd (${threshold.toPrecision(4)}); fell back to the largest change (rank ${idx + 1})`,
    rank: idx + 1,
    probability: sortedDesc[idx],
    slopeBefore: slopes[best],
    slopeAfter: slopes[best + 1],
    change: changes[best],
    changeThreshold: threshold,
    window: W,
    step,
    startRank: startIdx + 1,
    nWindows: slopes.length,
  };
}

/** Least-squares slopes of log p on log rank over windows [s, s+W), s = start, start+step, … */
function windowSlopes(sortedDesc: ArrayLike<number>, start: number, W: number, step: number): Float64Array {
  const V = sortedDesc.length;
  const sx = new Float64Array(V + 1);
  const sy = new Float64Array(V + 1);
  const sxx = new Float64Array(V + 1);
  const sxy = new Float64Array(V + 1);
  for (let i = 0; i < V; i++) {
    const x = Math.log(i + 1);
    const y = Math.log(sortedDesc[i]);
    if (!Number.isFinite(y)) throw new Error(`elbowPoint: probability at rank ${i + 1} is ${sortedDesc[i]}; all must be > 0 (smooth first)`);
    sx[i + 1] = sx[i] + x;
    sy[i + 1] = sy[i] + y;
    sxx[i + 1] = sxx[i] + x * x;
    sxy[i + 1] = sxy[i] + x * y;
  }
  const n = Math.floor((V - W - start) / step) + 1;
  const out = new Float64Array(n);
  for (let w = 0; w < n; w++) {
    const a = start + w * step;
    const b = a + W;
    const Sx = sx[b] - sx[a];
    const Sy = sy[b] - sy[a];
    const den = W * (sxx[b] - sxx[a]) - Sx * Sx;
    out[w] = den > 0 ? (W * (sxy[b] - sxy[a]) - Sx * Sy) / den : 0;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Position classification

export const POSITION_EXCLUDED = 0;
export const POSITION_RARE = 1;
export const POSITION_COMMON = 2;
export const POSITION_OTHER = 3;

export interface ClassifyOptions {
  /** Which token decides rarity of position t: 'target' (x_{t+1}, default) or 'input' (x_t, the authors' code). */
  by?: 'target' | 'input';
  /** Token ids excluded as inputs and as targets: BOS/EOS, plus "\n" for GPT-2 (see `defaultExcludedTokenIds`). */
  excludedTokenIds?: Iterable<number>;
  /** Positions 0 … dropFirst−1 are dropped (default 3). */
  dropFirst?: number;
  /** The last dropLast positions of each row are dropped (default 1, and never less: the last position has no target). */
  dropLast?: number;
}

/**
 * Excluded token ids for the model families: GPT-2 <|endoftext|> (50256,
 * used as BOS and EOS) and "\n" (198); Pythia/NeoX <|endoftext|> (0, BOS and EOS).
 */
export function defaultExcludedTokenIds(family: 'gpt2' | 'pythia'): number[] {
  return family === 'gpt2' ? [50256, 198] : [0];
}

/**
 * Per-position labels for rows of token ids: 0 excluded, 1 rare, 2 common,
 * 3 other. Position t is excluded when t < dropFirst, t ≥ len − dropLast,
 * x_t is excluded, or x_{t+1} is excluded (or missing). Otherwise the deciding
 * token (x_{t+1} by default, x_t with by: 'input') is looked up in the split.
 */
export function classifyPositions(
  rows: Iterable<ArrayLike<number>>,
  split: Pick<SplitResult, 'isRare' | 'isCommon'>,
  options: ClassifyOptions = {},
): Uint8Array[] {
  const by = options.by ?? 'target';
  const excluded = new Set(options.excludedTokenIds ?? []);
  const dropFirst = options.dropFirst ?? 3;
  const dropLast = Math.max(1, options.dropLast ?? 1);
  const out: Uint8Array[] = [];
  for (const row of rows) {
    const labels = new Uint8Array(row.length);
    for (let t = dropFirst; t < row.length - dropLast; t++) {
      const input = row[t];
      const target = row[t + 1];
      if (excluded.has(input) || excluded.has(target)) continue;
      const tok = by === 'target' ? target : input;
      if (tok < 0 || tok >= split.isRare.length) throw new Error(`classifyPositions: token id ${tok} outside the split's vocabulary`);
      labels[t] = split.isRare[tok] ? POSITION_RARE : split.isCommon[tok] ? POSITION_COMMON : POSITION_OTHER;
    }
    out.push(labels);
  }
  return out;
}
