import { z } from "zod";
import { OBJECT_KINDS, type JobTuning, type ObjectKind } from "./contracts";
import { DEFAULT_MAX_OPERATIONS_PER_10S, DEFAULT_TUNING } from "./tuning";
import { scheduleProblem } from "./jobs/schedule";
import { CONTAINER_NAME, isContainerName } from "./names";
import { endpointProblem, parseKinds, wholeNumberSchema } from "./validation";

/**
 * Every setting of the Functions app, read once and checked together: a misconfigured app reports
 * all of its problems in one error at start, not one per deploy. Documented in
 * local.settings.sample.json and the README.
 */
export interface KvBackupConfig {
  /** Where backup sets go: a blob account URL (managed identity) or a connection string (Azurite). */
  readonly storage: string;
  readonly container: string;
  /** Vaults and HSMs a request may name; anything else is refused before any request leaves the app. */
  readonly allowedVaults: readonly string[];
  readonly allowedHsms: readonly string[];
  readonly tuning: JobTuning;
  readonly maxOperationsPer10s: number;
  /** Backups list each object's versions for the manifest (a second vault operation per object); a request can override it. */
  readonly versionDetails: boolean;
  /**
   * What a vault backup takes when its request names no kinds (scheduled backups, HTTP requests without
   * `kinds`): every kind by default. A Managed HSM's backups take its keys whatever this says.
   */
  readonly kinds: readonly ObjectKind[];
  /** NCRONTAB (six fields) of the scheduled backup. */
  readonly schedule: string;
  readonly retention: { readonly days: number; readonly keepMinComplete: number; readonly dryRun: boolean };
  /** How a Managed HSM reaches the backup container: its own managed identity (default) or a SAS minted inside the activity. */
  readonly hsmSasMode: "managedIdentity" | "userDelegationSas" | "accountSas";
  /** PEM file of the local emulator's certificate; set only when running against the emulator. */
  readonly emulatorCaPath?: string;
  /** Blob container URL (no SAS) that Managed HSM full backups are written to; required when HSMs are allowed. */
  readonly hsmBackupContainerUrl?: string;
}

export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

const int = (min: number, max: number) => wholeNumberSchema(min, max);

const list = z
  .string()
  .transform((s) => s.split(/[,;\s]+/).map((x) => x.trim().replace(/\/+$/, "").toLowerCase()).filter(Boolean));

const schema = z.object({
  KVBACKUP_STORAGE: z.string().min(1, "is required (blob account URL or connection string)").optional(),
  AzureWebJobsStorage: z.string().optional(),
  KVBACKUP_CONTAINER: z.string().regex(CONTAINER_NAME, "is not a valid container name").default("kvbackup"),
  KVBACKUP_ALLOWED_VAULTS: list.default([]),
  KVBACKUP_ALLOWED_HSMS: list.default([]),
  KVBACKUP_BATCH_SIZE: int(1, 1000).optional(),
  KVBACKUP_BATCHES_IN_FLIGHT: int(1, 256).optional(),
  KVBACKUP_KEY_CONCURRENCY: int(1, 256).optional(),
  KVBACKUP_MAX_OPS_PER_10S: int(0, 1_000_000).optional(),
  KVBACKUP_VERSION_DETAILS: z.enum(["true", "false"], { error: () => 'must be "true" or "false"' }).default("true"),
  KVBACKUP_KINDS: z.string().optional(),
  KVBACKUP_SCHEDULE: z
    .string()
    .refine((s) => s.trim().split(/\s+/).length === 6, "must be an NCRONTAB expression with six fields ({second} {minute} {hour} {day} {month} {day-of-week})")
    .default("0 0 2 * * *"),
  KVBACKUP_RETENTION_DAYS: int(1, 36500).default(30),
  KVBACKUP_RETENTION_MIN_COMPLETE: int(1, 1000).default(7),
  KVBACKUP_RETENTION_DRY_RUN: z.enum(["true", "false"]).default("false"),
  KVBACKUP_EMULATOR_CA: z.string().optional(),
  KVBACKUP_HSM_SAS_MODE: z.enum(["managedIdentity", "userDelegationSas", "accountSas"]).default("managedIdentity"),
  KVBACKUP_HSM_BACKUP_CONTAINER_URL: z.string().optional(),
});

