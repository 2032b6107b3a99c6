// `plateau run` end to end on every fixture: the written safetensors file matches the reference.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURE_NAMES, fixtureDir, readReference, tolerance } from './fixtures.js';
import { runCli, tempDir } from './helpers/cli.js';
import { maxAbsDiff } from './helpers/gpu.js';
import { SafetensorsFile } from '../src/io/safetensors.js';

describe.each(FIXTURE_NAMES)('plateau run --hooks all: %s', (name) => {
  it('writes logits, nll and hooks matching the reference', async () => {
    const out = path.join(tempDir(), 'run.safetensors');
    const ids = path.join(fixtureDir(name), 'reference.safetensors');
    const res = await runCli(['run', '--model', fixtureDir(name), '--ids', ids, '--hooks', 'all', '--out', out]);
    expect(res.stderr).not.toMatch(/plateau:/);
    expect(res.code).toBe(0);
    const got = await SafetensorsFile.openPath(out);
    const ref = await readReference(name);
    for (const tensor of ref.file.tensors.keys()) {
      if (tensor.startsWith('sweep.') || tensor.startsWith('patch.')) continue;
      expect(got.has(tensor), tensor).toBe(true);
      expect(got.info(tensor).shape, tensor).toEqual(ref.file.info(tensor).shape);
      if (tensor === 'input_ids') {
        expect(Array.from(await got.readInt32(tensor))).toEqual(Array.from(ref.ids));
        continue;
      }
      const a = await got.readF32(tensor);
      const b = await ref.file.readF32(tensor);
      const tol = tolerance(name, tensor) + (tensor === 'logits' ? 1e-4 * 12 : 0);
      expect(maxAbsDiff(a, b), tensor).toBeLessThan(tol);
    }
    await got.close();
    await ref.file.close();
  });
});

describe('plateau run: bad input gives a clear error', () => {
  it('names the flag and the problem', async () => {
    const dir = tempDir();
    const bad = path.join(dir, 'bad.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(bad, '[[1, 2], [3]]'));
    const res = await runCli(['run', '--model', fixtureDir('gpt2-tiny'), '--ids', bad, '--out', path.join(dir, 'o.safetensors')]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/--ids .*bad\.json: row 1 has 1 tokens/);
    const tooLong = path.join(dir, 'long.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(tooLong, JSON.stringify([Array.from({ length: 65 }, () => 1)])));
    const res2 = await runCli(['run', '--model', fixtureDir('gpt2-tiny'), '--ids', tooLong, '--out', path.join(dir, 'o.safetensors')]);
    expect(res2.stderr).toMatch(/sequence length 65 exceeds the model's context length 64/);
    const res3 = await runCli(['run', '--model', dir, '--ids', bad, '--out', path.join(dir, 'o.safetensors')]);
    expect(res3.stderr).toMatch(/no config\.json/);
    // Outputs that cannot be held in memory are refused before any work, with what to change.
    const many = path.join(dir, 'many.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(many, JSON.stringify(Array.from({ length: 90 }, () => Array.from({ length: 128 }, (_, t) => t)))));
    const res4 = await runCli(['run', '--ids', many, '--out', path.join(dir, 'o.safetensors')]);
    expect(res4.code).not.toBe(0);
    expect(res4.stderr).toMatch(/output logits \[90, 128, 50257\] would take 2\.3 GB \(limit 2 GiB per tensor\): pass --no-logits/);
  });
});

describe('--text, repeated: one row per text', () => {
  const brown = path.resolve(__dirname, '../weights/gpt2-brown');

  it('equals --ids with the same tokens; texts of unequal token length are refused; patch takes a clean and a corrupted text', async () => {
    const { loadTokenizer } = await import('../src/io/tokenizer.js');
    const tok = await loadTokenizer(brown);
    const texts = ['The jury said it', 'The court said it'];
    const rows = texts.map((t) => [tok.bosId ?? tok.eosId!, ...tok.encode(t)]);
    expect(rows[0].length).toBe(rows[1].length);
    const dir = tempDir();
    const idsFile = path.join(dir, 'ids.json');
    await import('node:fs/promises').then((fs) => fs.writeFile(idsFile, JSON.stringify(rows)));
    const fromText = path.join(dir, 'text.safetensors');
    const fromIds = path.join(dir, 'ids.safetensors');
    const a = await runCli(['run', '--text', texts[0], '--text', texts[1], '--bos', '--out', fromText]);
    expect(a.stderr).not.toMatch(/plateau:/);
    expect((await runCli(['run', '--ids', idsFile, '--out', fromIds])).code).toBe(0);
    const [x, y] = await Promise.all([SafetensorsFile.openPath(fromText), SafetensorsFile.openPath(fromIds)]);
    expect(x.info('logits').shape).toEqual([2, rows[0].length, 50257]);
    expect(maxAbsDiff(await x.readF32('nll'), await y.readF32('nll'))).toBe(0);
    await Promise.all([x.close(), y.close()]);

    const unequal = await runCli(['run', '--text', 'The jury said it', '--text', 'The jury said that it', '--out', fromText]);
    expect(unequal.code).not.toBe(0);
    expect(unequal.stderr).toMatch(/--text: every text must encode to the same number of tokens .* #1 has 4, #2 has 5/);

    const patched = path.join(dir, 'patch.safetensors');
    const p = await runCli(['patch', '--text', texts[0], '--text', texts[1], '--bos', '--clean-row', '0', '--corrupted-row', '1', '--hook', 'z', '--per-head', '--positions', 'all', '--out', patched]);
    expect(p.stderr).not.toMatch(/plateau:/);
    const st = await SafetensorsFile.openPath(patched);
    expect(st.info('logprobs').shape).toEqual([4, 4, 50257]);
    await st.close();
  });
});
