// The memory budget: how many bytes of GPU memory a batch's working buffers may take. WebGPU does
// not tell how much memory a device has (only the largest buffer and binding), so batch sizes come
// from both the binding limit and this budget: --memory-budget on the command line,
// PLATEAU_MEMORY_BUDGET in the environment, else DEFAULT_MEMORY_BUDGET (fits GPUs of 8 GB and up).
// The budget bounds batching: one intervention (one variant of the batch) always runs, even above it.
import { envVar } from './env.js';

export const DEFAULT_MEMORY_BUDGET = 4 * 2 ** 30;

const UNITS: Record<string, number> = {
  '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30,
};

/** "4GB", "512MiB", "1.5G" (binary), "3000000000" → bytes; anything else is an error naming `source`. */
export function parseByteSize(value: string, source: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const bytes = m && unit ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isFinite(bytes) || bytes < 2 ** 20) {
    throw new Error(`${source}: expected a size of at least 1 MiB such as 4GB, 512MiB or 2G, got "${value}"`);
  }
  return bytes;
}

/** PLATEAU_MEMORY_BUDGET if set, else the default. */
export function memoryBudgetFromEnv(): number {
  const value = envVar('PLATEAU_MEMORY_BUDGET');
  return value?.trim() ? parseByteSize(value, 'PLATEAU_MEMORY_BUDGET') : DEFAULT_MEMORY_BUDGET;
}
