// The offline HTML report: one self-contained page (vega, vega-lite and vega-embed inlined, chart
// data inlined, no network reference) built from results.json.
//
// `renderReport(results, bundles)` is pure string building and runs in Node or a browser; in Node,
// omit `bundles` and they are read from node_modules by `loadVegaBundles()` (which reaches Node's
// modules through dynamic imports, so bundling this file for the browser pulls in nothing of Node).
//
// Each chart sits in `<div data-chart="ID">`; once vegaEmbed resolves the div gets
// `data-rendered="true"` (or `"error"`, with the message shown in the page).

import type { AnalysisResults, GroupComparison, Interval, RegimeSummary } from '../analysis/results.js';
import { buildCharts, fmt, fmtP, modularityComparison, type Chart, type ChartId } from './charts.js';

export interface VegaBundles {
  vega: string;
  vegaLite: string;
  vegaEmbed: string;
}

// ---------------------------------------------------------------------------------------------
// Bundles

const nodeImport = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

/** Reads the minified UMD builds of vega, vega-lite and vega-embed from node_modules (Node only). */
export async function loadVegaBundles(): Promise<VegaBundles> {
  const { createRequire } = (await nodeImport('node:module')) as typeof import('node:module');
  const { readFile } = (await nodeImport('node:fs/promises')) as typeof import('node:fs/promises');
  const { dirname, join } = (await nodeImport('node:path')) as typeof import('node:path');
  const require = createRequire(import.meta.url);
  // Each package's entry point lives in its build/ folder, next to the browser build.
  const read = async (pkg: string, file: string): Promise<string> => {
    let dir: string;
    try {
      dir = dirname(require.resolve(pkg));
    } catch (err) {
      throw new Error(`report: cannot find the '${pkg}' package (needed to inline the charts' library into the HTML); run npm install. ${(err as Error).message}`);
    }
    return readFile(join(dir, file), 'utf8');
  };
  const [vega, vegaLite, vegaEmbed] = await Promise.all([
    read('vega', 'vega.min.js'),
    read('vega-lite', 'vega-lite.min.js'),
    read('vega-embed', 'vega-embed.min.js'),
  ]);
  return { vega, vegaLite, vegaEmbed };
}

/** Code made safe inside an inline <script>: no `</script`, no source-map reference. */
export function inlineScript(code: string): string {
  return code.replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n').replace(/<\/(script)/gi, '<\\/$1');
}

/** JSON made safe inside <script type="application/json">: every `<` escaped. */
function inlineJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

// ---------------------------------------------------------------------------------------------
// Text helpers

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function ciText(i: Interval | undefined, digits = 3): string {
  return i ? `, ${Math.round(i.level * 100)}% CI ${fmt(i.low, digits)}–${fmt(i.high, digits)}` : '';
}

function withCi(x: number, i: Interval | undefined): string {
  return i ? `${fmt(x)} (${Math.round(i.level * 100)}% CI ${fmt(i.low)}–${fmt(i.high)})` : fmt(x);
}

function value(v: unknown): string {
  if (typeof v === 'number') return fmt(v);
  if (v === null || v === undefined) return '–';
  if (Array.isArray(v)) return v.map(value).join(', ');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

type Cell = string | number | boolean | null | undefined;

function table(headers: string[], rows: Cell[][], className = ''): string {
  const head = headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td${typeof c === 'number' ? ' class="num"' : ''}>${escapeHtml(value(c))}</td>`).join('')}</tr>`).join('\n');
  return `<div class="table-wrap"><table${className ? ` class="${className}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table></div>`;
}

