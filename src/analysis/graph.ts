// Correlation-graph clustering of a neuron group ("no clustering", rare-token-analysis.md, section
// Graph clustering). Nodes are the k neurons of a group, edge weights |r| of the Pearson correlation
// of their activations over rare contexts; Louvain (graphology-communities-louvain, resolution 1,
// seeded with our PRNG) gives a partition whose Newman modularity Q we compute ourselves from the
// weighted edge list (and compare with the library's value in the tests).
//
// Conventions, recorded in every result:
// - threshold: keep edges with |r| >= threshold (default 0.3); `threshold: null` is the
//   no-threshold variant (every pair with r != 0 and r defined). No self-loops.
// - Undefined correlations (a constant neuron) give no edge: such a neuron is an isolated node.
// - Signed modularity: the partition is Louvain's on the |r| graph; Q+ is the modularity of that
//   partition on the subgraph of positive correlations (weights r, its own degrees and total
//   weight), Q- on the subgraph of negative correlations (weights |r|), signed = Q+ - Q-. A
//   subgraph without edges has Q = 0.
// - Empty graph (no edge passes the threshold): Q = 0, every neuron its own community, `empty`
//   true and a note saying so (Louvain is not run).
// - "modular" = Q > 0.3 with at least 2 communities.

import { UndirectedGraph } from 'graphology';
import louvain from 'graphology-communities-louvain';
import { correlationMatrix } from './geometry.js';
import { Rng } from './random.js';

export const DEFAULT_EDGE_THRESHOLD = 0.3;
export const MODULAR_Q = 0.3;

/** One undirected edge between nodes i < j with a non-negative weight. */
export interface WeightedEdge {
  i: number;
  j: number;
  weight: number;
}

export interface GraphOptions {
  /** Keep edges with |r| >= threshold; null = no threshold (all defined, non-zero r). Default 0.3. */
  threshold?: number | null;
  /** Seed of the PRNG handed to Louvain (default 0). */
  seed?: number;
  /** Louvain resolution (default 1; our modularity uses the same resolution). */
  resolution?: number;
}

export interface GraphClustering {
  nodes: number;
  threshold: number | null;
  edges: number;
  positiveEdges: number;
  negativeEdges: number;
  /** Σ of edge weights |r| over kept edges (m in the modularity formula). */
  totalWeight: number;
  /** True when no edge passed the threshold. */
  empty: boolean;
  /** Community label per node (0 … count-1, numbered by first appearance). */
  communities: number[];
  count: number;
  /** Community sizes, descending. */
  sizes: number[];
  /** Newman modularity of the partition on the |r| graph, computed here. */
  modularity: number;
  /** Modularity reported by graphology-communities-louvain (NaN when Louvain was not run). */
  libraryModularity: number;
  qPositive: number;
  qNegative: number;
  /** Q+ - Q- (see header for the convention). */
  signedModularity: number;
  /** Q > 0.3 with >= 2 communities. */
  modular: boolean;
  resolution: number;
  seed: number;
  notes: string[];
}

/** Signed edges (weight = r, i < j) from a k×k correlation matrix, filtered by |r| >= threshold. */
export function correlationEdges(corr: ArrayLike<number>, k: number, threshold: number | null = DEFAULT_EDGE_THRESHOLD): WeightedEdge[] {
  const edges: WeightedEdge[] = [];
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const r = corr[i * k + j];
      if (!Number.isFinite(r) || r === 0) continue;
      if (threshold !== null && Math.abs(r) < threshold) continue;
      edges.push({ i, j, weight: r });
    }
  }
  return edges;
}

/** graphology undirected graph over nodes "0" … "k-1" with attribute `weight` = |r| per edge. */
export function buildGraph(k: number, signedEdges: readonly WeightedEdge[]): UndirectedGraph {
  const g = new UndirectedGraph({ allowSelfLoops: false, multi: false });
  for (let i = 0; i < k; i++) g.addNode(String(i));
  for (const e of signedEdges) g.addUndirectedEdge(String(e.i), String(e.j), { weight: Math.abs(e.weight) });
  return g;
}

/**
 * Newman modularity of a partition of an undirected weighted graph (no self-loops):
 * Q = Σ_c [ W_c / m − γ (d_c / 2m)² ], W_c = weight inside community c, d_c = Σ degrees in c,
 * m = total weight. Returns 0 for a graph without weight. Weights must be >= 0.
 */
export function modularity(k: number, edges: readonly WeightedEdge[], communities: ArrayLike<number>, resolution = 1): number {
  let m = 0;
  const inside = new Map<number, number>();
  const degree = new Map<number, number>();
  for (const e of edges) {
    m += e.weight;
    const ci = communities[e.i];
    const cj = communities[e.j];
    degree.set(ci, (degree.get(ci) ?? 0) + e.weight);
    degree.set(cj, (degree.get(cj) ?? 0) + e.weight);
    if (ci === cj) inside.set(ci, (inside.get(ci) ?? 0) + e.weight);
  }
  if (m <= 0 || k === 0) return 0;
  let q = 0;
  for (const [c, dc] of degree) q += (inside.get(c) ?? 0) / m - resolution * (dc / (2 * m)) ** 2;
  return q;
}

