// The sweep and patch commands end to end on the fixtures (the contract's output tensors), a kill in
// the middle of a sweep followed by --resume, and shards merged into one result.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixtureDir, readReference, tolerance, type FixtureName } from './fixtures.js';
import { CLI, runCli, tempDir } from './helpers/cli.js';
import { maxAbsDiff } from './helpers/gpu.js';
import { SafetensorsFile } from '../src/io/safetensors.js';

async function readTensor(file: string, name: string): Promise<{ shape: number[]; data: Float32Array }> {
  const st = await SafetensorsFile.openPath(file);
  try {
    return { shape: st.info(name).shape, data: await st.readF32(name) };
  } finally {
    await st.close();
  }
}

async function expectMatchesReference(out: string, fixture: FixtureName, name: string, refName: string) {
  const ref = await readReference(fixture);
  const got = await readTensor(out, name);
  expect(got.shape).toEqual(ref.file.info(refName).shape);
  expect(maxAbsDiff(got.data, await ref.file.readF32(refName))).toBeLessThan(tolerance(fixture, refName));
  await ref.file.close();
}

describe('sweep commands reproduce the fixtures', () => {
  for (const fixture of ['gpt2-tiny-prefixed', 'pythia-tiny'] as const) {
    const dir = fixtureDir(fixture);
    const ids = path.join(dir, 'reference.safetensors');
    it(`${fixture}: neurons, heads (zero, mean, bos --watch) and patch`, async () => {
      const tmp = tempDir();
      const run = async (args: string[], out: string) => {
        const res = await runCli([...args, '--model', dir, '--ids', ids, '--out', out]);
        expect(res.stderr).not.toMatch(/plateau:/);
        expect(res.code).toBe(0);
        return JSON.parse(res.stdout.trim().split('\n').pop()!);
      };
      for (const ablation of ['zero', 'mean']) {
        const out = path.join(tmp, `n-${ablation}.safetensors`);
        const summary = await run(['sweep', 'neurons', '--layer', 'last', '--ablation', ablation], out);
        expect(summary.strategy).toBe('final-layer-closed-form');
        await expectMatchesReference(out, fixture, 'dnll', `sweep.neurons.${ablation}.L2.dnll`);
        const heads = path.join(tmp, `h-${ablation}.safetensors`);
        const headSummary = await run(['sweep', 'heads', '--layers', 'all', '--ablation', ablation], heads);
        // Pythia's parallel residual gives the final layer's heads the closed form.
        expect(headSummary.strategy).toBe(fixture === 'pythia-tiny' ? 'batched-from-layer+final-layer-closed-form' : 'batched-from-layer');
        await expectMatchesReference(heads, fixture, 'dnll', `sweep.heads.${ablation}.dnll`);
      }
      const bos = path.join(tmp, 'bos.safetensors');
      const summary = await run(['sweep', 'heads', '--ablation', 'bos', '--watch', '2:0,1,2,3,4,5,6,7'], bos);
      expect(summary.strategy).toBe('single-position-cached');
      await expectMatchesReference(bos, fixture, 'dnll', 'sweep.heads.bos.dnll');
      await expectMatchesReference(bos, fixture, 'dact', 'sweep.heads.bos.dact');
      const patch = path.join(tmp, 'patch.safetensors');
      await run(['patch', '--clean-row', '0', '--corrupted-row', '1', '--hook', 'resid_pre'], patch);
      await expectMatchesReference(patch, fixture, 'logprobs', 'patch.resid_pre.logprobs');
    });
  }
});