function keyValueList(entries: [string, unknown][]): string {
  return `<dl class="kv">${entries.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(value(v))}</dd></div>`).join('')}</dl>`;
}

// ---------------------------------------------------------------------------------------------
// Key findings (plain sentences computed from the numbers)

function wide(i: Interval | undefined, factor = 2): boolean {
  return !!i && i.low > 0 && i.high / i.low >= factor;
}

function rareFinding(r: RegimeSummary): string {
  const n = r.n > 0 ? r.n : r.curve.length;
  const decay = r.r2 <= n ? `; rapid decay from rank r2 = ${r.r2}${ciText(r.ci.r2)}` : '; no decay regime';
  if (!r.plateauExists) {
    return `No clear plateau on rare tokens (plateau excess ${fmt(r.plateauExcess)} ≤ 0): the ${n} boost neurons follow a power law (α = ${fmt(r.alpha)}${ciText(r.ci.alpha)})${decay}.`;
  }
  let s = `Plateau of ${r.r1 - 1} neurons on rare tokens (r1 = ${r.r1}${ciText(r.ci.r1)}); power-law exponent α = ${fmt(r.alpha)}${ciText(r.ci.alpha)}${decay}, out of ${n} boost neurons.`;
  const ex = r.ci.plateauExcess;
  if (ex && ex.low <= 0) s += ` The bootstrap interval of the plateau excess includes 0 (${fmt(ex.low)} to ${fmt(ex.high)}), so the plateau is not clearly established.`;
  else if (wide(r.ci.r1)) s += ` The interval for r1 spans a factor of ${fmt(r.ci.r1!.high / r.ci.r1!.low, 2)}: the plateau is there, but its exact size is uncertain.`;
  return s;
}

function commonFinding(r: RegimeSummary): string {
  const n = r.n > 0 ? r.n : r.curve.length;
  if (r.plateauExists) return `Common tokens also show a plateau (r1 = ${r.r1}${ciText(r.ci.r1)}, excess ${fmt(r.plateauExcess)}), unlike the papers, where common tokens have only a power law and a decay.`;
  return `Common tokens show no plateau (excess ${fmt(r.plateauExcess)}): a power law (α = ${fmt(r.alpha)}${ciText(r.ci.alpha)}) then ${r.r2 <= n ? `a decay from rank ${r.r2}` : 'no decay'}, as the papers report.`;
}

function modularityFinding(results: AnalysisResults): string {
  const g = results.graph.plateau[0];
  if (!g) return 'No co-activation graph was computed for the plateau group.';
  if (results.graph.randomQ.length === 0 && !results.graph.vsRandom.modularity) {
    return `Plateau co-activation graph: Q = ${fmt(g.modularity)} with ${g.communities} communities (no random groups to compare with): ${g.modular ? 'modular' : 'not modular'} by the Q > 0.3 criterion.`;
  }
  const c = modularityComparison(results);
  const head = `Plateau co-activation graph: Q = ${fmt(c.observed)} vs ${fmt(c.randomMean)} ± ${fmt(c.randomSd)} for ${c.n} random same-size groups (p = ${fmtP(c.pGreater)})`;
  if (g?.modular) return `${head}: modular (Q > 0.3 with ${g.communities} communities).`;
  if (c.pGreater < 0.05) return `${head}: not modular in absolute terms (Q ≤ 0.3), though more clustered than random groups.`;
  return `${head}: not modular, and no more clustered than random groups of the same size.`;
}

function headLabel(h: { layer: number; head: number }): string {
  return `L${h.layer}H${h.head}`;
}

function headsFinding(results: AnalysisResults): string {
  const { routing, wilcoxon, noRouting } = results.heads;
  if (routing.length === 0) return 'No attention heads were screened.';
  const best = routing.reduce((a, b) => (b.selectivity > a.selectivity ? b : a));
  const significant = routing.filter((h) => h.pPermutation < 0.05 && h.selectivity > 0);
  const chance = `${significant.length} of ${routing.length} heads have a permutation p < 0.05 (about ${fmt(0.05 * routing.length, 2)} expected by chance)`;
  const w = `Wilcoxon signed-rank across ${wilcoxon.n} heads, p = ${fmtP(wilcoxon.p)}`;
  if (noRouting) {
    return `No head routes rare tokens preferentially (${w}); the most selective head is ${headLabel(best)} (selectivity ${fmt(best.selectivity)}, permutation p = ${fmtP(best.pPermutation)}); ${chance}.`;
  }
  const list = significant.sort((a, b) => a.pPermutation - b.pPermutation).slice(0, 5).map((h) => `${headLabel(h)} (selectivity ${fmt(h.selectivity)}, p = ${fmtP(h.pPermutation)})`);
  return `Some heads may route rare tokens preferentially (${w})${list.length ? `: ${list.join(', ')}` : ''}; ${chance}.`;
}

function geometryFinding(results: AnalysisResults): string {
  const g = results.geometry.plateau;
  const c = results.geometry.vsRandom.effectiveDim as GroupComparison | undefined;
  const vs = c ? `; random groups ${fmt(c.randomMean)} ± ${fmt(c.randomSd)} (p for fewer dimensions than random = ${fmtP(c.pLess)})` : '';
  return `The plateau group's activations need ${g.effectiveDim} of ${g.size} dimensions for 95% of the variance (participation ratio ${fmt(g.participationRatio)}, mean pairwise correlation ${fmt(g.pearson.mean)})${vs}.`;
}