export function loadConfig(env: NodeJS.ProcessEnv = process.env): KvBackupConfig {
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== "")));
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) problems.push(`${issue.path.join(".")}: ${issue.message}`);
    throw new ConfigurationError(problems);
  }
  const s = parsed.data;
  const storage = s.KVBACKUP_STORAGE ?? s.AzureWebJobsStorage;
  if (!storage) problems.push("KVBACKUP_STORAGE: is required (blob account URL or connection string); AzureWebJobsStorage is used when it is a connection string");
  const allowLoopback = s.KVBACKUP_EMULATOR_CA !== undefined;
  for (const vault of s.KVBACKUP_ALLOWED_VAULTS) {
    const problem = endpointProblem(vault, "vault", { allowLoopback });
    if (problem) problems.push(`KVBACKUP_ALLOWED_VAULTS: "${vault}" ${problem}`);
  }
  for (const hsm of s.KVBACKUP_ALLOWED_HSMS) {
    const problem = endpointProblem(hsm, "hsm", { allowLoopback });
    if (problem) problems.push(`KVBACKUP_ALLOWED_HSMS: "${hsm}" ${problem}`);
  }
  const kinds = s.KVBACKUP_KINDS === undefined ? { kinds: [...OBJECT_KINDS] } : parseKinds(s.KVBACKUP_KINDS.split(/[,;\s]+/).filter(Boolean));
  if ("problem" in kinds) problems.push(`KVBACKUP_KINDS: ${kinds.problem}`);
  const scheduleIssue = scheduleProblem(s.KVBACKUP_SCHEDULE);
  if (scheduleIssue) problems.push(`KVBACKUP_SCHEDULE: ${scheduleIssue}`);
  const hsmContainer = s.KVBACKUP_HSM_BACKUP_CONTAINER_URL?.trim().replace(/\/+$/, "");
  if (hsmContainer) {
    const problem = containerUrlProblem(hsmContainer, allowLoopback);
    if (problem) problems.push(`KVBACKUP_HSM_BACKUP_CONTAINER_URL: ${problem}`);
  } else if (s.KVBACKUP_ALLOWED_HSMS.length > 0) {
    problems.push("KVBACKUP_HSM_BACKUP_CONTAINER_URL: is required when KVBACKUP_ALLOWED_HSMS names an HSM (the blob container its full backups go to)");
  }
  if (problems.length > 0) throw new ConfigurationError(problems);
  return {
    storage: storage!,
    container: s.KVBACKUP_CONTAINER,
    allowedVaults: s.KVBACKUP_ALLOWED_VAULTS,
    allowedHsms: s.KVBACKUP_ALLOWED_HSMS,
    tuning: {
      batchSize: s.KVBACKUP_BATCH_SIZE ?? DEFAULT_TUNING.batchSize,
      batchesInFlight: s.KVBACKUP_BATCHES_IN_FLIGHT ?? DEFAULT_TUNING.batchesInFlight,
      keyConcurrency: s.KVBACKUP_KEY_CONCURRENCY ?? DEFAULT_TUNING.keyConcurrency,
    },
    maxOperationsPer10s: s.KVBACKUP_MAX_OPS_PER_10S ?? DEFAULT_MAX_OPERATIONS_PER_10S,
    versionDetails: s.KVBACKUP_VERSION_DETAILS === "true",
    kinds: "kinds" in kinds ? kinds.kinds : [...OBJECT_KINDS],
    schedule: s.KVBACKUP_SCHEDULE,
    retention: { days: s.KVBACKUP_RETENTION_DAYS, keepMinComplete: s.KVBACKUP_RETENTION_MIN_COMPLETE, dryRun: s.KVBACKUP_RETENTION_DRY_RUN === "true" },
    emulatorCaPath: s.KVBACKUP_EMULATOR_CA,
    hsmBackupContainerUrl: hsmContainer || undefined,
    hsmSasMode: s.KVBACKUP_HSM_SAS_MODE,
  };
}

/**
 * A container URL the HSM can be pointed at: https, one path segment (the container), and no query,
 * since a SAS in a setting would be a long-lived secret (the activity mints a short-lived one instead).
 * Plain http is accepted for a loopback host (Azurite) only when the emulator is configured.
 */
export function containerUrlProblem(value: string, allowLoopback: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL";
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname.toLowerCase());
  if (loopback && !allowLoopback) return "names a loopback host: only allowed with KVBACKUP_EMULATOR_CA (local development)";
  if (url.protocol !== "https:" && !(loopback && url.protocol === "http:")) return "must use https://";
  if (url.username || url.password) return "must not contain user information";
  if (url.search || url.hash) return "must not have a query (no SAS: the app mints a short-lived one when needed)";
  const segments = url.pathname.split("/").filter(Boolean);
  // Azurite puts the account name first in the path: http://127.0.0.1:10000/devstoreaccount1/container.
  const container = segments[loopback ? 1 : 0];
  if (segments.length !== (loopback ? 2 : 1) || !container || !isContainerName(container)) {
    return "must be a blob container URL: https://<account>.blob.core.windows.net/<container>";
  }
  return undefined;
}
