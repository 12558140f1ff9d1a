import { createHash } from "node:crypto";
import { z } from "zod";
import { KEY_NAME } from "../names";
import type { BackupSetState } from "../contracts";
import { DamagedBackupDocumentError, InvalidBackupSetIdError, truncate } from "./errors";

/**
 * The layout of one backup set, the same in a container and in a folder:
 *
 *   <vault folder>/<UTC timestamp>-<job id>/inventory.json      keys to back up, written first
 *   <vault folder>/<UTC timestamp>-<job id>/keys/<name>.keybackup   Key Vault's own backup blob, byte for byte
 *   <vault folder>/<UTC timestamp>-<job id>/batches/<index>.json per-key results of one batch
 *   <vault folder>/<UTC timestamp>-<job id>/manifest.json        written last: a set without it is incomplete
 *
 * The backup set id is the `<UTC timestamp>-<job id>` folder name; it sorts by time.
 */

export const MANIFEST_FILE = "manifest.json";
export const INVENTORY_FILE = "inventory.json";
export const MANIFEST_FORMAT = "kvbackup/manifest@1";
export const INVENTORY_FORMAT = "kvbackup/inventory@1";

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const BACKUP_SET_ID = /^(\d{8}T\d{6}Z)-([A-Za-z0-9][A-Za-z0-9-]{0,63})$/;
const VAULT_FOLDER = /^[a-z0-9][a-z0-9.-]{0,252}(_\d{1,5})?$/;

export function isValidJobId(jobId: string): boolean {
  return JOB_ID.test(jobId);
}

/** The folder that holds all sets of one vault: its host, with the port (if any) after an underscore so it is a valid file name everywhere. */
export function vaultFolder(vaultUrl: string): string {
  const url = new URL(vaultUrl);
  const host = url.hostname.toLowerCase();
  return url.port ? `${host}_${url.port}` : host;
}

/** `20261125T224500Z` from an ISO time. */
export function compactTimestamp(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new Error(`invalid timestamp: ${iso}`);
  return date.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
}

export function makeBackupSetId(startedAt: string, jobId: string): string {
  if (!isValidJobId(jobId)) throw new Error(`invalid job id: ${jobId}`);
  return `${compactTimestamp(startedAt)}-${jobId}`;
}

export interface ParsedBackupSetRef {
  /** The vault folder when the reference names one (`<vault folder>/<id>`). */
  readonly vaultFolder?: string;
  readonly backupSetId: string;
  readonly timestamp: string;
  readonly jobId: string;
}

/** Accepts `<id>` or `<vault folder>/<id>`; anything else (path tricks included) is refused. */
export function parseBackupSetRef(ref: string): ParsedBackupSetRef {
  const parts = ref.split("/");
  if (parts.length > 2) throw new InvalidBackupSetIdError(ref);
  const [folder, id] = parts.length === 2 ? [parts[0], parts[1]] : [undefined, parts[0]];
  if (folder !== undefined && !VAULT_FOLDER.test(folder)) throw new InvalidBackupSetIdError(ref);
  const match = BACKUP_SET_ID.exec(id ?? "");
  if (!match) throw new InvalidBackupSetIdError(ref);
  return { vaultFolder: folder, backupSetId: id!, timestamp: match[1]!, jobId: match[2]! };
}

export function isVaultFolderName(name: string): boolean {
  return VAULT_FOLDER.test(name);
}

export function isBackupSetFolderName(name: string): boolean {
  return BACKUP_SET_ID.test(name);
}