function spectraFinding(results: AnalysisResults): string | null {
  const { plateau, suppress } = results.spectra;
  if (plateau.length === 0) return null;
  const list = (ss: typeof plateau) => ss.map((s) => `${fmt(s.hillAlpha)} (${s.which}${ciText(s.ci.hillAlpha)})`).join(', ');
  let s = `Hill α of the plateau weights: ${list(plateau)}`;
  if (suppress.length) s += `; suppress group: ${list(suppress)}`;
  s += ' (smaller = heavier tail).';
  const tail = Math.min(...plateau.map((x) => x.hillTail));
  if (tail < 10) s += ` Only ${tail} eigenvalues enter the Hill tail, so these estimates are rough.`;
  return s;
}

function dynamicsFinding(results: AnalysisResults): string | null {
  const steps = results.dynamics?.steps ?? [];
  if (steps.length < 2) return null;
  const a = steps[0];
  const b = steps[steps.length - 1];
  const arrow = (x: number, y: number) => `${fmt(x)} → ${fmt(y)}`;
  return `Over training (${a.checkpoint} → ${b.checkpoint}, ${steps.length} checkpoints): plateau size ${arrow(a.plateauSize, b.plateauSize)}, α ${arrow(a.alpha, b.alpha)}, Q ${arrow(a.modularity, b.modularity)}, effective dimension ${arrow(a.effectiveDim, b.effectiveDim)}, Hill α ${arrow(a.hillAlpha, b.hillAlpha)}.`;
}

/** The key findings, one plain sentence (or two) each. */
export function keyFindings(results: AnalysisResults): string[] {
  return [
    rareFinding(results.sets.rare.regimes),
    commonFinding(results.sets.common.regimes),
    modularityFinding(results),
    headsFinding(results),
    geometryFinding(results),
    spectraFinding(results),
    dynamicsFinding(results),
  ].filter((s): s is string => s !== null);
}

// ---------------------------------------------------------------------------------------------
// Chart explanations

const CHART_TEXT: Record<ChartId, { title: string; text: (r: AnalysisResults) => string }> = {
  'influence-rare': {
    title: 'Neuron influence on rare tokens',
    text: (r) =>
      `Each point is one "boost" neuron of layer ${r.model.layer} (ablating it raises the loss on rare tokens, D > 0), ranked by its influence I, the mean absolute change in loss when the neuron is ablated (${value(r.options.ablation ?? 'mean')} ablation). Both axes are logarithmic. The black line is the fitted three-piece model: a plateau of very influential neurons before r1, a power law (slope −α) up to r2, and a rapid decay after it (y = a₃ + δ·log(log(N+1) − log r)). A plateau that sits clearly above the extrapolated power law is the signature of rare-token neurons.`,
  },
  'influence-common': {
    title: 'Neuron influence on common tokens',
    text: () => `The same curve for common tokens, for comparison. The papers find only the power law and the decay here: no plateau.`,
  },
  'plateau-d': {
    title: 'Plateau neurons on rare vs common tokens',
    text: () => `For each plateau neuron, the mean increase in loss when it is ablated (D), on rare and on common tokens. Specialised rare-token neurons have a much larger D on rare tokens than on common ones.`,
  },
  modularity: {
    title: 'Do the plateau neurons form a module?',
    text: (r) =>
      `The plateau neurons' co-activation graph (edges: |Pearson r| ≥ ${value(r.graph.plateau[0]?.threshold ?? 'none')} over rare-token contexts) is clustered with Louvain, and its Newman modularity Q (red line) is compared with that of ${r.graph.randomQ.length} random groups of the same size (histogram). A Q inside the random distribution means the plateau neurons are no more clustered than any group of neurons; "modular" would need Q > 0.3 with at least two communities.`,
  },
  heads: {
    title: 'Do attention heads route rare tokens to the plateau?',
    text: (r) =>
      `Each cell is one attention head (${r.heads.intervention}). Its effect is the total change of the plateau neurons' activations when the head is intervened on; selectivity is the effect on rare-token contexts minus the effect on other contexts (red: larger on rare tokens). Hover for the effects, the change in loss and the per-head permutation p-value. A head that routes rare tokens would stand out with a large positive selectivity and a small p.`,
  },
  spectra: {
    title: 'Weight spectra',
    text: () =>
      `Eigenvalues of the correlation matrix of the groups' weight rows (W_in: input weights, W_out: output weights), by rank, in log–log axes. A heavier-tailed spectrum (smaller Hill α, computed from the top 10% of eigenvalues) indicates more structured, less random weights; with a few dozen neurons only a handful of eigenvalues enter the Hill estimate.`,
  },
  dynamics: {
    title: 'Training dynamics',
    text: () => `The main quantities across training checkpoints. At initialisation no plateau is expected; the papers find the plateau and heavier-tailed spectra emerging during training.`,
  },
};

