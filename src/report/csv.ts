// CSV tables of the analysis (RFC 4180: comma-separated, CRLF line ends, fields quoted when they
// hold a comma, quote, CR or LF, quotes doubled). Numbers keep full precision; empty = no value.

import type { AnalysisResults, HeadRouting } from '../analysis/results.js';

export type Cell = string | number | boolean | null | undefined;

export function csvField(value: Cell): string {
  if (value === null || value === undefined) return '';
  const s = typeof value === 'number' && Number.isNaN(value) ? 'NaN' : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(header: readonly string[], rows: readonly Cell[][]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n') + '\r\n';
}

export const NEURON_COLUMNS = ['neuron', 'D_rare', 'I_rare', 'D_common', 'I_common', 'mean_activation', 'rank_rare', 'group'] as const;

/**
 * One row per final-layer neuron. `rank_rare`: rank among the boost neurons on rare tokens (1 = most
 * influential; empty for suppress neurons); `group`: plateau, suppress or empty.
 */
export function neuronsCsv(results: AnalysisResults): string {
  const { D_rare, I_rare, D_common, I_common, mean } = results.neurons;
  const rank = new Map(results.sets.rare.regimes.neurons.map((neuron, i) => [neuron, i + 1]));
  const group = new Map<number, string>();
  for (const n of results.groups.suppress) group.set(n, 'suppress');
  for (const n of results.groups.plateau) group.set(n, 'plateau');
  const rows = D_rare.map((_, i) => [i, D_rare[i], I_rare[i], D_common[i], I_common[i], mean[i], rank.get(i), group.get(i)]);
  return toCsv(NEURON_COLUMNS, rows);
}

export const HEAD_COLUMNS = ['layer', 'head', 'effectRare', 'effectOther', 'selectivity', 'ratio', 'dnllRare', 'dnllOther', 'pPermutation'] as const satisfies readonly (keyof HeadRouting)[];

/** One row per screened head, with every HeadRouting field. */
export function headsCsv(results: AnalysisResults): string {
  return toCsv(HEAD_COLUMNS, results.heads.routing.map((h) => HEAD_COLUMNS.map((c) => h[c])));
}
