// Runs every benchmark (matmul ladder + peer, forward tokens/s, weight loading), each in its own
// Node process, prints the combined JSON and writes it to bench/results/<date>-<adapter>.json.
//
//   npm run bench                      (= npx tsx bench/run-all.ts)
//   npx tsx bench/run-all.ts --only matmul,forward [--matmul "--m 256 --repeats 10"] [--forward "..."] [--load "..."]
//
// Each script picks sizes for the adapter it finds (small on lavapipe); extra flags pass through.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const BENCHES = ['matmul', 'forward', 'load'] as const;

function runChild(name: string, extra: string[]): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, `${name}.ts`), ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d: Buffer) => {
      for (const line of d.toString().split('\n')) if (line.startsWith('[bench]')) console.error(`${name}: ${line.slice(8)}`);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`bench/${name}.ts exited with ${code}`));
      try {
        const result = JSON.parse(out) as Record<string, unknown>;
        result.wallSeconds = Number(((performance.now() - t0) / 1000).toFixed(1));
        resolve(result);
      } catch (e) {
        reject(new Error(`bench/${name}.ts printed no JSON: ${(e as Error).message}`));
      }
    });
  });
}

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: here, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    matmul: { type: 'string' },
    forward: { type: 'string' },
    load: { type: 'string' },
    'no-save': { type: 'boolean' },
  },
});
const only = values.only ? values.only.split(',') : [...BENCHES];
const results: Record<string, unknown> = {};
let adapter = 'unknown';
for (const name of BENCHES) {
  if (!only.includes(name)) continue;
  const extra = values[name]?.split(/\s+/).filter(Boolean) ?? [];
  console.error(`== bench/${name}.ts ${extra.join(' ')}`);
  const r = await runChild(name, extra);
  adapter = String(r.adapter ?? adapter);
  results[name] = r;
}
const date = new Date().toISOString();
const summary = { date, commit: git(['rev-parse', '--short', 'HEAD']), node: process.version, adapter, ...results };
const json = JSON.stringify(summary, null, 1);
console.log(json);
if (!values['no-save']) {
  const slug = adapter.split(/[:(]/)[0].trim().toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'adapter';
  const dir = path.join(here, 'results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${date.slice(0, 10)}-${slug}.json`);
  writeFileSync(file, json + '\n');
  console.error(`written ${path.relative(process.cwd(), file)}`);
}
