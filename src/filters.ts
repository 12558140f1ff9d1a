import picomatch from "picomatch";
import { OBJECT_KINDS, type ObjectKind } from "./contracts";

/**
 * Include/exclude glob filters on object names. A glob may name a kind first: `secret:db-*` matches
 * secrets whose name starts with db-, `key:*` every key, `certificate:web-?` certificates; a glob without
 * a kind (`db-*`) matches objects of every kind. Names are case-insensitive in Key Vault, so the globs are
 * too. No include means every object (of the job's kinds); otherwise an object must match an include.
 * An exclude always wins.
 */
export interface ObjectFilter {
  (kind: ObjectKind, name: string): boolean;
}

export class InvalidGlobError extends Error {
  override readonly name = "InvalidGlobError";
}

const GLOB = /^[0-9A-Za-z*?[\]!{},^-]{1,256}$/;
/** `key:`, `secret:`, `certificate:` (the plural is accepted too, as --kinds spells kinds). */
const KIND_PREFIX = /^(key|secret|certificate)s?:/i;

/** A glob split into its kind (undefined: every kind) and its pattern on names. */
export function parseGlob(glob: string): { kind?: ObjectKind; pattern: string } {
  const prefix = KIND_PREFIX.exec(glob);
  if (!prefix) return { pattern: glob };
  return { kind: prefix[1]!.toLowerCase() as ObjectKind, pattern: glob.slice(prefix[0].length) };
}

export function validateGlob(glob: string): string | undefined {
  const { pattern } = parseGlob(glob);
  if (!GLOB.test(pattern)) {
    return "a glob on object names may start with a kind (key:, secret:, certificate:) and use letters, digits, '-', and * ? [ ] { } , ! only (at most 256 characters)";
  }
  try {
    picomatch.makeRe(pattern);
  } catch (error) {
    return `not a valid glob: ${(error as Error).message}`;
  }
  return undefined;
}

export function createObjectFilter(include: readonly string[], exclude: readonly string[]): ObjectFilter {
  for (const glob of [...include, ...exclude]) {
    const problem = validateGlob(glob);
    if (problem) throw new InvalidGlobError(`invalid glob "${glob}": ${problem}`);
  }
  const included = include.length > 0 ? matcher(include) : () => true;
  const excluded = exclude.length > 0 ? matcher(exclude) : () => false;
  return (kind, name) => included(kind, name) && !excluded(kind, name);
}

/** Whether any glob of the list matches, each against the kinds it names. */
function matcher(globs: readonly string[]): ObjectFilter {
  const options = { nocase: true, dot: true };
  const byKind = new Map<ObjectKind, string[]>(OBJECT_KINDS.map((k) => [k, []]));
  for (const glob of globs) {
    const { kind, pattern } = parseGlob(glob);
    for (const k of kind ? [kind] : OBJECT_KINDS) byKind.get(k)!.push(pattern);
  }
  const matchers = new Map<ObjectKind, (name: string) => boolean>(
    OBJECT_KINDS.map((k) => {
      const patterns = byKind.get(k)!;
      return [k, patterns.length > 0 ? picomatch(patterns, options) : () => false];
    }),
  );
  return (kind, name) => matchers.get(kind)!(name);
}
