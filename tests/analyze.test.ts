// `plateau analyze` end to end on the embedded model with small settings: every output is written,
// complete and internally consistent (the numbers in results.json follow from the raw influence
// matrix, the groups from the rankings, the CSVs and the report from results.json).
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers/cli.js';
import { SafetensorsFile } from '../src/io/safetensors.js';
import type { AnalysisResults } from '../src/analysis/results.js';
import { writeRandomCheckpoint } from '../src/model/random-checkpoint.js';

describe('plateau analyze on the embedded model', () => {
  it('writes a complete, consistent results.json, CSVs, influence matrix and report', async () => {
    const out = path.join(tempDir(), 'analysis');
    const res = await runCli(['analyze', '--out', out, '--rows', '4', '--seq', '64', '--mean-rows', '8', '--bootstrap', '20', '--permutations', '100']);
    expect(res.stderr).not.toMatch(/plateau:/);
    expect(res.code).toBe(0);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as AnalysisResults;
    const m = results.model.dMlp;
    expect(results.format).toBe('plateau-analysis/1');
    expect(results.model.files.map((f) => f.name)).toContain('model.safetensors');
    expect(results.model.files.every((f) => /^[0-9a-f]{64}$/.test(f.sha256))).toBe(true);
    for (const key of ['D_rare', 'I_rare', 'D_common', 'I_common', 'mean'] as const) expect(results.neurons[key]).toHaveLength(m);
    expect(results.options).toMatchObject({ rows: 4, seq: 64, split: 'longtail_50', by: 'target', ablation: 'mean', randomGroups: 100 });

    // Influence: I and D recomputed from the raw matrix.
    const st = await SafetensorsFile.openPath(path.join(out, 'influence.safetensors'));
    const rare = await st.readF32('rare.dnll');
    const P = st.info('rare.dnll').shape[1];
    expect(P).toBe(results.sets.rare.positions);
    for (const i of [0, 7, m - 1]) {
      let d = 0, a = 0;
      for (let j = 0; j < P; j++) { d += rare[i * P + j]; a += Math.abs(rare[i * P + j]); }
      expect(results.neurons.D_rare[i]).toBeCloseTo(d / P, 5);
      expect(results.neurons.I_rare[i]).toBeCloseTo(a / P, 5);
    }
    await st.close();

    // Regimes: the fitted curve is the boost neurons' I, descending, and the breakpoints are ordered.
    for (const set of [results.sets.rare, results.sets.common]) {
      const r = set.regimes;
      expect(r.curve).toHaveLength(set.boostCount);
      expect(r.neurons.every((n) => results.neurons[set.label === 'rare' ? 'D_rare' : 'D_common'][n] > 0)).toBe(true);
      expect(r.curve.every((v, k) => k === 0 || v <= r.curve[k - 1])).toBe(true);
      expect(1 < r.r1 && r.r1 < r.r2).toBe(true);
      expect(r.shares.plateau + r.shares.powerLaw + r.shares.decay).toBeCloseTo(1, 6);
      expect(r.ci.alpha!.low).toBeLessThanOrEqual(r.ci.alpha!.high);
    }
    // Groups: plateau = the top of the rare ranking; suppress = negative D; disjoint.
    const { plateau, suppress } = results.groups;
    expect(plateau).toEqual(results.sets.rare.regimes.neurons.slice(0, plateau.length));
    expect(suppress.every((n) => results.neurons.D_rare[n] < 0 && !plateau.includes(n))).toBe(true);
    expect(results.groups.randomCount).toBe(100);
    expect(results.graph.randomQ).toHaveLength(100);
    expect(results.graph.vsRandom.modularity.n).toBe(100);
    expect(results.geometry.plateau.size).toBe(plateau.length);
    // Heads: last layer screened, every head present, p-values in (0, 1].
    expect(results.heads.layers).toEqual([results.model.nLayers - 1]);
    expect(results.heads.routing).toHaveLength(results.model.nHeads);
    expect(results.heads.routing.every((h) => h.pPermutation > 0 && h.pPermutation <= 1)).toBe(true);
    expect(results.spectra.plateau.map((s) => s.which)).toEqual(['W_in', 'W_out']);
    expect(results.spectra.plateau[0].eigenvalues).toHaveLength(plateau.length);

    // CSVs and report follow results.json.
    const neuronsCsv = readFileSync(path.join(out, 'neurons.csv'), 'utf8').trim().split('\n');
    expect(neuronsCsv).toHaveLength(m + 1);
    expect(readFileSync(path.join(out, 'heads.csv'), 'utf8').trim().split('\n')).toHaveLength(results.model.nHeads + 1);
    const html = readFileSync(path.join(out, 'report.html'), 'utf8');
    for (const id of ['influence-rare', 'influence-common', 'modularity', 'heads', 'spectra']) expect(html).toContain(`data-chart="${id}"`);
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/);
  });

  it('training dynamics: the chain is rerun on each checkpoint, steps read from the folder names', async () => {
    const tmp = tempDir();
    const step0 = path.join(tmp, 'step0');
    // An untrained model of the embedded model's shape stands for the first checkpoint.
    await writeRandomCheckpoint(step0, { arch: 'gpt2', dModel: 128, nLayers: 4, nHeads: 4, vocab: 50257, nCtx: 256, dtype: 'F16', seed: 5 });
    const trained = path.resolve(__dirname, '../weights/gpt2-brown');
    const out = path.join(tmp, 'analysis');
    const res = await runCli(['analyze', '--out', out, '--rows', '3', '--seq', '64', '--mean-rows', '3', '--bootstrap', '10', '--permutations', '100', '--checkpoints', `${step0},${trained}`]);
    expect(res.stderr).not.toMatch(/plateau:/);
    expect(res.code).toBe(0);
    const results = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as AnalysisResults;
    const steps = results.dynamics!.steps;
    expect(steps.map((s) => s.checkpoint)).toEqual([step0, trained]);
    expect(steps[0].step).toBe(0);
    for (const s of steps) {
      expect(Number.isFinite(s.alpha) && Number.isFinite(s.modularity) && Number.isFinite(s.hillAlpha)).toBe(true);
      expect(s.plateauSize).toBeGreaterThanOrEqual(0);
    }
    // The trained checkpoint is the analysed model: its step repeats the main analysis' numbers.
    expect(steps[1].alpha).toBeCloseTo(results.sets.rare.regimes.alpha, 6);
    expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('data-chart="dynamics"');
  });

  it('rejects bad options with a clear message', async () => {
    const res = await runCli(['analyze', '--out', path.join(tempDir(), 'x'), '--random-groups', '10']);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/--random-groups: expected an integer ≥ 100/);
    const res2 = await runCli(['analyze', '--out', path.join(tempDir(), 'x'), '--corpus', '/nonexistent.txt']);
    expect(res2.stderr).toMatch(/--corpus \/nonexistent.txt: cannot read/);
  });
});
