// Vega-Lite specs for the report: pure functions of AnalysisResults, plain JSON objects (data
// inlined as `values`, so a chart needs nothing but the vega bundles to draw).
//
// Charts: influence vs rank with the fitted three regimes (rare and common), plateau modularity vs
// random groups, head selectivity heatmap, weight spectra, training dynamics, D on rare vs common.

import type { TopLevelSpec } from 'vega-lite';
import type { AnalysisResults, GroupComparison, GroupSpectrum, HeadRouting, RegimeSummary } from '../analysis/results.js';

export type ChartId = 'influence-rare' | 'influence-common' | 'modularity' | 'heads' | 'spectra' | 'dynamics' | 'plateau-d';

export interface Chart {
  id: ChartId;
  spec: TopLevelSpec;
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const COLORS = { plateau: '#d62728', power: '#1f77b4', decay: '#7f7f7f', suppress: '#1f77b4', rare: '#d62728', common: '#1f77b4', fit: '#222222' };
const FULL_WIDTH = { width: 'container', autosize: { type: 'fit-x', contains: 'padding' } } as const;
const CONFIG = {
  config: {
    font: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
    title: { fontSize: 14, subtitleFontSize: 12, subtitleColor: '#555555', anchor: 'start', offset: 10 },
    axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#ececec', titleFontWeight: 'normal' },
    legend: { labelFontSize: 11, titleFontSize: 12 },
    header: { labelFontSize: 12, titleFontSize: 12 },
  },
} as const;

/** A number in a short readable form (3 significant digits, plain integers kept whole). */
export function fmt(x: number | null | undefined, digits = 3): string {
  if (x === null || x === undefined || Number.isNaN(x)) return '–';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (Number.isInteger(x) && Math.abs(x) < 1e15) return String(x);
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return x.toExponential(digits - 1).replace(/\.?0+e/, 'e');
  return String(Number(x.toPrecision(digits)));
}

/** A p-value: two significant digits, "< 0.001" below that. */
export function fmtP(p: number): string {
  if (!Number.isFinite(p)) return '–';
  return p < 0.001 ? '< 0.001' : String(Number(p.toPrecision(2)));
}

// ---------------------------------------------------------------------------------------------
// (a) Influence vs rank with the fitted regimes

type Regime = 'plateau' | 'power law' | 'decay';

export function regimeOf(rank: number, r: RegimeSummary): Regime {
  return rank < r.r1 ? 'plateau' : rank < r.r2 ? 'power law' : 'decay';
}

/** Ranks to plot: all of the first 200, then ~800 log-spaced ones (long curves draw slowly in SVG). */
export function thinnedRanks(n: number, dense = 200, spread = 800): number[] {
  const ranks = new Set<number>();
  for (let k = 1; k <= Math.min(n, dense); k++) ranks.add(k);
  for (let i = 0; i <= spread && n > dense; i++) ranks.add(Math.round(Math.exp((Math.log(n) * i) / spread)));
  return [...ranks].filter((k) => k >= 1 && k <= n).sort((a, b) => a - b);
}

/**
 * Points of the fitted pieces, in the fit's natural-log parametrisation (x = log rank, y = log I):
 * plateau a + b·x on [1, r1], power law on [r1, r2], decay a3 + δ·log(log(N + 1) − x) on [r2, N]
 * (the fit's vanishing point is N + 1, so the decay is finite at rank N).
 */
export function fittedLine(r: RegimeSummary, perPiece = 40): { rank: number; I: number; piece: Regime }[] {
  const n = r.n > 0 ? r.n : r.curve.length;
  const logEnd = Math.log(n + 1);
  const pieces: { piece: Regime; from: number; to: number; y: (x: number) => number }[] = [
    { piece: 'plateau', from: 1, to: r.r1, y: (x) => r.plateau.a + r.plateau.b * x },
    { piece: 'power law', from: r.r1, to: Math.min(r.r2, n), y: (x) => r.powerLaw.a + r.powerLaw.b * x },
    { piece: 'decay', from: r.r2, to: n, y: (x) => r.decay.a + r.decay.delta * Math.log(logEnd - x) },
  ];
  const out: { rank: number; I: number; piece: Regime }[] = [];
  for (const p of pieces) {
    if (!(p.to > p.from)) continue;
    const steps = p.piece === 'decay' ? perPiece : 1; // straight lines in log-log need two points
    for (let i = 0; i <= steps; i++) {
      const rank = Math.exp(Math.log(p.from) + ((Math.log(p.to) - Math.log(p.from)) * i) / steps);
      const I = Math.exp(p.y(Math.log(rank)));
      if (Number.isFinite(I) && I > 0) out.push({ rank, I, piece: p.piece });
    }
  }
  return out;
}

export function influenceChart(results: AnalysisResults, set: 'rare' | 'common'): Chart {
  const r = results.sets[set].regimes;
  const points = thinnedRanks(r.curve.length)
    .map((rank) => ({ rank, I: r.curve[rank - 1], neuron: r.neurons[rank - 1], regime: regimeOf(rank, r) }))
    .filter((p) => p.I > 0 && Number.isFinite(p.I));
  const n = r.n > 0 ? r.n : r.curve.length;
  const rules = [
    { rank: r.r1, label: `r1 = ${r.r1}` },
    ...(r.r2 <= n ? [{ rank: r.r2, label: `r2 = ${r.r2}` }] : []),
  ].filter((b) => b.rank > 1);
  const x = { field: 'rank', type: 'quantitative' as const, scale: { type: 'log' as const, domain: [1, n], nice: false }, title: 'Rank of neuron (boost neurons, by influence)' };
  const y = { field: 'I', type: 'quantitative', scale: { type: 'log' }, title: 'Influence I = mean |Δloss| when ablated' } as const;
  const regimes = (['plateau', 'power law', 'decay'] as const).filter((g) => points.some((p) => p.regime === g));
  const palette = { plateau: COLORS.plateau, 'power law': COLORS.power, decay: COLORS.decay };
  const regimeColor = { field: 'regime', type: 'nominal', title: 'Regime', scale: { domain: regimes, range: regimes.map((g) => palette[g]) } } as const;
  return {
    id: `influence-${set}`,
    spec: {
      $schema: SCHEMA,
      ...CONFIG,
      ...FULL_WIDTH,
      height: 320,
      title: {
        text: `${set === 'rare' ? 'Rare' : 'Common'} tokens: neuron influence vs rank (log–log)`,
        subtitle: `${n} boost neurons · r1 = ${r.r1}, r2 = ${r.r2 <= n ? r.r2 : 'none'} · α = ${fmt(r.alpha)} · plateau ${r.plateauExists ? 'present' : 'absent'}${points.length < r.curve.length ? ` · ${points.length} of ${r.curve.length} points drawn` : ''}`,
      },
      layer: [
        {
          data: { values: points },
          mark: { type: 'point', filled: true, size: 18, opacity: 0.7 },
          encoding: {
            x,
            y,
            color: regimeColor,
            tooltip: [
              { field: 'rank', type: 'quantitative', title: 'rank' },
              { field: 'neuron', type: 'quantitative', title: 'neuron' },
              { field: 'I', type: 'quantitative', title: 'I', format: '.3~g' },
              { field: 'regime', type: 'nominal' },
            ],
          },
        },
        {
          data: { values: fittedLine(r) },
          mark: { type: 'line', color: COLORS.fit, strokeWidth: 2 },
          encoding: { x, y, detail: { field: 'piece', type: 'nominal' } },
        },
        {
          data: { values: rules },
          mark: { type: 'rule', strokeDash: [4, 4], color: '#555555' },
          encoding: { x: { field: 'rank', type: 'quantitative' } },
        },
        // Labels right of their rule, or left of it near the right edge.
        ...(['left', 'right'] as const).map((align) => ({
          data: { values: rules.filter((b) => (Math.log(b.rank) > 0.85 * Math.log(n)) === (align === 'right')) },
          mark: { type: 'text' as const, align, baseline: 'top' as const, dx: align === 'left' ? 4 : -4, y: 4, color: '#333333' },
          encoding: { x: { field: 'rank', type: 'quantitative' as const }, text: { field: 'label' } },
        })),
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (b) Modularity of the plateau group vs random groups

/** The analysis's own plateau-vs-random modularity comparison, or one computed from randomQ. */
export function modularityComparison(results: AnalysisResults): GroupComparison {
  const g = results.graph;
  const reported = g.vsRandom.modularity ?? g.vsRandom.Q ?? g.vsRandom.q;
  if (reported) return reported;
  const observed = g.plateau[0]?.modularity ?? Number.NaN;
  const q = g.randomQ;
  const mean = q.reduce((s, v) => s + v, 0) / Math.max(1, q.length);
  const sd = Math.sqrt(q.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, q.length - 1));
  return {
    observed,
    randomMean: mean,
    randomSd: sd,
    pGreater: (1 + q.filter((v) => v >= observed).length) / (1 + q.length),
    pLess: (1 + q.filter((v) => v <= observed).length) / (1 + q.length),
    z: sd > 0 ? (observed - mean) / sd : Number.NaN,
    n: q.length,
  };
}

export function modularityChart(results: AnalysisResults): Chart {
  const c = modularityComparison(results);
  const observed = [{ Q: c.observed, label: `plateau Q = ${fmt(c.observed)}` }];
  return {
    id: 'modularity',
    spec: {
      $schema: SCHEMA,
      ...CONFIG,
      ...FULL_WIDTH,
      height: 240,
      title: {
        text: `Plateau modularity Q = ${fmt(c.observed)} vs ${c.n} random groups (p = ${fmtP(c.pGreater)})`,
        subtitle: `random groups: mean ${fmt(c.randomMean)} ± ${fmt(c.randomSd)} (sd) · p = (1 + #{random ≥ observed}) / (1 + n) · "modular" would need Q > 0.3`,
      },
      layer: [
        {
          data: { values: results.graph.randomQ.map((Q) => ({ Q })) },
          mark: { type: 'bar', color: '#9ecae1', stroke: '#6baed6' },
          encoding: {
            x: { field: 'Q', type: 'quantitative', bin: { maxbins: 25 }, title: 'Modularity Q of the co-activation graph' },
            y: { aggregate: 'count', type: 'quantitative', title: 'Random groups' },
          },
        },
        {
          data: { values: observed },
          mark: { type: 'rule', color: COLORS.plateau, strokeWidth: 3 },
          encoding: { x: { field: 'Q', type: 'quantitative' } },
        },
        {
          data: { values: observed },
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 5, y: 4, color: COLORS.plateau, fontWeight: 'bold' },
          encoding: { x: { field: 'Q', type: 'quantitative' }, text: { field: 'label' } },
        },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (c) Head selectivity heatmap

export function headsChart(results: AnalysisResults): Chart {
  const rows = results.heads.routing.map((h: HeadRouting) => ({ ...h, ratio: Number.isFinite(h.ratio) ? h.ratio : null }));
  const layers = new Set(rows.map((h) => h.layer)).size;
  const f = (field: string, title: string, format = '.3~g') => ({ field, type: 'quantitative', title, format }) as const;
  const dark = 0.55 * Math.max(1e-12, ...rows.map((h) => Math.abs(h.selectivity)).filter(Number.isFinite));
  return {
    id: 'heads',
    spec: {
      $schema: SCHEMA,
      ...CONFIG,
      ...FULL_WIDTH,
      height: Math.max(90, 34 * layers),
      data: { values: rows },
      title: {
        text: 'Attention heads: selectivity for rare tokens (effect on rare − effect on other contexts)',
        subtitle: `${results.heads.intervention} · Wilcoxon signed-rank across ${results.heads.wilcoxon.n} heads: p = ${fmtP(results.heads.wilcoxon.p)} (${results.heads.wilcoxon.alternative})`,
      },
      encoding: {
        x: { field: 'head', type: 'ordinal', title: 'Head', axis: { labelAngle: 0 } },
        y: { field: 'layer', type: 'ordinal', title: 'Layer', sort: 'descending' },
      },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
          encoding: {
            color: { field: 'selectivity', type: 'quantitative', title: 'Selectivity', scale: { scheme: 'redblue', reverse: true, domainMid: 0 } },
            tooltip: [
              { field: 'layer', type: 'ordinal' },
              { field: 'head', type: 'ordinal' },
              f('effectRare', 'effect (rare)'),
              f('effectOther', 'effect (other)'),
              f('selectivity', 'selectivity'),
              f('ratio', 'ratio rare/other'),
              f('dnllRare', 'Δ NLL (rare)'),
              f('dnllOther', 'Δ NLL (other)'),
              f('pPermutation', 'permutation p', '.2~g'),
            ],
          },
        },
        {
          mark: { type: 'text', fontSize: 10 },
          encoding: {
            text: { field: 'selectivity', type: 'quantitative', format: '.2~g' },
            color: { condition: { test: `abs(datum.selectivity) > ${dark}`, value: 'white' }, value: '#222222' },
          },
        },
      ],
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (d) Weight spectra

function hillLabel(group: string, spectra: GroupSpectrum[]): string {
  return `${group} (Hill α: ${spectra.map((s) => `${s.which} ${fmt(s.hillAlpha)}`).join(', ')})`;
}

export function spectraChart(results: AnalysisResults): Chart {
  const groups = [
    { name: 'plateau', spectra: results.spectra.plateau, color: COLORS.plateau },
    { name: 'suppress', spectra: results.spectra.suppress, color: COLORS.suppress },
  ].filter((g) => g.spectra.length > 0);
  const values = groups.flatMap((g) => {
    const label = hillLabel(g.name, g.spectra);
    return g.spectra.flatMap((s) =>
      s.eigenvalues.map((eigenvalue, i) => ({ group: label, which: s.which, rank: i + 1, eigenvalue })).filter((v) => v.eigenvalue > 0),
    );
  });
  const panels = [...new Set(values.map((v) => v.which))].length;
  const eig = values.map((v) => v.eigenvalue);
  const maxRank = Math.max(2, ...values.map((v) => v.rank));
  return {
    id: 'spectra',
    spec: {
      $schema: SCHEMA,
      ...CONFIG,
      data: { values },
      title: { text: 'Weight spectra of the neuron groups (eigenvalues of the row-correlation matrix)', subtitle: 'log–log; a straighter, flatter head means a heavier tail (smaller Hill α)' },
      facet: { column: { field: 'which', type: 'nominal', title: null, header: { labelFontSize: 13, labelExpr: "datum.value === 'W_in' ? 'W_in (input weights)' : 'W_out (output weights)'" } } },
      spec: {
        width: panels > 1 ? 400 : 820,
        height: 240,
        layer: [{ mark: { type: 'line', strokeWidth: 1.5 } }, { mark: { type: 'point', filled: true, size: 16 } }],
        encoding: {
          x: { field: 'rank', type: 'quantitative', scale: { type: 'log', domain: [1, maxRank], nice: false }, title: 'Eigenvalue rank' },
          y: { field: 'eigenvalue', type: 'quantitative', scale: { type: 'log', domain: [Math.min(...eig) / 1.15, Math.max(...eig) * 1.15], nice: false }, title: 'Eigenvalue λ' },
          color: { field: 'group', type: 'nominal', title: 'Group', scale: { range: groups.map((g) => g.color) }, legend: { orient: 'bottom', direction: 'vertical', labelLimit: 400 } },
          tooltip: [{ field: 'group', type: 'nominal' }, { field: 'rank', type: 'quantitative' }, { field: 'eigenvalue', type: 'quantitative', format: '.3~g' }],
        },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (e) Training dynamics

const DYNAMICS_METRICS = [
  ['plateauSize', 'Plateau size (neurons)'],
  ['alpha', 'Power-law exponent α'],
  ['modularity', 'Plateau modularity Q'],
  ['effectiveDim', 'Effective dimension (k for 95 %)'],
  ['hillAlpha', 'Hill α (plateau weights)'],
] as const;

export function dynamicsChart(results: AnalysisResults): Chart | null {
  const steps = results.dynamics?.steps ?? [];
  if (steps.length === 0) return null;
  // Checkpoints are usually log-spaced (0, 512, 1000, …, 143000): one evenly spaced slot each.
  const labels = steps.map((s) => (s.step !== null ? String(s.step) : s.checkpoint));
  const values = steps.flatMap((s, i) =>
    DYNAMICS_METRICS.map(([key, metric]) => ({ label: labels[i], checkpoint: s.checkpoint, metric, value: Number.isFinite(s[key]) ? s[key] : null })),
  );
  const byStep = steps.every((s) => s.step !== null);
  return {
    id: 'dynamics',
    spec: {
      $schema: SCHEMA,
      ...CONFIG,
      data: { values },
      title: { text: 'Training dynamics across checkpoints', subtitle: 'checkpoints evenly spaced in training order (not to scale)' },
      facet: { field: 'metric', type: 'nominal', title: null, sort: DYNAMICS_METRICS.map(([, m]) => m) },
      columns: 3,
      resolve: { scale: { y: 'independent' }, axis: { x: 'independent' } },
      spec: {
        width: 250,
        height: 150,
        layer: [{ mark: { type: 'line', color: COLORS.rare } }, { mark: { type: 'point', filled: true, size: 40, color: COLORS.rare } }],
        encoding: {
          x: { field: 'label', type: 'ordinal', sort: labels, title: byStep ? 'Training step' : 'Checkpoint', axis: { labelAngle: 0, labelOverlap: true } },
          y: { field: 'value', type: 'quantitative', title: null, scale: { zero: false } },
          tooltip: [{ field: 'checkpoint', type: 'nominal' }, { field: 'metric', type: 'nominal' }, { field: 'value', type: 'quantitative', format: '.3~g' }],
        },
      },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// (f) D_rare vs D_common of the plateau neurons

export function plateauDChart(results: AnalysisResults): Chart {
  const { D_rare, D_common } = results.neurons;
  const values = results.groups.plateau.flatMap((neuron, i) => [
    { neuron, order: i, set: 'rare', D: D_rare[neuron] },
    { neuron, order: i, set: 'common', D: D_common[neuron] },
  ]);
  return {
    id: 'plateau-d',
    spec: {
      $schema: SCHEMA,
      ...CONFIG,
      ...FULL_WIDTH,
      height: 260,
      data: { values },
      title: { text: 'Plateau neurons: loss increase when ablated, rare vs common tokens', subtitle: 'D = mean Δloss (signed); neurons in plateau order (rank on rare tokens)' },
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'neuron', type: 'ordinal', sort: { field: 'order' }, title: 'Plateau neuron (index)', axis: { labelAngle: -90, labelFontSize: 9 } },
        xOffset: { field: 'set', sort: ['rare', 'common'] },
        y: { field: 'D', type: 'quantitative', title: 'D = mean Δloss' },
        color: { field: 'set', type: 'nominal', title: 'Token set', sort: ['rare', 'common'], scale: { domain: ['rare', 'common'], range: [COLORS.rare, COLORS.common] }, legend: { orient: 'top-right' } },
        tooltip: [{ field: 'neuron', type: 'ordinal' }, { field: 'set', type: 'nominal' }, { field: 'D', type: 'quantitative', format: '.3~g' }],
      },
    },
  };
}

/** Every chart the results support, in report order (a chart without data is left out). */
export function buildCharts(results: AnalysisResults): Chart[] {
  const dynamics = dynamicsChart(results);
  const hasSpectra = [...results.spectra.plateau, ...results.spectra.suppress].some((s) => s.eigenvalues.some((v) => v > 0));
  return [
    influenceChart(results, 'rare'),
    influenceChart(results, 'common'),
    ...(results.groups.plateau.length ? [plateauDChart(results)] : []),
    ...(results.graph.randomQ.length ? [modularityChart(results)] : []),
    ...(results.heads.routing.length ? [headsChart(results)] : []),
    ...(hasSpectra ? [spectraChart(results)] : []),
    ...(dynamics ? [dynamics] : []),
  ];
}
