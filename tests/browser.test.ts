// "Plateau in Chrome": the page (dist/web) running the engine on WebGPU in Debian's Chromium on
// SwiftShader, driven through its real inputs and buttons with playwright-core. Numbers are read
// back from window.plateau and compared with the golden fixtures' reference.safetensors.
// SwiftShader computes at ~0.4 GFLOP/s: the fixtures are tiny, and the analysis runs on 2 rows × 16
// tokens of the embedded gpt2-brown model (about a minute, mostly the closed form's 512 × 50257 product).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../src/io/safetensors.js';
import { FIXTURE_NAMES, fixtureDir, tolerance } from './fixtures.js';
import { runCli, tempDir } from './helpers/cli.js';
import { maxAbsDiff } from './helpers/gpu.js';
import { buildWeb, openPlateauPage, REPO, requireChromium, runJob, runJobOk, worstExcess, type PlateauSession } from './helpers/browser.js';

const ARTIFACTS = path.join(REPO, 'test-artifacts');
const BROWN = path.join(REPO, 'weights/gpt2-brown');
const ANALYSIS_CHARTS = ['influence-rare', 'influence-common', 'plateau-d', 'modularity', 'heads', 'spectra'];

let session: PlateauSession;

beforeAll(async () => {
  requireChromium();
  buildWeb();
  session = await openPlateauPage();
}, 180_000);

afterAll(async () => {
  await session?.close();
});

