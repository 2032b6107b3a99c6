// Environment switches (PLATEAU_MATMUL, PLATEAU_ATTENTION, PLATEAU_PAIR_KERNEL, ...): read in Node,
// absent in the browser, and checked against the allowed values where they select a kernel.

/** process.env[name] in Node; undefined where there is no process (the browser). */
export function envVar(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env?.[name] : undefined;
}

/**
 * The variable's trimmed value if set, else undefined; a value outside `allowed` is an error
 * "NAME=value: <problem> (expected one of ...)".
 */
export function envChoice<T extends string>(name: string, allowed: readonly T[], problem: string): T | undefined {
  const value = envVar(name)?.trim();
  if (!value) return undefined;
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`${name}=${value}: ${problem} (expected one of ${allowed.join(', ')})`);
  return value as T;
}