// ---------------------------------------------------------------------------------------------
// Sections

function summaryHtml(r: AnalysisResults): string {
  const m = r.model;
  const c = r.corpus;
  const f = r.frequency;
  const rows: [string, string][] = [
    ['Model', `${m.dir} (${m.arch}, ${m.nLayers} layers, ${m.nHeads} heads, d_model ${m.dModel}, vocabulary ${m.vocab})`],
    ['Layer analysed', `${m.layer} (final MLP, ${m.dMlp} neurons)`],
    ['Corpus', `${c.files.join(', ')} — ${c.documents} documents, ${c.tokens} tokens, ${c.rowsAnalysed} of ${c.rows} rows of ${c.seq} tokens analysed (seed ${c.seed})`],
    ['Rare vs common', `${f.split} from ${f.source}, by ${f.by} token: ${f.rareTokens} rare, ${f.commonTokens} common token types; ${r.sets.rare.positions} rare and ${r.sets.common.positions} common positions`],
    ['Groups', `plateau ${r.groups.plateau.length} neurons (${r.groups.source}), suppress ${r.groups.suppress.length}, ${r.groups.randomCount} random groups of ${r.groups.size}`],
    ['Created', `${r.createdAt} — plateau ${r.versions.plateau}, Node ${r.versions.node}, adapter ${r.versions.adapter}`],
  ];
  return `<dl class="summary">${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>`;
}

function chartSection(chart: Chart, r: AnalysisResults): string {
  const t = CHART_TEXT[chart.id];
  return `<section class="chart-section" id="section-${chart.id}">
<h3>${escapeHtml(t.title)}</h3>
<div class="chart" data-chart="${chart.id}" role="img" aria-label="${escapeHtml(t.title)}"></div>
<p class="explain">${escapeHtml(t.text(r))}</p>
</section>`;
}

function regimesTable(r: AnalysisResults): string {
  const row = (label: string, s: RegimeSummary): Cell[] => [
    label,
    s.n,
    withCi(s.r1, s.ci.r1),
    s.r2 <= s.n ? withCi(s.r2, s.ci.r2) : 'none',
    withCi(s.alpha, s.ci.alpha),
    `${fmt(s.shares.plateau * 100, 2)}% / ${fmt(s.shares.powerLaw * 100, 2)}% / ${fmt(s.shares.decay * 100, 2)}%`,
    s.plateauExcess,
    s.plateauExists ? 'yes' : 'no',
    s.fixedSizes.map((f) => `${f.size}: ${fmt(f.alpha)}`).join(', '),
  ];
  return table(
    ['Tokens', 'Boost neurons', 'r1', 'r2', 'α', 'Share plateau / power / decay', 'Plateau excess', 'Plateau?', 'α with fixed plateau sizes'],
    [row('rare', r.sets.rare.regimes), row('common', r.sets.common.regimes)],
  );
}

function neuronsTable(r: AnalysisResults, limit = 50): string {
  const n = r.neurons;
  const rareRank = new Map(r.sets.rare.regimes.neurons.map((x, i) => [x, i + 1]));
  const commonRank = new Map(r.sets.common.regimes.neurons.map((x, i) => [x, i + 1]));
  const rows = r.groups.plateau.slice(0, limit).map((i) => [rareRank.get(i), i, n.I_rare[i], n.D_rare[i], n.I_common[i], n.D_common[i], commonRank.get(i) ?? '– (not boost)', n.mean[i]]);
  const more = r.groups.plateau.length > limit ? `<p class="note">First ${limit} of ${r.groups.plateau.length} plateau neurons; every neuron is in neurons.csv.</p>` : '';
  return table(['Rank (rare)', 'Neuron', 'I rare', 'D rare', 'I common', 'D common', 'Rank (common)', 'Mean activation'], rows) + more;
}