describe('Plateau in Chrome (WebGPU on SwiftShader)', () => {
  it('shows the adapter, its features and the f16 status', async () => {
    const { page } = session;
    expect(await page.getAttribute('#adapter', 'data-state')).toBe('ok');
    const adapter = await page.evaluate(() => window.plateau.adapter);
    expect(adapter, `no adapter: ${await page.evaluate(() => window.plateau.gpuError)}`).not.toBeNull();
    expect(await page.textContent('#adapter-info')).toContain('maxStorageBufferBindingSize');
    const f16 = (await page.textContent('#adapter-f16')) ?? '';
    if (adapter!.hasF16) expect(f16).toContain('present');
    else expect(f16).toContain('f32 fallback');
  });

  it('says clearly when navigator.gpu is missing', async () => {
    const page = await session.context.newPage();
    try {
      await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'gpu', { get: () => undefined, configurable: true }));
      await page.goto(session.url);
      await page.waitForFunction(() => document.body.dataset.ready === 'true');
      expect(await page.getAttribute('#adapter', 'data-state')).toBe('missing');
      expect(await page.textContent('#adapter-status')).toContain('navigator.gpu is missing');
    } finally {
      await page.close();
    }
  });

  for (const name of FIXTURE_NAMES) {
    it(`${name}: forward logits, the final-layer mean neuron sweep and resid_pre patching match reference.safetensors; the profiler view matches plateau profile`, async () => {
      const { page } = session;
      const dir = fixtureDir(name);
      const ref = await SafetensorsFile.openPath(path.join(dir, 'reference.safetensors'));
      try {
        // The fixture folder's files, through the page's multi-file input (reference.safetensors is ignored as a model file).
        const files = readdirSync(dir).map((f) => path.join(dir, f));
        const loadMsg = await runJobOk(session, 'load', () => page.setInputFiles('#model-files', files));
        expect(loadMsg).toContain('Loaded');
        const spec = await page.evaluate(() => window.plateau.model!.spec);
        expect(spec.nLayers).toBe(3);

        // Token ids from reference.safetensors through the page's file input, then the forward pass.
        await runJobOk(session, 'forward', () => page.setInputFiles('#ids-file', path.join(dir, 'reference.safetensors')));
        const fwd = await page.evaluate(() => {
          const f = window.plateau.lastForward!;
          return { B: f.B, T: f.T, V: f.V, ids: f.ids, nll: f.nll, logits: f.logits };
        });
        expect([fwd.B, fwd.T, fwd.V]).toEqual(ref.info('logits').shape);
        expect(fwd.ids).toEqual(Array.from(await ref.readInt32('input_ids')));
        const atol = tolerance(name, 'logits');
        const logits = worstExcess(fwd.logits, await ref.readF32('logits'), atol, 1e-4);
        expect(logits.excess, `logits[${logits.index}] = ${logits.actual}, reference ${logits.ref}`).toBeLessThanOrEqual(0);
        const nll = worstExcess(fwd.nll, await ref.readF32('nll'), tolerance(name, 'nll'));
        expect(nll.excess, `nll[${nll.index}] = ${nll.actual}, reference ${nll.ref}`).toBeLessThanOrEqual(0);
        expect(await page.locator('#top5 tbody tr').count()).toBe(5);
        expect(await page.locator('#loss-table tbody tr').count()).toBe(fwd.T);

        // One sweep through the UI: neurons of the last layer, mean ablation.
        await page.selectOption('#sweep-kind', 'neurons');
        await page.selectOption('#sweep-layer', '2');
        await page.selectOption('#sweep-ablation', 'mean');
        await runJobOk(session, 'sweep', () => page.click('#sweep-run'));
        const sweep = await page.evaluate(() => {
          const s = window.plateau.lastSweep!;
          return { shape: [...s.leadingShape, ...s.unitShape], values: s.values, strategy: s.strategy };
        });
        const refName = 'sweep.neurons.mean.L2.dnll';
        expect(sweep.shape).toEqual(ref.info(refName).shape);
        const d = worstExcess(sweep.values, await ref.readF32(refName), tolerance(name, refName));
        expect(d.excess, `${refName}[${d.index}] = ${d.actual}, reference ${d.ref} (${sweep.strategy})`).toBeLessThanOrEqual(0);
        // The downloads carry the same numbers.
        const json = JSON.parse((await page.evaluate(() => window.plateau.download('sweep-neurons-mean.json')))!);
        expect(json.shape).toEqual(sweep.shape);
        expect(json.dnll.length).toBe(sweep.values.length);
        expect(await page.locator('#sweep-downloads a[download="sweep-neurons-mean.safetensors"]').count()).toBe(1);

        // Activation patching through the UI: rows 0 → 1, resid_pre, against the reference.
        await page.selectOption('#patch-clean-row', '0');
        await page.selectOption('#patch-corrupted-row', '1');
        await page.selectOption('#patch-hook', 'resid_pre');
        await runJobOk(session, 'patch', () => page.click('#patch-run'));
        const patch = await page.evaluate(() => {
          const p = window.plateau.lastPatch!;
          return { shape: p.shape, values: p.values };
        });
        const patchRef = 'patch.resid_pre.logprobs';
        expect(patch.shape).toEqual(ref.info(patchRef).shape);
        const pd = worstExcess(patch.values, await ref.readF32(patchRef), tolerance(name, patchRef));
        expect(pd.excess, `${patchRef}[${pd.index}] = ${pd.actual}, reference ${pd.ref}`).toBeLessThanOrEqual(0);
        expect(await page.getAttribute('#patch-chart', 'data-rendered')).toBe('true');
        const patchJson = JSON.parse((await page.evaluate(() => window.plateau.download('patch-resid_pre.json')))!);
        expect(patchJson.logprobOfAnswer).toHaveLength(patch.shape[0] * patch.shape[1]);

        // The profiler view: two forwards, the same kernels and calls as `plateau profile` on the
        // same ids (matmul variants may differ between the adapters: their calls are compared summed).
        await page.selectOption('#profile-work', 'forward');
        await page.fill('#profile-repeat', '2');
        await runJobOk(session, 'profile', () => page.click('#profile-run'));
        const prof = await page.evaluate(() => window.plateau.lastProfile!);
        expect([prof.work, prof.repeat, prof.tokens]).toEqual(['forward', 2, fwd.B * fwd.T]);
        expect(prof.kernels.reduce((s, k) => s + k.share, 0)).toBeCloseTo(1, 6);
        expect(prof.kernels.reduce((s, k) => s + k.calls, 0)).toBe(prof.dispatchCount);
        expect(await page.locator('#profile-table tbody tr').count()).toBe(prof.kernels.length + 1);
        expect(await page.textContent('#profile-summary')).toMatch(/sum of pass durations/);
        mkdirSync(ARTIFACTS, { recursive: true });
        await page.locator('#profile').screenshot({ path: path.join(ARTIFACTS, `browser-profile-${name}.png`) });
        const trace = JSON.parse((await page.evaluate(() => window.plateau.download('profile-forward-trace.json')))!);
        expect(trace.traceEvents.filter((e: { ph: string }) => e.ph === 'X')).toHaveLength(prof.dispatchCount);
        const tmp = tempDir();
        const idsFile = path.join(tmp, 'ids.json');
        writeFileSync(idsFile, JSON.stringify(Array.from({ length: fwd.B }, (_, b) => fwd.ids.slice(b * fwd.T, (b + 1) * fwd.T))));
        const cliJson = path.join(tmp, 'profile.json');
        const cli = await runCli(['profile', '--model', dir, '--ids', idsFile, '--repeat', '2', '--json', cliJson]);
        expect(cli.stderr).not.toMatch(/plateau:/);
        const callsByKernel = (kernels: { kernel: string; calls: number }[]) => {
          const out: Record<string, number> = {};
          for (const k of kernels) {
            const name = k.kernel.startsWith('matmul-') ? 'matmul' : k.kernel;
            out[name] = (out[name] ?? 0) + k.calls;
          }
          return out;
        };
        expect(callsByKernel(prof.kernels)).toEqual(callsByKernel(JSON.parse(readFileSync(cliJson, 'utf8')).kernels));
        if (name === FIXTURE_NAMES[0]) {
          // The CPU-replay timer (the fallback without timestamp-query): same kernels and calls.
          await page.selectOption('#profile-timer', 'cpu');
          await runJobOk(session, 'profile', () => page.click('#profile-run'));
          await page.selectOption('#profile-timer', 'auto');
          const replayed = await page.evaluate(() => window.plateau.lastProfile!);
          expect(replayed.mode).toBe('cpu');
          expect(replayed.skipped).toBe(0);
          expect(callsByKernel(replayed.kernels)).toEqual(callsByKernel(prof.kernels));
        }
        if (name === FIXTURE_NAMES[FIXTURE_NAMES.length - 1]) {
          // Autotune first (last fixture only: the choices stay in the page's memory): a neuron sweep.
          await page.selectOption('#profile-work', 'neurons');
          await page.fill('#profile-repeat', '1');
          await page.check('#profile-autotune');
          await runJobOk(session, 'profile', () => page.click('#profile-run'));
          await page.uncheck('#profile-autotune');
          const tuned = await page.evaluate(() => window.plateau.lastProfile!);
          const log = tuned.tuneLog!.join('\n');
          expect(log).toMatch(/matmul shapes of this work/);
          expect(log).toMatch(/attention \(dh \d+\): (tiled|simple)/);
          expect(log).toMatch(/pair loop: /);
          expect(tuned.kernels.some((k) => k.kernel.startsWith('neuron-closed-form') || k.kernel.includes('pair'))).toBe(true);
          expect(await page.textContent('#profile-summary')).toContain('autotune (choices kept for this page session)');
        }
      } finally {
        await ref.close();
      }
    }, 120_000);
  }

  it('gpt2-brown: folder picker, text forward, a cancelled head sweep, patching two texts, and a small analysis with every chart', async () => {
    const { page } = session;
    // The model folder through the directory input (config.json, tokenizer.json, f16 model.safetensors, and other files).
    await runJobOk(session, 'load', () => page.setInputFiles('#model-dir', BROWN));
    const model = await page.evaluate(() => window.plateau.model!);
    expect(model.name).toBe('gpt2-brown');
    expect(model.tokenizer).toBe(true);

    await page.fill('#forward-text', 'The jury said it did find that many of the voters were not registered.');
    await runJobOk(session, 'forward', () => page.click('#forward-run'));
    const fwd = await page.evaluate(() => ({ T: window.plateau.lastForward!.T, nll: window.plateau.lastForward!.nll }));
    expect(fwd.T).toBeGreaterThan(10);
    expect(fwd.nll.every((x) => Number.isFinite(x) && x >= 0)).toBe(true);
    expect(await page.locator('#top5 tbody tr').count()).toBe(5);

    // Cancel: a BOS-redirect head sweep over all 4 layers runs one layer per chunk; cancel after the first.
    await page.selectOption('#sweep-kind', 'heads');
    await page.selectOption('#sweep-layer', 'all');
    await page.selectOption('#sweep-ablation', 'bos');
    const cancelled = await runJob(page, 'sweep', async () => {
      await page.click('#sweep-run');
      await page.waitForFunction(() => Number((document.querySelector('#sweep-progress') as HTMLProgressElement).value) >= 4);
      await page.click('#sweep-cancel');
    });
    expect(cancelled.state).toBe('cancelled');

    // Patching from two typed texts: unequal token lengths are refused; equal ones run as rows 0 and 1.
    await page.fill('#patch-clean-text', 'The jury said it');
    await page.fill('#patch-corrupted-text', 'The jury said that it');
    const refused = await runJob(page, 'patch', () => page.click('#patch-texts'));
    expect(refused.state).toBe('error');
    expect(refused.message).toMatch(/same token length/);
    await page.fill('#patch-corrupted-text', 'The court said it');
    await runJobOk(session, 'forward', () => page.click('#patch-texts'));
    await page.selectOption('#patch-hook', 'z');
    await runJobOk(session, 'patch', () => page.click('#patch-run'));
    const patched = await page.evaluate(() => ({ shape: window.plateau.lastPatch!.shape, hook: window.plateau.lastPatch!.hook }));
    expect(patched.hook).toBe('z');
    expect(patched.shape.slice(0, 2)).toEqual([4, await page.evaluate(() => window.plateau.lastForward!.T)]);
    expect(await page.getAttribute('#patch-chart', 'data-rendered')).toBe('true');
    // Per head: each (layer, head) of hook_z at every position, the two answers kept — the CLI's numbers.
    await page.selectOption('#patch-granularity', 'head');
    expect(await page.isDisabled('#patch-hook')).toBe(true);
    await runJobOk(session, 'patch', () => page.click('#patch-run'));
    const heads = await page.evaluate(() => {
      const p = window.plateau.lastPatch!;
      return { shape: p.shape, tokens: p.tokens!, values: p.values, ids: window.plateau.lastForward!.ids, T: window.plateau.lastForward!.T };
    });
    expect(heads.shape).toEqual([4, 4, 2]);
    expect(await page.getAttribute('#patch-chart', 'data-rendered')).toBe('true');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator('#patch').screenshot({ path: path.join(ARTIFACTS, 'browser-patch-heads.png') });
    const tmp = tempDir();
    const idsFile = path.join(tmp, 'ids.json');
    writeFileSync(idsFile, JSON.stringify([heads.ids.slice(0, heads.T), heads.ids.slice(heads.T)]));
    const cliOut = path.join(tmp, 'heads.safetensors');
    const cli = await runCli(['patch', '--model', BROWN, '--ids', idsFile, '--clean-row', '0', '--corrupted-row', '1', '--hook', 'z', '--per-head', '--positions', 'all', '--tokens', heads.tokens.join(','), '--out', cliOut]);
    expect(cli.stderr).not.toMatch(/plateau:/);
    const st = await SafetensorsFile.openPath(cliOut);
    expect(maxAbsDiff(Float32Array.from(heads.values), await st.readF32('logprobs'))).toBeLessThan(1e-3);
    await st.close();
    await page.selectOption('#patch-granularity', 'head-position');
    await runJobOk(session, 'patch', () => page.click('#patch-run'));
    expect(await page.evaluate(() => window.plateau.lastPatch!.shape)).toEqual([4, 4, heads.T, 2]);
    expect(await page.getAttribute('#patch-chart', 'data-rendered')).toBe('true');
    await page.locator('#patch-chart').screenshot({ path: path.join(ARTIFACTS, 'browser-patch-head-position.png') });
    await page.selectOption('#patch-granularity', 'position');
    expect(await page.isDisabled('#patch-hook')).toBe(false);

    // A resample sweep of the last layer's heads: each row takes hook_z from the next row — the CLI's numbers.
    await page.selectOption('#sweep-kind', 'heads');
    await page.selectOption('#sweep-layer', '3');
    await page.selectOption('#sweep-ablation', 'resample');
    await runJobOk(session, 'sweep', () => page.click('#sweep-run'));
    const resampled = await page.evaluate(() => ({ shape: [...window.plateau.lastSweep!.leadingShape, ...window.plateau.lastSweep!.unitShape], values: window.plateau.lastSweep!.values }));
    const nextRows = path.join(tmp, 'next-rows.json');
    writeFileSync(nextRows, JSON.stringify([heads.ids.slice(heads.T), heads.ids.slice(0, heads.T)]));
    const sweepOut = path.join(tmp, 'resample.safetensors');
    const sweepCli = await runCli(['sweep', 'heads', '--model', BROWN, '--ids', idsFile, '--layers', '3', '--ablation', 'resample', '--resample-ids', nextRows, '--out', sweepOut]);
    expect(sweepCli.stderr).not.toMatch(/plateau:/);
    const sweepSt = await SafetensorsFile.openPath(sweepOut);
    expect(resampled.shape).toEqual(sweepSt.info('dnll').shape);
    expect(maxAbsDiff(Float32Array.from(resampled.values), await sweepSt.readF32('dnll'))).toBeLessThan(1e-3);
    expect(Math.max(...resampled.values.map(Math.abs))).toBeGreaterThan(1e-3);
    await sweepSt.close();

    // The analysis on the first 32 Brown documents, uploaded as a JSONL corpus, with the smallest valid settings.
    const docs = readFileSync(path.join(BROWN, 'brown-docs.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, 32);
    await page.setInputFiles('#corpus-files', { name: 'brown-32.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(docs.join('\n') + '\n') });
    const settings: [string, string][] = [
      ['#an-rows', '2'], ['#an-seq', '16'], ['#an-mean-rows', '3'], ['#an-random-groups', '100'],
      ['#an-bootstrap', '10'], ['#an-permutations', '100'],
    ];
    for (const [sel, value] of settings) await page.fill(sel, value);
    await page.selectOption('#an-split', 'longtail_50');
    await page.selectOption('#an-vocab-scope', 'observed');
    await runJobOk(session, 'analysis', () => page.click('#analysis-run'), 240_000);
    expect(await page.getAttribute('#analysis-progress', 'data-state')).toBe('done');

    const charts = await page.$$eval('#charts [data-chart]', (els) => els.map((e) => ({ id: e.getAttribute('data-chart'), rendered: e.getAttribute('data-rendered'), svg: !!e.querySelector('svg') })));
    expect(charts.map((c) => c.id).sort()).toEqual([...ANALYSIS_CHARTS].sort());
    for (const c of charts) expect(c, `chart ${c.id}`).toEqual({ id: c.id, rendered: 'true', svg: true });

    const results = JSON.parse((await page.evaluate(() => window.plateau.download('results.json')))!);
    expect(results.format).toBe('plateau-analysis/1');
    expect(results.corpus).toMatchObject({ rowsAnalysed: 2, seq: 16, documents: 32, files: ['brown-32.jsonl'] });
    expect(results.frequency.split).toBe('longtail_50');
    expect(results.sets.rare.positions).toBeGreaterThan(0);
    expect(results.sets.common.positions).toBeGreaterThan(0);
    expect(results.neurons.I_rare).toHaveLength(512);
    expect(results.groups.plateau.length).toBeGreaterThanOrEqual(3);
    expect((await page.evaluate(() => window.plateau.download('neurons.csv')))!.split('\n')[0]).toContain('neuron');
    const report = (await page.evaluate(() => window.plateau.download('report.html')))!;
    for (const id of ANALYSIS_CHARTS) expect(report).toContain(`data-chart="${id}"`);

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.locator('#analysis').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'browser-analysis.png'), fullPage: true });
  }, 300_000);
});
