// Driving the Plateau page (dist/web) in Debian's Chromium on SwiftShader WebGPU with playwright-core.
// Never a downloaded browser: CI installs the `chromium` package, and a missing one is an error.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const REPO = path.resolve(__dirname, '../..');
export const CHROMIUM = process.env.PLATEAU_CHROMIUM ?? '/usr/bin/chromium';

/** The known-good flags for WebGPU on SwiftShader in headless Chromium (../shared/docs/webgpu-without-a-gpu.md). */
export const CHROMIUM_ARGS = [
  '--headless=new',
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--enable-webgpu-developer-features',
];

export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the browser tests drive Debian's chromium package (SwiftShader WebGPU). ` +
        'Install it with `sudo apt-get install -y chromium` (CI does), or point PLATEAU_CHROMIUM at a Chromium binary.',
    );
  }
}

/** Builds the bundles (the CLI and dist/web) with the project's esbuild config. */
export function buildWeb(): void {
  execFileSync(process.execPath, ['esbuild.config.mjs'], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
  if (!existsSync(path.join(REPO, 'dist/web/main.js'))) throw new Error('build did not produce dist/web/main.js');
}

export interface PlateauSession {
  url: string;
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught exceptions of the page, for failure messages. */
  problems: string[];
  close(): Promise<void>;
}

/** Serves dist/web (plus `mounts`) on a free localhost port and opens the page in a fresh profile. */
export async function openPlateauPage(mounts: Record<string, string> = {}): Promise<PlateauSession> {
  const serveModule = path.join(REPO, 'scripts/serve.mjs');
  const { serve } = (await import(/* @vite-ignore */ serveModule)) as { serve: (o: object) => Promise<{ url: string; close(): Promise<void> }> };
  const server = await serve({ port: 0, mounts });
  const profile = mkdtempSync(path.join(tmpdir(), 'plateau-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
    });
  } catch (err) {
    await server.close();
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
  });
  await page.goto(server.url);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60_000 });
  return {
    url: server.url,
    context,
    page,
    problems,
    async close() {
      await context.close().catch(() => {});
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export type JobName = 'load' | 'forward' | 'sweep' | 'patch' | 'profile' | 'analysis';

/**
 * Performs `action` (which starts job `job` on the page) and waits until that run has ended;
 * returns its final state and message ('done', 'error' or 'cancelled').
 */
export async function runJob(page: Page, job: JobName, action: () => Promise<void>, timeoutMs = 120_000): Promise<{ state: string; message: string }> {
  const before = await page.evaluate((j) => window.plateau.jobs[j].runs, job);
  await action();
  await page.waitForFunction(
    ({ j, n }) => {
      const s = window.plateau.jobs[j];
      return s.runs > n && s.state !== 'running';
    },
    { j: job, n: before },
    { timeout: timeoutMs, polling: 250 },
  );
  return page.evaluate((j) => ({ state: window.plateau.jobs[j].state, message: window.plateau.jobs[j].message }), job);
}

/** Like runJob, but throws with the page's message (and its console errors) unless the job finished. */
export async function runJobOk(session: PlateauSession, job: JobName, action: () => Promise<void>, timeoutMs?: number): Promise<string> {
  const r = await runJob(session.page, job, action, timeoutMs);
  if (r.state !== 'done') throw new Error(`${job} ended in state ${r.state}: ${r.message}\n${session.problems.join('\n')}`);
  return r.message;
}

/** Largest |a − ref| − (atol + rtol·|ref|) over all elements (≤ 0 means within tolerance), with where it happens. */
export function worstExcess(actual: ArrayLike<number>, ref: ArrayLike<number>, atol: number, rtol = 0): { excess: number; index: number; actual: number; ref: number } {
  if (actual.length !== ref.length) throw new Error(`length ${actual.length} != reference length ${ref.length}`);
  let worst = { excess: -Infinity, index: -1, actual: NaN, ref: NaN };
  for (let i = 0; i < ref.length; i++) {
    const e = Number.isFinite(actual[i]) ? Math.abs(actual[i] - ref[i]) - (atol + rtol * Math.abs(ref[i])) : Infinity;
    if (e > worst.excess) worst = { excess: e, index: i, actual: actual[i], ref: ref[i] };
  }
  return worst;
}
