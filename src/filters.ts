import picomatch from "picomatch";

/**
 * Include/exclude glob filters on key names. Key names are case-insensitive in Key Vault, so the
 * globs are too. No include means every key; an exclude always wins.
 */
export interface NameFilter {
  (name: string): boolean;
}

export class InvalidGlobError extends Error {
  override readonly name = "InvalidGlobError";
}

const GLOB = /^[0-9A-Za-z*?[\]!{},^-]{1,256}$/;

export function validateGlob(glob: string): string | undefined {
  if (!GLOB.test(glob)) return "a glob on key names may use letters, digits, '-', and * ? [ ] { } , ! only (at most 256 characters)";
  try {
    picomatch.makeRe(glob);
  } catch (error) {
    return `not a valid glob: ${(error as Error).message}`;
  }
  return undefined;
}

export function createNameFilter(include: readonly string[], exclude: readonly string[]): NameFilter {
  for (const glob of [...include, ...exclude]) {
    const problem = validateGlob(glob);
    if (problem) throw new InvalidGlobError(`invalid glob "${glob}": ${problem}`);
  }
  const options = { nocase: true, dot: true };
  const included = include.length > 0 ? picomatch([...include], options) : () => true;
  const excluded = exclude.length > 0 ? picomatch([...exclude], options) : () => false;
  return (name) => included(name) && !excluded(name);
}
