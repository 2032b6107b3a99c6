import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

import type { AnalysisResults } from '../src/analysis/results.js';
import { buildCharts, fittedLine } from '../src/report/charts.js';
import { HEAD_COLUMNS, NEURON_COLUMNS, headsCsv, neuronsCsv, toCsv } from '../src/report/csv.js';
import { escapeHtml, inlineScript, keyFindings, loadVegaBundles, renderReport, type VegaBundles } from '../src/report/html.js';
import { SAMPLE_TRUTH, sampleResults } from './helpers/sample-results.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '../test-artifacts');
const ALL_CHARTS = ['influence-rare', 'influence-common', 'plateau-d', 'modularity', 'heads', 'spectra', 'dynamics'];

/** RFC 4180 parser (quoted fields, doubled quotes, CRLF or LF line ends). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') row.push(field), (field = '');
    else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field), rows.push(row), (row = []), (field = '');
    } else field += c;
  }
  if (field !== '' || row.length) row.push(field), rows.push(row);
  return rows;
}

/** `page` contains `needle` (without dumping a megabyte of HTML on failure). */
function expectIn(page: string, needle: string, present = true): void {
  expect(page.includes(needle), `${present ? 'missing' : 'unexpected'} in the page: ${needle}`).toBe(present);
}

function expectNoMatch(page: string, re: RegExp): void {
  const m = re.exec(page);
  expect(m ? page.slice(Math.max(0, m.index - 80), m.index + 120) : null, `${re} matched`).toBeNull();
}

let results: AnalysisResults;
let bundles: VegaBundles;
let html: string;

beforeAll(async () => {
  results = sampleResults();
  bundles = await loadVegaBundles();
  html = await renderReport(results, bundles);
});