/** Q+ (positive edges, weight r), Q- (negative edges, weight |r|) and Q+ - Q- for a partition. */
export function signedModularity(k: number, signedEdges: readonly WeightedEdge[], communities: ArrayLike<number>, resolution = 1): { qPositive: number; qNegative: number; signed: number } {
  const pos = signedEdges.filter((e) => e.weight > 0);
  const neg = signedEdges.filter((e) => e.weight < 0).map((e) => ({ i: e.i, j: e.j, weight: -e.weight }));
  const qPositive = modularity(k, pos, communities, resolution);
  const qNegative = modularity(k, neg, communities, resolution);
  return { qPositive, qNegative, signed: qPositive - qNegative };
}

/** Renumber labels 0 … c-1 by first appearance; returns labels, count and sizes (descending). */
export function normalizePartition(labels: ArrayLike<number>): { communities: number[]; count: number; sizes: number[] } {
  const map = new Map<number, number>();
  const communities: number[] = [];
  const sizes: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    let c = map.get(labels[i]);
    if (c === undefined) {
      c = map.size;
      map.set(labels[i], c);
      sizes.push(0);
    }
    communities.push(c);
    sizes[c]++;
  }
  return { communities, count: map.size, sizes: [...sizes].sort((a, b) => b - a) };
}

/** Seeded Louvain on a graphology graph (edge attribute `weight`); labels per node 0 … k-1. */
export function runLouvain(graph: UndirectedGraph, seed: number, resolution = 1): { labels: number[]; modularity: number } {
  const rng = new Rng(seed);
  const out = louvain.detailed(graph, { getEdgeWeight: 'weight', resolution, rng: () => rng.uniform() });
  const labels: number[] = [];
  for (let i = 0; i < graph.order; i++) labels.push(out.communities[String(i)]);
  return { labels, modularity: out.modularity };
}

/** Full clustering of a group given its k×k correlation matrix (row-major). */
export function clusterCorrelation(corr: ArrayLike<number>, k: number, options: GraphOptions = {}): GraphClustering {
  const threshold = options.threshold === undefined ? DEFAULT_EDGE_THRESHOLD : options.threshold;
  const seed = options.seed ?? 0;
  const resolution = options.resolution ?? 1;
  const signedEdges = correlationEdges(corr, k, threshold);
  const absEdges = signedEdges.map((e) => ({ i: e.i, j: e.j, weight: Math.abs(e.weight) }));
  const notes: string[] = [
    'partition from Louvain on the |r| graph; Q+ and Q- are that partition evaluated on the positive and negative subgraphs, each with its own degrees',
  ];
  let labels: number[];
  let libraryModularity = NaN;
  const empty = signedEdges.length === 0;
  if (empty) {
    labels = Array.from({ length: k }, (_, i) => i);
    notes.push(`no edge with |r| >= ${threshold ?? 0}: Q = 0 and every neuron is its own community (Louvain not run)`);
  } else {
    const res = runLouvain(buildGraph(k, signedEdges), seed, resolution);
    labels = res.labels;
    libraryModularity = res.modularity;
  }
  const part = normalizePartition(labels);
  const q = empty ? 0 : modularity(k, absEdges, part.communities, resolution);
  const s = signedModularity(k, signedEdges, part.communities, resolution);
  return {
    nodes: k,
    threshold,
    edges: signedEdges.length,
    positiveEdges: signedEdges.filter((e) => e.weight > 0).length,
    negativeEdges: signedEdges.filter((e) => e.weight < 0).length,
    totalWeight: absEdges.reduce((a, e) => a + e.weight, 0),
    empty,
    ...part,
    modularity: q,
    libraryModularity,
    qPositive: s.qPositive,
    qNegative: s.qNegative,
    signedModularity: s.signed,
    modular: q > MODULAR_Q && part.count >= 2,
    resolution,
    seed,
    notes,
  };
}

/** Clustering of a group from its activations A [contexts × neurons] (row-major). */
export function clusterActivations(A: ArrayLike<number>, contexts: number, neurons: number, options: GraphOptions = {}): GraphClustering {
  return clusterCorrelation(correlationMatrix(A, contexts, neurons), neurons, options);
}

/** The default (|r| >= 0.3) and the no-threshold variant on the same activations. */
export function clusterBothVariants(A: ArrayLike<number>, contexts: number, neurons: number, options: Omit<GraphOptions, 'threshold'> & { threshold?: number } = {}): { thresholded: GraphClustering; full: GraphClustering } {
  const corr = correlationMatrix(A, contexts, neurons);
  return {
    thresholded: clusterCorrelation(corr, neurons, { ...options, threshold: options.threshold ?? DEFAULT_EDGE_THRESHOLD }),
    full: clusterCorrelation(corr, neurons, { ...options, threshold: null }),
  };
}
