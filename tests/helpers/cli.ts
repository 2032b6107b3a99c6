// Runs the built CLI (dist/plateau.mjs; `npm test` builds it first) as a child process.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';

export const CLI = path.resolve(__dirname, '../../dist/plateau.mjs');

export function tempDir(prefix = 'plateau-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, PLATEAU_NO_PROGRESS: '1', ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
