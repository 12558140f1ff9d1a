import { isValidJobId } from "../storage/backup-set";

/**
 * Job (orchestration instance) ids. Every id names the vault or HSM it works on, so "is a job already
 * running on this target?" is answered from the ids of the running instances alone, without reading
 * their inputs:
 *
 *   <op>-<target key>-<stamp>
 *     op          backup | restore | scheduled
 *     target key  kv-<vault name> | hsm-<HSM name>  (loopback emulator: kv-127-0-0-1-8443)
 *     stamp       HTTP start: yyyyMMddHHmmss + 4 random hex digits (unique per start)
 *                 scheduled:  yyyyMMddHHmm of the schedule slot (deterministic: a retried timer finds it)
 *
 * The stamp never contains '-', so the id splits unambiguously at its last '-' even when a vault name
 * contains dashes or digits. Ids are valid backup-set job ids (letters, digits, '-', at most 64).
 */

export type TargetKind = "vault" | "hsm";
export type JobOp = "backup" | "restore" | "scheduled";

const KIND_PREFIX: Record<TargetKind, string> = { vault: "kv", hsm: "hsm" };
const OPS: readonly JobOp[] = ["backup", "restore", "scheduled"];
const STAMP = /^(\d{12}|\d{14}[0-9a-f]{4})$/;

/**
 * `kv-myvault` for https://myvault.vault.azure.net. The first DNS label is the name (unique per cloud);
 * a loopback emulator URL keeps host and port, since there the port is what tells vaults apart.
 */
export function targetKey(kind: TargetKind, url: string): string {
  const parsed = new URL(url);
  const host = parsed.hostname.toLowerCase().replace(/^\[|\]$/g, "");
  const isLoopback = host === "localhost" || host === "127.0.0.1" || host === "::1";
  const name = isLoopback ? [host, parsed.port].filter(Boolean).join("-") : host.split(".")[0]!;
  const slug = name.replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return `${KIND_PREFIX[kind]}-${slug || "x"}`;
}

/** Lowercase, no trailing slash: the form the allow-lists are kept in. */
export function normalizeEndpoint(url: string): string {
  return url.trim().replace(/\/+$/, "").toLowerCase();
}

/** `20250101T020304.567Z` → `20250101020304` (UTC). */
export function compactUtc(date: Date, precision: "minute" | "second"): string {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-:T]/g, "");
  return precision === "minute" ? digits.slice(0, 12) : digits;
}

export function httpJobId(op: "backup" | "restore", key: string, now: Date, randomHex4: string): string {
  if (!/^[0-9a-f]{4}$/.test(randomHex4)) throw new Error("random suffix must be 4 lowercase hex digits");
  return checked(`${op}-${key}-${compactUtc(now, "second")}${randomHex4}`);
}

export function scheduledJobId(key: string, slot: Date): string {
  return checked(`scheduled-${key}-${compactUtc(slot, "minute")}`);
}

export interface ParsedJobId {
  readonly op: JobOp;
  readonly targetKey: string;
  readonly kind: TargetKind;
  readonly stamp: string;
}

/** Undefined for an id that kvbackup did not make (another orchestration in the same task hub). */
export function parseJobId(id: string): ParsedJobId | undefined {
  if (!isValidJobId(id)) return undefined;
  const last = id.lastIndexOf("-");
  const stamp = id.slice(last + 1);
  if (!STAMP.test(stamp)) return undefined;
  const head = id.slice(0, last);
  const first = head.indexOf("-");
  const op = head.slice(0, first) as JobOp;
  if (first < 0 || !OPS.includes(op)) return undefined;
  const key = head.slice(first + 1);
  const match = /^(kv|hsm)-[a-z0-9][a-z0-9-]*$/.exec(key);
  if (!match) return undefined;
  return { op, targetKey: key, kind: match[1] === "kv" ? "vault" : "hsm", stamp };
}

function checked(id: string): string {
  // Names are at most 24 characters and loopback keys are short, so this only fires on a bug.
  if (!isValidJobId(id)) throw new Error(`job id "${id}" is not a valid job id (letters, digits, '-', at most 64)`);
  return id;
}
