// Correlation-graph clustering on planted partitions and on structureless data.
import { describe, expect, it } from 'vitest';
import { correlationMatrix } from '../src/analysis/geometry.js';
import { buildGraph, clusterActivations, clusterBothVariants, clusterCorrelation, correlationEdges, modularity, runLouvain, signedModularity, type WeightedEdge } from '../src/analysis/graph.js';
import { Rng } from '../src/analysis/random.js';

/** Independent modularity: (1/2m) Σ_ij (A_ij − k_i k_j / 2m) δ(c_i, c_j) over a dense adjacency matrix. */
function denseModularity(k: number, edges: readonly WeightedEdge[], labels: readonly number[]): number {
  const Adj = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (const e of edges) {
    Adj[e.i][e.j] += e.weight;
    Adj[e.j][e.i] += e.weight;
  }
  const deg = Adj.map((row) => row.reduce((a, v) => a + v, 0));
  const twoM = deg.reduce((a, v) => a + v, 0);
  if (twoM === 0) return 0;
  let q = 0;
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) if (labels[i] === labels[j]) q += Adj[i][j] - (deg[i] * deg[j]) / twoM;
  return q / twoM;
}

/** Activations [m × blocks·size]: neuron i of block b = f_b + noise·e_i. */
function plantedBlocks(rng: Rng, m: number, blocks: number, size: number, noise: number): Float32Array {
  const n = blocks * size;
  const A = new Float32Array(m * n);
  for (let t = 0; t < m; t++) {
    const f = Array.from({ length: blocks }, () => rng.normal());
    for (let i = 0; i < n; i++) A[t * n + i] = f[Math.floor(i / size)] + noise * rng.normal();
  }
  return A;
}

const truth = (blocks: number, size: number) => Array.from({ length: blocks * size }, (_, i) => Math.floor(i / size));

describe('modularity', () => {
  it('edge-list formula equals the dense double sum on random weighted graphs and partitions', () => {
    const rng = new Rng(21);
    for (let trial = 0; trial < 20; trial++) {
      const k = 3 + rng.int(15);
      const edges: WeightedEdge[] = [];
      for (let i = 0; i < k; i++) for (let j = i + 1; j < k; j++) if (rng.uniform() < 0.4) edges.push({ i, j, weight: rng.uniform() });
      const labels = Array.from({ length: k }, () => rng.int(4));
      expect(modularity(k, edges, labels)).toBeCloseTo(denseModularity(k, edges, labels), 12);
    }
  });

  it('signed modularity on a hand-computed example', () => {
    const edges: WeightedEdge[] = [
      { i: 0, j: 1, weight: 0.8 },
      { i: 2, j: 3, weight: 0.6 },
      { i: 0, j: 2, weight: -0.5 },
      { i: 1, j: 3, weight: -0.4 },
      { i: 0, j: 3, weight: 0.35 },
    ];
    const labels = [0, 0, 1, 1];
    const s = signedModularity(4, edges, labels);
    const qPlus = 1.4 / 1.75 - (1.95 / 3.5) ** 2 - (1.55 / 3.5) ** 2;
    expect(s.qPositive).toBeCloseTo(qPlus, 12);
    expect(s.qNegative).toBeCloseTo(-0.5, 12); // no negative weight inside, d_c/2m = 1/2 each
    expect(s.signed).toBeCloseTo(qPlus + 0.5, 12);
    expect(signedModularity(4, edges.filter((e) => e.weight > 0), labels).qNegative).toBe(0);
  });
});