describe('HTML report', () => {
  it('is self-contained: no remote scripts, stylesheets or images', () => {
    expectNoMatch(html, /<script\b[^>]*\bsrc\s*=/i);
    expectNoMatch(html, /<link\b/i);
    expectNoMatch(html, /<(img|iframe|source|embed|object)\b[^>]*\b(src|data|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expectNoMatch(html, /@import|url\(\s*["']?https?:/i);
    expectNoMatch(html, /sourceMappingURL/);
    // The three libraries are inlined (vega's UMD header names its global).
    expectIn(html, '.vega={}');
    expectIn(html, '.vegaEmbed=');
  });

  it('closes exactly the scripts it opens (inlined code cannot end a script early)', () => {
    expect(inlineScript('var s = "</script><script>alert(1)</SCRIPT>";')).not.toMatch(/<\/script/i);
    const opened = html.match(/<script\b/gi)!.length;
    expect(opened).toBe(5);
    expect(html.match(/<\/script>/gi)!.length).toBe(opened);
  });

  it('has a container for every chart, and the dynamics chart only with dynamics', async () => {
    for (const id of ALL_CHARTS) expectIn(html, `data-chart="${id}"`);
    const noDynamics = await renderReport({ ...results, dynamics: null }, bundles);
    expectIn(noDynamics, 'data-chart="dynamics"', false);
    expectIn(noDynamics, 'data-chart="spectra"');
  });

  it('copes with sparse results: no heads, spectra, random groups or dynamics', async () => {
    const r = sampleResults();
    r.heads = { ...r.heads, routing: [], wilcoxon: { statistic: Number.NaN, p: Number.NaN, n: 0, alternative: 'greater' } };
    r.spectra = { plateau: [], suppress: [], random: {}, vsRandom: {} };
    r.graph = { ...r.graph, randomQ: [], vsRandom: {} };
    r.groups = { ...r.groups, plateau: [] };
    r.dynamics = null;
    const page = await renderReport(r, bundles);
    expect(buildCharts(r).map((c) => c.id)).toEqual(['influence-rare', 'influence-common']);
    expectIn(page, 'No attention heads were screened.');
    expectIn(page, 'data-chart="heads"', false);
  });

  it('states the findings with the numbers', () => {
    const text = keyFindings(results).join('\n');
    expect(text).toContain(`Plateau of ${SAMPLE_TRUTH.plateauSize} neurons on rare tokens (r1 = ${SAMPLE_TRUTH.r1}, 95% CI 28–63)`);
    expect(text).toContain(`α = ${SAMPLE_TRUTH.alpha}`);
    expect(text).toContain(`Wilcoxon signed-rank across 12 heads, p = ${SAMPLE_TRUTH.wilcoxonP}`);
    expect(text).toMatch(/No head routes rare tokens preferentially/);
    expect(text).toMatch(/Common tokens show no plateau/);
    const q = results.graph.vsRandom.modularity;
    expect(text).toContain(`Q = ${q.observed}`);
    expect(text).toMatch(/not modular/);
    expect(text).toMatch(/Only 4 eigenvalues enter the Hill tail/);
    for (const s of keyFindings(results)) expectIn(html, `<li>${escapeHtml(s)}</li>`);
  });

  it('hedges when the plateau is not established or absent', () => {
    const r = sampleResults();
    r.sets.rare.regimes.ci.plateauExcess = { low: -0.5, high: 3, level: 0.95 };
    expect(keyFindings(r)[0]).toMatch(/plateau excess includes 0/);
    r.sets.rare.regimes.plateauExists = false;
    r.sets.rare.regimes.plateauExcess = -0.2;
    expect(keyFindings(r)[0]).toMatch(/^No clear plateau on rare tokens/);
  });

  it('lists every option used', () => {
    for (const key of Object.keys(results.options)) expectIn(html, `<dt>${key}</dt>`);
  });
});

describe('chart specs', () => {
  it('are plain JSON with inline data only', () => {
    for (const c of buildCharts(results)) {
      expect(JSON.parse(JSON.stringify(c.spec))).toEqual(c.spec);
      expect(JSON.stringify(c.spec)).not.toMatch(/"url"\s*:/);
    }
  });

  it('draws the fitted pieces through the planted curve', () => {
    const r = results.sets.rare.regimes;
    const line = fittedLine(r);
    expect(new Set(line.map((p) => p.piece))).toEqual(new Set(['plateau', 'power law', 'decay']));
    // The planted power law: I = exp(a − α·log r) at r = 100.
    const at100 = line.filter((p) => p.piece === 'power law');
    const slope = (Math.log(at100[1].I) - Math.log(at100[0].I)) / (Math.log(at100[1].rank) - Math.log(at100[0].rank));
    expect(slope).toBeCloseTo(-SAMPLE_TRUTH.alpha, 9);
    expect(line.every((p) => Number.isFinite(p.I) && p.I > 0)).toBe(true);
  });
});

describe('CSV tables', () => {
  it('neurons.csv: one row per neuron, the right header, groups and ranks', () => {
    const rows = parseCsv(neuronsCsv(results));
    expect(rows[0]).toEqual([...NEURON_COLUMNS]);
    expect(rows.length - 1).toBe(results.model.dMlp);
    const body = rows.slice(1);
    expect(body.filter((r) => r[7] === 'plateau').length).toBe(results.groups.plateau.length);
    expect(body.filter((r) => r[7] === 'suppress').length).toBe(results.groups.suppress.length);
    expect(body.filter((r) => r[6] !== '').length).toBe(SAMPLE_TRUTH.n);
    const top = results.sets.rare.regimes.neurons[0];
    expect(body[top][6]).toBe('1');
    expect(Number(body[top][2])).toBe(results.neurons.I_rare[top]);
  });

  it('heads.csv: one row per screened head with every field', () => {
    const rows = parseCsv(headsCsv(results));
    expect(rows[0]).toEqual([...HEAD_COLUMNS]);
    expect(rows.length - 1).toBe(12);
    expect(Number(rows[1][8])).toBe(results.heads.routing[0].pPermutation);
  });

  it('quotes per RFC 4180', () => {
    const text = toCsv(['a', 'b,c'], [['x "y"', 'line\r\nbreak'], [1.5, null]]);
    expect(text).toBe('a,"b,c"\r\n"x ""y""","line\r\nbreak"\r\n1.5,\r\n');
    expect(parseCsv(text)).toEqual([['a', 'b,c'], ['x "y"', 'line\r\nbreak'], ['1.5', '']]);
  });
});

describe('report in headless Chromium', () => {
  it('renders every chart without errors, offline', async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`${CHROMIUM} not found: this test renders the report in headless Chromium (apt-get install -y chromium).`);
    }
    const { chromium } = await import('playwright-core');
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = path.join(ARTIFACTS, 'report.html');
    writeFileSync(file, html);
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--headless=new', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      const remote: string[] = [];
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('console', (m) => m.type() === 'error' && problems.push(`console error: ${m.text()}`));
      await page.route('**/*', (route) => {
        const url = route.request().url();
        if (/^(file|data|blob|about):/.test(url)) return route.continue();
        remote.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(file).href);
      await page.waitForFunction(() => Array.from(document.querySelectorAll('[data-chart]')).every((el) => el.hasAttribute('data-rendered')), null, { timeout: 60_000 });
      const charts = await page.$$eval('[data-chart]', (els) =>
        els.map((el) => ({ id: el.getAttribute('data-chart'), state: el.getAttribute('data-rendered'), error: el.querySelector('.chart-error')?.textContent ?? null, svg: !!el.querySelector('svg') })),
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'report.png'), fullPage: true });
      expect(charts.map((c) => c.id)).toEqual(ALL_CHARTS);
      expect(charts.filter((c) => c.state !== 'true' || c.error || !c.svg)).toEqual([]);
      expect(problems).toEqual([]);
      expect(remote).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
