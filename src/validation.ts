import { z } from "zod";
import { KIND_PLURALS, OBJECT_KINDS, type ObjectKind } from "./contracts";
import { isValidJobId } from "./storage/backup-set";
import { validateGlob } from "./filters";

/**
 * Checks on everything a user can name (CLI flags, HTTP bodies): each failure names the field and
 * the reason, and nothing leaves this process for a value that fails them.
 */

const KEY_VAULT_SUFFIXES = [".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net", ".vault.microsoftazure.de"];
const MANAGED_HSM_SUFFIXES = [".managedhsm.azure.net", ".managedhsm.azure.cn", ".managedhsm.usgovcloudapi.net"];
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

export type EndpointKind = "vault" | "hsm" | "any";

export interface EndpointRules {
  /** Loopback hosts are accepted only when the user pointed us at the local emulator. */
  readonly allowLoopback: boolean;
}

/** Returns the reason a vault/HSM URL is refused, or undefined when it is acceptable. */
export function endpointProblem(value: string, kind: EndpointKind, rules: EndpointRules): string | undefined {
  if (value.length > 300) return "is longer than 300 characters";
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL";
  }
  if (url.protocol !== "https:") return "must use https://";
  if (url.username || url.password) return "must not contain user information";
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) return "must be the vault's base URL, without a path or query";
  const host = url.hostname.toLowerCase();
  if (LOOPBACK_HOSTS.has(host) || host === "::1") {
    return rules.allowLoopback ? undefined : "names a loopback host: only allowed with --emulator-ca (the local emulator)";
  }
  if (url.port) return "must not name a port";
  const suffixes = kind === "vault" ? KEY_VAULT_SUFFIXES : kind === "hsm" ? MANAGED_HSM_SUFFIXES : [...KEY_VAULT_SUFFIXES, ...MANAGED_HSM_SUFFIXES];
  const label = host.split(".")[0] ?? "";
  if (!suffixes.some((s) => host.endsWith(s)) || !/^[a-z0-9][a-z0-9-]{1,22}[a-z0-9]$/.test(label) || host.split(".").length !== suffixes.find((s) => host.endsWith(s))!.split(".").length) {
    return kind === "hsm" ? "is not a Managed HSM URL (https://<name>.managedhsm.azure.net)" : kind === "vault" ? "is not a Key Vault URL (https://<name>.vault.azure.net)" : "is not a Key Vault or Managed HSM URL";
  }
  return undefined;
}

/** Whether a URL names a Managed HSM (which holds keys only). Loopback URLs (the emulator) never do. */
export function isManagedHsmUrl(value: string): boolean {
  try {
    const host = new URL(value).hostname.toLowerCase();
    return MANAGED_HSM_SUFFIXES.some((s) => host.endsWith(s));
  } catch {
    return false;
  }
}

/** How kinds are written: `keys,secrets,certificates` (the singular is accepted too). */
export const KIND_LIST_HELP = "keys, secrets, certificates";

/** The kinds a list names, each once, in job order; or the reason it is refused. */
export function parseKinds(names: readonly string[]): { kinds: ObjectKind[] } | { problem: string } {
  const kinds = new Set<ObjectKind>();
  for (const raw of names) {
    const name = raw.trim().toLowerCase();
    const kind = OBJECT_KINDS.find((k) => k === name || KIND_PLURALS[k] === name);
    if (!kind) return { problem: `"${raw.slice(0, 40)}" is not a kind of object (${KIND_LIST_HELP})` };
    kinds.add(kind);
  }
  if (kinds.size === 0) return { problem: `names no kind (${KIND_LIST_HELP})` };
  return { kinds: OBJECT_KINDS.filter((k) => kinds.has(k)) };
}

/** Why a backup of these kinds cannot be asked of this URL, if it cannot. */
export function kindsProblem(vaultUrl: string, kinds: readonly ObjectKind[]): string | undefined {
  return isManagedHsmUrl(vaultUrl) && kinds.some((k) => k !== "key") ? "a Managed HSM holds keys only: back up its keys (kinds: keys)" : undefined;
}

export function endpointSchema(kind: EndpointKind, rules: EndpointRules) {
  return z.string().superRefine((value, ctx) => {
    const problem = endpointProblem(value, kind, rules);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });
}

export const globSchema = z.string().superRefine((value, ctx) => {
  const problem = validateGlob(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Digits only (no sign, point, exponent or separator), at most `maxDigits` of them. */
function wholeNumberPattern(maxDigits: number | undefined): RegExp {
  return maxDigits === undefined ? /^\d+$/ : new RegExp(`^\\d{1,${maxDigits}}$`);
}

/** Whether `text` is a whole number from min to max; the reason when not: "not" (a whole number) or "range". */
export function wholeNumberProblem(text: string, min: number, max: number, maxDigits?: number): "not" | "range" | undefined {
  if (!wholeNumberPattern(maxDigits).test(text)) return "not";
  const n = Number(text);
  return n >= min && n <= max ? undefined : "range";
}

/** A setting or query parameter that is a whole number from min to max. */
export function wholeNumberSchema(min: number, max: number, maxDigits?: number) {
  return z
    .string()
    .regex(wholeNumberPattern(maxDigits), "must be a whole number")
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be from ${min} to ${max}`);
}

export const jobIdSchema = z.string().refine(isValidJobId, "must be 1-64 letters, digits or '-', starting with a letter or digit");

/** `field: reason` for the first problem of a failed parse. */
export function firstIssue(error: z.ZodError, fieldPrefix = ""): { field: string; reason: string } {
  const issue = error.issues[0]!;
  const field = issue.path.length > 0 ? issue.path.map(String).join(".") : "(body)";
  return { field: `${fieldPrefix}${field}`, reason: issue.message };
}