export class BackupSetPaths {
  readonly root: string;
  constructor(readonly vaultFolderName: string, readonly backupSetId: string) {
    this.root = `${vaultFolderName}/${backupSetId}`;
  }
  get manifest(): string {
    return `${this.root}/${MANIFEST_FILE}`;
  }
  get inventory(): string {
    return `${this.root}/${INVENTORY_FILE}`;
  }
  keyBlob(keyName: string): string {
    return `${this.root}/keys/${keyName}.keybackup`;
  }
  batch(batchIndex: number): string {
    return `${this.root}/batches/${String(batchIndex).padStart(6, "0")}.json`;
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// ---------------------------------------------------------------- documents

const KEY_NAME_FIELD = z.string().regex(KEY_NAME);

export const inventoryEntrySchema = z.object({
  name: KEY_NAME_FIELD,
  /** Backs a certificate: the service refuses its backup as a key. */
  managed: z.boolean(),
  updatedOn: z.string().optional(),
  /**
   * The key's versions, when the inventory already listed them (it does for some keys, with budget the
   * key listing leaves unused); the batch lists them itself otherwise. Listed before the backup either way.
   */
  versions: z.array(z.object({ version: z.string(), createdOn: z.string().optional(), updatedOn: z.string().optional() })).optional(),
  /**
   * Without version details: the key's backup when the inventory already took it (with the same idle
   * budget) and stored it at its blob path; the batch records it without asking the vault again.
   */
  backup: z
    .object({
      size: z.number().int().positive(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      /** When the vault served the backup (its Date header). */
      backedUpAt: z.string().optional(),
      /** The blob was already there when this inventory wrote it (an earlier or duplicate attempt of it). */
      reused: z.literal(true).optional(),
    })
    .optional(),
  /** Without version details: the key's blob was in the set before this listing (an earlier attempt of the inventory wrote it). */
  earlierBlob: z.literal(true).optional(),
});
export type InventoryEntry = z.infer<typeof inventoryEntrySchema>;

export const inventorySchema = z.object({
  format: z.literal(INVENTORY_FORMAT),
  jobId: z.string(),
  backupSetId: z.string(),
  vaultUrl: z.string(),
  startedAt: z.string(),
  include: z.array(z.string()),
  exclude: z.array(z.string()),
  batchSize: z.number().int().positive(),
  /** false: the batches back up without listing versions (one vault operation per key). Absent = true. */
  versionDetails: z.boolean().optional(),
  /** Sorted by name; batch i backs up `toBackUp[i*batchSize … (i+1)*batchSize)`. */
  toBackUp: z.array(inventoryEntrySchema),
  skipped: z.array(z.object({ name: KEY_NAME_FIELD, reason: z.string() })),
});
export type Inventory = z.infer<typeof inventorySchema>;

export const keyResultSchema = z.discriminatedUnion("result", [
  z.object({
    name: KEY_NAME_FIELD,
    result: z.literal("succeeded"),
    /** Absent when the set was taken without version details (the manifest's versionDetails is false). */
    versionCount: z.number().int().nonnegative().optional(),
    latestVersion: z.string().optional(),
    /** The latest version's update time: from its version listing, or from the key list without version details. */
    updatedOn: z.string().optional(),
    /**
     * Without version details: when the vault served the backup (its Date header, the vault's clock).
     * The key's state in the blob was last updated between updatedOn and this time.
     */
    backedUpAt: z.string().optional(),
    blobPath: z.string(),
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.object({ name: KEY_NAME_FIELD, result: z.literal("failed"), reason: z.string() }),
  z.object({ name: KEY_NAME_FIELD, result: z.literal("skipped"), reason: z.string() }),
]);
export type KeyResult = z.infer<typeof keyResultSchema>;
export type SucceededKeyResult = Extract<KeyResult, { result: "succeeded" }>;

export const batchRecordSchema = z.object({
  batchIndex: z.number().int().nonnegative(),
  keys: z.array(keyResultSchema),
});
export type BatchRecord = z.infer<typeof batchRecordSchema>;

export const manifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  jobId: z.string(),
  backupSetId: z.string(),
  vaultUrl: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  include: z.array(z.string()),
  exclude: z.array(z.string()),
  state: z.enum(["complete", "partial"]),
  /** Whether keys carry versionCount and latestVersion. Absent = true. */
  versionDetails: z.boolean().optional(),
  counts: z.object({
    total: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    skipped: z.number().int(),
    versions: z.number().int(),
    bytes: z.number().int(),
  }),
  keys: z.array(keyResultSchema),
}).superRefine((manifest, ctx) => {
  // A set with version details records them for every key it backed up: a key without them would be
  // restored with the weaker checks of a set without.
  if (manifest.versionDetails === false) return;
  const index = manifest.keys.findIndex((k) => k.result === "succeeded" && (k.versionCount === undefined || k.latestVersion === undefined));
  if (index >= 0) ctx.addIssue({ code: "custom", path: ["keys", index], message: "lacks versionCount or latestVersion in a set with version details" });
});
export type Manifest = z.infer<typeof manifestSchema>;

export function parseDocument<T>(schema: z.ZodType<T>, path: string, bytes: Buffer): T {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new DamagedBackupDocumentError(path, "not valid JSON", { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DamagedBackupDocumentError(path, `${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`);
  }
  return parsed.data;
}

/**
 * A manifest belongs where it is stored: its vault is the one its folder is named after, its set id is
 * the folder's, each blob it names is that key's blob in this set, and no key is listed twice.
 * A manifest copied in from another vault or set, or edited by hand, is refused as a whole rather than
 * trusted: it decides which vault a restore writes to and which bytes are sent there.
 */
export function manifestPlacementProblem(manifest: Manifest, paths: BackupSetPaths): string | undefined {
  let folder: string | undefined;
  try {
    folder = /^https:\/\//i.test(manifest.vaultUrl) ? vaultFolder(manifest.vaultUrl) : undefined;
  } catch {
    folder = undefined;
  }
  if (folder === undefined) return "its vaultUrl is not an https URL";
  if (folder !== paths.vaultFolderName) return `it names vault ${folder} but is stored in the folder of ${paths.vaultFolderName} (copied from another vault?)`;
  if (manifest.backupSetId !== paths.backupSetId) return `it names backup set ${truncate(manifest.backupSetId)} but is stored in ${paths.backupSetId}`;
  const seen = new Set<string>();
  for (const key of manifest.keys) {
    const lower = key.name.toLowerCase();
    if (seen.has(lower)) return `key ${key.name} is listed twice`;
    seen.add(lower);
    if (key.result === "succeeded" && key.blobPath !== paths.keyBlob(key.name)) return `the blob path of key ${key.name} is not ${paths.keyBlob(key.name)}`;
  }
  return undefined;
}

export function encodeDocument(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 1) + "\n", "utf8");
}

export function manifestState(counts: { failed: number }): Exclude<BackupSetState, "incomplete"> {
  return counts.failed > 0 ? "partial" : "complete";
}