describe('Louvain on correlation graphs', () => {
  it('planted partition: 4 blocks found, Q > 0.3, our Q = dense formula = library Q', () => {
    const rng = new Rng(22);
    const A = plantedBlocks(rng, 500, 4, 10, 0.5);
    const res = clusterActivations(A, 500, 40, { seed: 7 });
    expect(res.empty).toBe(false);
    expect(res.count).toBe(4);
    expect(res.sizes).toEqual([10, 10, 10, 10]);
    expect(res.communities).toEqual(truth(4, 10));
    expect(res.modularity).toBeGreaterThan(0.7);
    expect(res.modular).toBe(true);
    const edges = correlationEdges(correlationMatrix(A, 500, 40), 40, 0.3).map((e) => ({ ...e, weight: Math.abs(e.weight) }));
    expect(edges.length).toBe(res.edges);
    expect(res.modularity).toBeCloseTo(denseModularity(40, edges, res.communities), 12);
    expect(res.modularity).toBeCloseTo(res.libraryModularity, 9);
    // all correlations inside blocks are positive: Q+ = Q and there is no negative subgraph
    expect(res.qPositive).toBeCloseTo(res.modularity, 12);
    expect(res.qNegative).toBe(0);
  });

  it('no-threshold variant still finds the blocks, with a lower Q matching the library', () => {
    const rng = new Rng(23);
    const A = plantedBlocks(rng, 500, 4, 10, 0.5);
    const { thresholded, full } = clusterBothVariants(A, 500, 40, { seed: 3 });
    expect(full.threshold).toBeNull();
    expect(full.edges).toBe((40 * 39) / 2);
    expect(full.negativeEdges).toBeGreaterThan(0);
    expect(full.communities).toEqual(truth(4, 10));
    expect(full.modularity).toBeLessThan(thresholded.modularity);
    expect(full.modularity).toBeGreaterThan(0.3);
    expect(full.modularity).toBeCloseTo(full.libraryModularity, 9);
    const signed = signedModularity(40, correlationEdges(correlationMatrix(A, 500, 40), 40, null), full.communities);
    expect(full.signedModularity).toBeCloseTo(signed.signed, 12);
  });

  it('structureless activations: no edge above 0.3 → empty graph, Q = 0, singletons', () => {
    const rng = new Rng(24);
    const A = Float32Array.from({ length: 500 * 40 }, () => rng.normal());
    const res = clusterActivations(A, 500, 40, { seed: 1 });
    expect(res.empty).toBe(true);
    expect(res.edges).toBe(0);
    expect(res.modularity).toBe(0);
    expect(res.count).toBe(40);
    expect(res.sizes.every((s) => s === 1)).toBe(true);
    expect(res.modular).toBe(false);
    expect(res.notes.join(' ')).toMatch(/no edge/);
  });

  it('structureless activations, no threshold: Q small, not modular', () => {
    const rng = new Rng(25);
    const A = Float32Array.from({ length: 500 * 40 }, () => rng.normal());
    const res = clusterActivations(A, 500, 40, { seed: 1, threshold: null });
    expect(res.empty).toBe(false);
    expect(res.modularity).toBeLessThan(0.2);
    expect(res.modular).toBe(false);
    expect(res.modularity).toBeCloseTo(res.libraryModularity, 9);
  });

  it('a constant neuron is an isolated node in its own community', () => {
    const rng = new Rng(26);
    const A = plantedBlocks(rng, 300, 2, 5, 0.5);
    for (let t = 0; t < 300; t++) A[t * 10 + 4] = 0;
    const res = clusterActivations(A, 300, 10, { seed: 2 });
    expect(res.count).toBe(3);
    expect(res.communities.filter((c) => c === res.communities[4]).length).toBe(1);
    expect(res.sizes).toEqual([5, 4, 1]);
  });

  it('deterministic for a fixed seed', () => {
    const rng = new Rng(27);
    const A = Float32Array.from({ length: 200 * 30 }, () => rng.normal());
    const corr = correlationMatrix(A, 200, 30);
    const a = clusterCorrelation(corr, 30, { seed: 5, threshold: null });
    const b = clusterCorrelation(corr, 30, { seed: 5, threshold: null });
    expect(b).toEqual(a);
    const g = buildGraph(30, correlationEdges(corr, 30, null));
    expect(runLouvain(g, 9).labels).toEqual(runLouvain(g, 9).labels);
  });
});