function headsTable(r: AnalysisResults): string {
  const rows = [...r.heads.routing]
    .sort((a, b) => b.selectivity - a.selectivity)
    .map((h) => [headLabel(h), h.effectRare, h.effectOther, h.selectivity, h.ratio, h.dnllRare, h.dnllOther, fmtP(h.pPermutation)]);
  return table(['Head', 'Effect (rare)', 'Effect (other)', 'Selectivity', 'Ratio', 'Δ NLL (rare)', 'Δ NLL (other)', 'Permutation p'], rows);
}

function comparisonsTable(r: AnalysisResults): string {
  const rows = (
    [
      ['geometry', r.geometry.vsRandom],
      ['graph', r.graph.vsRandom],
      ['spectra', r.spectra.vsRandom],
    ] as const
  ).flatMap(([area, m]) => Object.entries(m).map(([k, c]) => [`${area}: ${k}`, c.observed, c.randomMean, c.randomSd, c.z, fmtP(c.pGreater), fmtP(c.pLess), c.n]));
  return table(['Quantity (plateau group)', 'Observed', 'Random mean', 'Random sd', 'z', 'p (greater)', 'p (less)', 'Random groups'], rows);
}

function groupsTable(r: AnalysisResults): string {
  const geo = (name: string, g: AnalysisResults['geometry']['plateau']): Cell[] => [name, g.size, g.effectiveDim, g.effectiveDimRatio, g.participationRatio, g.pearson.mean, g.pearson.shareAbsAbove05, g.cosine.mean];
  const geometry = table(['Group', 'Size', 'Effective dim (95%)', 'k / n', 'Participation ratio', 'Mean Pearson r', 'Share |r| > 0.5', 'Mean cosine'], [geo('plateau', r.geometry.plateau), geo('suppress', r.geometry.suppress)]);
  const graphRows = (['plateau', 'suppress'] as const).flatMap((name) =>
    r.graph[name].map((g) => [name, g.threshold === null ? 'none' : `|r| ≥ ${g.threshold}`, g.edges, g.modularity, g.signedModularity, g.communities, g.sizes.join(', '), g.modular ? 'yes' : 'no']),
  );
  const graph = table(['Group', 'Edge threshold', 'Edges', 'Q', 'Signed Q', 'Communities', 'Sizes', 'Modular?'], graphRows);
  const specRows = (['plateau', 'suppress'] as const).flatMap((name) =>
    r.spectra[name].map((s) => [name, s.which, withCi(s.hillAlpha, s.ci.hillAlpha), s.hillTail, s.powerLawAlpha, s.lambdaMin, s.stableRank, s.spectralEntropy]),
  );
  const spectra = table(['Group', 'Weights', 'Hill α', 'Hill tail size', 'Power-law α', 'λ_min', 'Stable rank', 'Spectral entropy'], specRows);
  return `<h3>Activation geometry</h3>${geometry}<h3>Co-activation graphs</h3>${graph}<h3>Weight spectra</h3>${spectra}<h3>Plateau group vs random groups</h3>${comparisonsTable(r)}`;
}

function optionsHtml(r: AnalysisResults): string {
  const files = table(['Model file', 'Bytes', 'SHA-256'], r.model.files.map((f) => [f.name, f.bytes, f.sha256]), 'files');
  return `${keyValueList(Object.entries(r.options))}
<h3>Rarity</h3>${keyValueList([['source', r.frequency.source], ['split', r.frequency.split], ['by', r.frequency.by], ...Object.entries(r.frequency.info)])}
<h3>Heads screened</h3>${keyValueList([['layers', r.heads.layers], ['intervention', r.heads.intervention], ['Wilcoxon', `statistic ${fmt(r.heads.wilcoxon.statistic)}, n ${r.heads.wilcoxon.n}, ${r.heads.wilcoxon.alternative}, p ${fmtP(r.heads.wilcoxon.p)}`]])}
<h3>Model files</h3>${files}
<h3>Versions</h3>${keyValueList(Object.entries(r.versions))}
<h3>Timings (s)</h3>${keyValueList(Object.entries(r.timings))}`;
}

// ---------------------------------------------------------------------------------------------
// Page