describe('ablation sources: --mean-ids (a named population) and --ablation resample --resample-ids', () => {
  const dir = fixtureDir('gpt2-tiny');
  const ids = path.join(dir, 'reference.safetensors');
  const sweep = async (args: string[]) => {
    const out = path.join(tempDir(), 'out.safetensors');
    const res = await runCli([...args, '--model', dir, '--ids', ids, '--out', out]);
    return { res, out };
  };
  const dnll = async (args: string[]) => {
    const { res, out } = await sweep(args);
    expect(res.stderr).not.toMatch(/plateau:/);
    return (await readTensor(out, 'dnll')).data;
  };

  it('means over the swept batch itself = the default; over another population they differ; resampling from the batch itself changes nothing', async () => {
    const ref = await readReference('gpt2-tiny');
    const batch = await ref.file.readInt32('input_ids');
    const [B, T] = ref.file.info('input_ids').shape;
    await ref.file.close();
    const tmp = tempDir();
    const sameRows = path.join(tmp, 'same.json');
    writeFileSync(sameRows, JSON.stringify(Array.from({ length: B }, (_, b) => Array.from(batch.subarray(b * T, (b + 1) * T)))));
    const other = path.join(tmp, 'other.json');
    writeFileSync(other, JSON.stringify(Array.from({ length: 3 }, (_, b) => Array.from({ length: 17 }, (_, t) => (b * 389 + t * 97 + 5) % 1000))));
    for (const cmd of [['sweep', 'neurons', '--layer', 'last'], ['sweep', 'heads', '--layers', '0,2']]) {
      const plain = await dnll([...cmd, '--ablation', 'mean']);
      expect(maxAbsDiff(await dnll([...cmd, '--ablation', 'mean', '--mean-ids', sameRows]), plain), cmd[1]).toBe(0);
      expect(maxAbsDiff(await dnll([...cmd, '--ablation', 'mean', '--mean-ids', other]), plain), cmd[1]).toBeGreaterThan(1e-3);
      const resampled = await dnll([...cmd, '--ablation', 'resample', '--resample-ids', sameRows]);
      expect(maxAbsDiff(resampled, new Float32Array(resampled.length)), cmd[1]).toBe(0);
    }
  });

  it('clear errors for a missing, misplaced or misshapen source', async () => {
    const cases: [string[], RegExp][] = [
      [['sweep', 'neurons', '--layer', 'last', '--ablation', 'resample'], /--ablation resample needs --resample-ids/],
      [['sweep', 'neurons', '--layer', 'last', '--ablation', 'zero', '--mean-ids', ids], /--mean-ids applies to --ablation mean only/],
      [['sweep', 'heads', '--ablation', 'bos', '--resample-ids', ids], /--resample-ids applies to --ablation resample only/],
      [['patch', '--clean-row', '0', '--corrupted-row', '1', '--hook', 'resid'], /--hook: expected one of resid_pre, attn_out, resid_mid, mlp_out, resid_post, z, pre, post, got "resid"/],
      [['patch', '--clean-row', '0', '--corrupted-row', '1', '--hook', 'toString'], /--hook: expected one of .* got "toString"/],
    ];
    const other = path.join(tempDir(), 'other.json');
    writeFileSync(other, JSON.stringify([[1, 2, 3]]));
    cases.push([['sweep', 'heads', '--ablation', 'resample', '--resample-ids', other], /--resample-ids: 1×3 token rows, but the swept batch is \d+×\d+/]);
    const bad = path.join(tempDir(), 'bad.json');
    writeFileSync(bad, '[[1, 2], [3]]');
    cases.push([['sweep', 'neurons', '--layer', '0', '--ablation', 'mean', '--mean-ids', bad], /--mean-ids .*bad\.json: row 1 has 1 tokens/]);
    for (const [args, message] of cases) {
      const { res } = await sweep(args);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
  });
});

describe('measurements: --neurons and --logprobs-at', () => {
  const dir = fixtureDir('gpt2-tiny');
  const ids = path.join(dir, 'reference.safetensors');
  const run = async (args: string[]) => {
    const out = path.join(tempDir(), 'out.safetensors');
    const res = await runCli([...args, '--model', dir, '--ids', ids, '--out', out]);
    return { res, out, summary: res.code === 0 ? JSON.parse(res.stdout.trim().split('\n').pop()!) : null };
  };

  it('a neuron subset equals those rows of the full sweep; logprobs rows are distributions', async () => {
    const full = await run(['sweep', 'neurons', '--layer', '1', '--ablation', 'zero']);
    const subset = await run(['sweep', 'neurons', '--layer', '1', '--ablation', 'zero', '--neurons', '2-4,9', '--logprobs-at', '-1,5']);
    expect(subset.res.stderr).not.toMatch(/plateau:/);
    const all = await readTensor(full.out, 'dnll');
    const some = await readTensor(subset.out, 'dnll');
    const [, B, T1] = all.shape;
    expect(some.shape).toEqual([4, B, T1]);
    [2, 3, 4, 9].forEach((n, i) => expect(maxAbsDiff(some.data.subarray(i * B * T1, (i + 1) * B * T1), all.data.subarray(n * B * T1, (n + 1) * B * T1))).toBeLessThan(1e-5));
    const lp = await readTensor(subset.out, 'logprobs');
    const V = lp.shape[3];
    expect(lp.shape).toEqual([4, B, 2, V]);
    for (const row of [0, 5, 15]) {
      let total = 0;
      for (let v = 0; v < V; v++) total += Math.exp(lp.data[row * V + v]);
      expect(total).toBeCloseTo(1, 4);
    }
  });

  it('--watch on zero / mean sweeps writes dact [units, B, T, n_watch]', async () => {
    const neurons = await run(['sweep', 'neurons', '--layer', 'last', '--ablation', 'zero', '--neurons', '2-4', '--watch', '2:3,7']);
    expect(neurons.res.stderr).not.toMatch(/plateau:/);
    expect(neurons.summary.strategy).toBe('batched-from-layer');
    const dnll = await readTensor(neurons.out, 'dnll');
    const [, B, T1] = dnll.shape;
    const dact = await readTensor(neurons.out, 'dact');
    expect(dact.shape).toEqual([3, B, T1 + 1, 2]);
    // Among others neuron 3 is zeroed and watched: something watched changes.
    expect(Math.max(...dact.data.map(Math.abs))).toBeGreaterThan(1e-3);
    const heads = await run(['sweep', 'heads', '--layers', '0', '--ablation', 'mean', '--watch', '2:0,1']);
    expect(heads.res.stderr).not.toMatch(/plateau:/);
    expect((await readTensor(heads.out, 'dact')).shape).toEqual([1, 4, B, T1 + 1, 2]);
  });

  it('clear errors: positions out of range, bos, the closed form forced with --logprobs-at, bad --neurons', async () => {
    const cases: [string[], RegExp][] = [
      [['sweep', 'heads', '--ablation', 'zero', '--logprobs-at', '999'], /--logprobs-at: position 999 is outside the sequences/],
      [['sweep', 'heads', '--ablation', 'zero', '--logprobs-at', 'last'], /--logprobs-at: expected comma-separated integer positions/],
      [['sweep', 'heads', '--ablation', 'bos', '--logprobs-at', '-1'], /--logprobs-at applies to --ablation zero, mean or resample/],
      [['sweep', 'neurons', '--layer', 'last', '--ablation', 'zero', '--logprobs-at', '-1', '--strategy', 'final-layer-closed-form'], /measures the loss only/],
      [['sweep', 'neurons', '--layer', 'last', '--neurons', '5-2'], /--neurons: 5-2 is out of range/],
    ];
    // Outputs are assembled in memory: 256 neurons × 4 rows × 600 positions × 1000 tokens × 4 bytes > 2 GiB.
    const many = Array.from({ length: 600 }, () => 0).join(',');
    cases.push([['sweep', 'neurons', '--layer', '0', '--logprobs-at', many], /output logprobs \[256, 4, 600, 1000\] would take 2\.5 GB/]);
    for (const [args, message] of cases) {
      const { res } = await run(args);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
  });
});

describe('patch granularity: --per-head, --positions all, --tokens', () => {
  const dir = fixtureDir('gpt2-tiny');
  const ids = path.join(dir, 'reference.safetensors');
  const run = async (args: string[]) => {
    const out = path.join(tempDir(), 'out.safetensors');
    const res = await runCli(['patch', '--clean-row', '0', '--corrupted-row', '1', ...args, '--model', dir, '--ids', ids, '--out', out]);
    return { res, out };
  };

  it('per-head patching by position and at all positions, with chosen tokens: shapes, metadata, the same numbers', async () => {
    const byPos = await run(['--hook', 'z', '--per-head']);
    expect(byPos.res.stderr).not.toMatch(/plateau:/);
    const full = await readTensor(byPos.out, 'logprobs');
    const [L, H, T, V] = full.shape;
    expect([L, H, V]).toEqual([3, 4, 1000]);
    const picked = await run(['--hook', 'z', '--per-head', '--positions', 'all', '--tokens', '7,999']);
    expect(picked.res.stderr).not.toMatch(/plateau:/);
    const st = await SafetensorsFile.openPath(picked.out);
    expect(st.info('logprobs').shape).toEqual([L, H, 2]);
    expect(st.metadata).toMatchObject({ 'plateau.hook': 'z', 'plateau.positions': 'all', 'plateau.perHead': 'true', 'plateau.tokens': '7,999' });
    await st.close();
    expect(T).toBeGreaterThan(1);
    const allPos = await readTensor((await run(['--hook', 'z', '--per-head', '--positions', 'all'])).out, 'logprobs');
    expect(allPos.shape).toEqual([L, H, V]);
    const columns = await readTensor(picked.out, 'logprobs');
    for (let u = 0; u < L * H; u++) {
      expect(columns.data[2 * u]).toBe(allPos.data[u * V + 7]);
      expect(columns.data[2 * u + 1]).toBe(allPos.data[u * V + 999]);
    }
    const whole = await readTensor((await run(['--hook', 'z', '--positions', 'all'])).out, 'logprobs');
    expect(whole.shape).toEqual([L, V]);
    let total = 0;
    for (let v = 0; v < V; v++) total += Math.exp(whole.data[(L - 1) * V + v]);
    expect(total).toBeCloseTo(1, 4);
  });

  it('clear errors: --per-head on another hook, bad --tokens, bad --positions', async () => {
    const cases: [string[], RegExp][] = [
      [['--hook', 'resid_pre', '--per-head'], /--per-head: applies to --hook z/],
      [['--hook', 'z', '--tokens', '5,1000'], /--tokens: expected comma-separated token ids in \[0, 1000\), got "1000"/],
      [['--hook', 'z', '--tokens', ''], /--tokens: expected comma-separated token ids/],
      [['--positions', 'some'], /--positions.*Allowed choices are each, all/],
    ];
    for (const [args, message] of cases) {
      const { res } = await run(args);
      expect(res.code, args.join(' ')).not.toBe(0);
      expect(res.stderr, args.join(' ')).toMatch(message);
    }
  });
});

describe('--memory-budget', () => {
  const dir = fixtureDir('gpt2-tiny');
  const ids = path.join(dir, 'reference.safetensors');
  const run = async (extra: string[]) => {
    const out = path.join(tempDir(), 'out.safetensors');
    const res = await runCli(['sweep', 'neurons', '--model', dir, '--ids', ids, '--layer', '0', '--ablation', 'mean', ...extra, '--out', out]);
    return { res, out, summary: res.code === 0 ? JSON.parse(res.stdout.trim().split('\n').pop()!) : null };
  };

  it('a small budget means smaller batches (more chunks) and the same numbers; a bad size is a clear error', async () => {
    const roomy = await run([]);
    const tight = await run(['--memory-budget', '1MiB']);
    expect(tight.res.stderr).not.toMatch(/plateau:/);
    expect(tight.summary.computedChunks).toBeGreaterThan(roomy.summary.computedChunks);
    const a = await readTensor(roomy.out, 'dnll');
    const b = await readTensor(tight.out, 'dnll');
    expect(maxAbsDiff(a.data, b.data)).toBeLessThan(1e-5); // vocabulary chunks differ too: other summation order
    const bad = await run(['--memory-budget', 'lots']);
    expect(bad.res.code).not.toBe(0);
    expect(bad.res.stderr).toMatch(/--memory-budget: expected a size of at least 1 MiB such as 4GB, 512MiB or 2G, got "lots"/);
  });
});

describe('scheduling', () => {
  const dir = fixtureDir('gpt2-tiny');
  const ids = path.join(dir, 'reference.safetensors');
  const args = ['sweep', 'neurons', '--model', dir, '--ids', ids, '--layer', '0', '--ablation', 'mean', '--chunk', '8'];

  it('a sweep killed mid-way resumes without recomputing finished chunks, bit-identical to an uninterrupted run', async () => {
    const tmp = tempDir();
    const whole = path.join(tmp, 'whole.safetensors');
    expect((await runCli([...args, '--out', whole])).code).toBe(0);

    const out = path.join(tmp, 'resumed.safetensors');
    const manifest = path.join(`${out}.parts`, 'manifest.json');
    const child = spawn(process.execPath, [CLI, ...args, '--out', out], { env: { ...process.env, PLATEAU_NO_PROGRESS: '1' }, stdio: 'ignore' });
    const finished = () => (existsSync(manifest) ? (JSON.parse(readFileSync(manifest, 'utf8')).finishedChunks as number[]).length : 0);
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        if (finished() >= 3) { clearInterval(poll); child.kill('SIGKILL'); resolve(); }
      }, 20);
      child.on('exit', () => { clearInterval(poll); reject(new Error('the sweep finished before it could be killed')); });
    });
    await new Promise((r) => child.on('exit', r));
    const doneBefore = finished();
    expect(doneBefore).toBeGreaterThanOrEqual(3);
    expect(doneBefore).toBeLessThan(32);
    expect(existsSync(out)).toBe(false);

    const refused = await runCli([...args, '--out', out]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/--resume/);

    const resumed = await runCli([...args, '--out', out, '--resume']);
    expect(resumed.code).toBe(0);
    const summary = JSON.parse(resumed.stdout.trim().split('\n').pop()!);
    expect(summary.reusedChunks).toBe(doneBefore);
    expect(summary.computedChunks).toBe(32 - doneBefore);
    expect(Buffer.compare(readFileSync(out), readFileSync(whole))).toBe(0);
  });

  it('shards merged give the same file as one run', async () => {
    const tmp = tempDir();
    const whole = path.join(tmp, 'whole.safetensors');
    expect((await runCli([...args, '--out', whole])).code).toBe(0);
    const dirs: string[] = [];
    for (const i of [0, 1, 2]) {
      const work = path.join(tmp, `shard${i}`);
      dirs.push(work);
      const res = await runCli([...args, '--out', path.join(tmp, 'merged.safetensors'), '--shard', `${i}/3`, '--work-dir', work]);
      expect(res.code).toBe(0);
    }
    const missing = await runCli(['merge', dirs[0], dirs[2], '--out', path.join(tmp, 'bad.safetensors')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/shard 1/);
    const merged = path.join(tmp, 'merged.safetensors');
    expect((await runCli(['merge', ...dirs, '--out', merged])).code).toBe(0);
    const a = await readTensor(merged, 'dnll');
    const b = await readTensor(whole, 'dnll');
    expect(a.shape).toEqual([256, 4, 31]);
    expect(Buffer.compare(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer))).toBe(0);
  });
});
