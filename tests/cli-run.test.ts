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
  });
});