const STYLE = `
:root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #dde2ea; --accent: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #f6f7f9; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 64px; background: white; min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
.subtitle { color: var(--muted); margin: 0 0 16px; }
nav { font-size: 13px; margin: 8px 0 0; }
nav a { color: var(--muted); margin-right: 14px; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 12px 0; font-size: 14px; }
dl.summary dt { font-weight: 600; color: var(--muted); }
dl.summary dd { margin: 0; overflow-wrap: anywhere; }
ul.findings { padding-left: 20px; }
ul.findings li { margin: 6px 0; }
.chart-section { margin: 8px 0 28px; }
.chart { width: 100%; min-height: 60px; overflow-x: auto; }
.chart .vega-embed { width: 100%; }
.explain { color: #333a48; font-size: 14px; margin: 8px 0 0; max-width: 900px; }
.chart-error { color: var(--accent); background: #fdecea; border: 1px solid #f5c2bd; padding: 10px 12px; border-radius: 4px; font-weight: 600; }
.table-wrap { overflow-x: auto; margin: 8px 0 12px; }
table { border-collapse: collapse; font-size: 13px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f0f2f6; font-weight: 600; position: sticky; top: 0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
dl.kv { columns: 19em auto; column-gap: 36px; margin: 8px 0 12px; font-size: 13px; }
dl.kv div { break-inside: avoid; display: flex; gap: 12px; padding: 3px 0; border-bottom: 1px solid var(--line); }
dl.kv dt { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; color: var(--muted); min-width: 9em; }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
table.files td:last-child { font-family: ui-monospace, monospace; font-size: 11px; overflow-wrap: anywhere; }
.note { color: var(--muted); font-size: 13px; }
@media print { body { background: white; } main { padding: 0; } nav { display: none; } }
`;

const EMBED = `
(function () {
  var specs = JSON.parse(document.getElementById('plateau-specs').textContent);
  function fail(el, message) {
    el.setAttribute('data-rendered', 'error');
    var p = document.createElement('p');
    p.className = 'chart-error';
    p.textContent = 'This chart could not be drawn: ' + message;
    el.replaceChildren(p);
  }
  document.querySelectorAll('[data-chart]').forEach(function (el) {
    var id = el.getAttribute('data-chart');
    if (typeof vegaEmbed !== 'function') return fail(el, 'the Vega libraries did not load.');
    if (!specs[id]) return fail(el, 'no specification for chart "' + id + '".');
    vegaEmbed(el, specs[id], { renderer: 'svg', actions: { export: true, source: false, compiled: false, editor: false } })
      .then(function () { el.setAttribute('data-rendered', 'true'); })
      .catch(function (err) { fail(el, err && err.message ? err.message : String(err)); });
  });
})();
`;

/** The whole report page. In Node, `bundles` default to the ones in node_modules. */
export async function renderReport(results: AnalysisResults, bundles?: VegaBundles): Promise<string> {
  const b = bundles ?? (await loadVegaBundles());
  const r = results;
  const charts = buildCharts(r);
  const specs = Object.fromEntries(charts.map((c) => [c.id, c.spec]));
  const title = `Plateau report — ${r.model.dir.split('/').pop() || r.model.arch}, layer ${r.model.layer}`;
  const sections: [string, string, string][] = [
    ['findings', 'Key findings', `<ul class="findings">${keyFindings(r).map((s) => `<li>${escapeHtml(s)}</li>`).join('\n')}</ul>`],
    ['charts', 'Charts', charts.map((c) => chartSection(c, r)).join('\n')],
    ['regimes', 'Regimes', regimesTable(r)],
    ['neurons', 'Top plateau neurons', neuronsTable(r)],
    ['heads', 'Attention heads', headsTable(r)],
    ['groups', 'Neuron groups', groupsTable(r)],
    ['options', 'All options used', optionsHtml(r)],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="plateau ${escapeHtml(r.versions.plateau)}">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="subtitle">Rare-token neurons of the final MLP layer: influence regimes, clustering, routing and weight spectra.</p>
${summaryHtml(r)}
<nav>${sections.map(([id, h]) => `<a href="#${id}">${escapeHtml(h)}</a>`).join('')}</nav>
</header>
${sections.map(([id, h, body]) => `<section id="${id}">\n<h2>${escapeHtml(h)}</h2>\n${body}\n</section>`).join('\n')}
</main>
<script>${inlineScript(b.vega)}</script>
<script>${inlineScript(b.vegaLite)}</script>
<script>${inlineScript(b.vegaEmbed)}</script>
<script type="application/json" id="plateau-specs">${inlineJson(specs)}</script>
<script>${EMBED}</script>
</body>
</html>
`;
}
