import { createHash } from "node:crypto";
import { z } from "zod";
import { KEY_NAME } from "../names";
import { KIND_PLURALS, OBJECT_KINDS, type BackupSetState, type CountsByKind, type KindPlural, type ObjectCounts, type ObjectKind } from "../contracts";
import { DamagedBackupDocumentError, InvalidBackupSetIdError, truncate } from "./errors";

/**
 * The layout of one backup set, the same in a container and in a folder:
 *
 *   <vault folder>/<UTC timestamp>-<job id>/inventory.json                       objects to back up, written first
 *   <vault folder>/<UTC timestamp>-<job id>/keys/<name>.keybackup                 Key Vault's own backup blob, byte for byte
 *   <vault folder>/<UTC timestamp>-<job id>/secrets/<name>.secretbackup           (the same, for a secret)
 *   <vault folder>/<UTC timestamp>-<job id>/certificates/<name>.certificatebackup (the same, for a certificate)
 *   <vault folder>/<UTC timestamp>-<job id>/batches/<index>.json                  per-object results of one batch
 *   <vault folder>/<UTC timestamp>-<job id>/manifest.json                         written last: a set without it is incomplete
 *
 * One folder per kind, because names are unique within a kind only (a key and a secret may share one).
 * Keys keep the layout of format 1, so the blobs of every set ever written stay where their manifest
 * says. The backup set id is the `<UTC timestamp>-<job id>` folder name; it sorts by time.
 *
 * Formats: manifest@2 lists `objects` (each with its `kind`) and counts by kind; manifest@1 (keys only,
 * a `keys` array) is still read, as a set of keys. Inventories and batch records of format 1 (a job in
 * flight when kvbackup was upgraded) are read the same way.
 */

export const MANIFEST_FILE = "manifest.json";
export const INVENTORY_FILE = "inventory.json";
export const MANIFEST_FORMAT = "kvbackup/manifest@2";
export const MANIFEST_FORMAT_1 = "kvbackup/manifest@1";
export const INVENTORY_FORMAT = "kvbackup/inventory@2";
export const INVENTORY_FORMAT_1 = "kvbackup/inventory@1";

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
  /** Where the backup of one object goes: `<kinds>/<name>.<kind>backup`. */
  blob(kind: ObjectKind, name: string): string {
    return `${this.root}/${KIND_PLURALS[kind]}/${name}.${kind}backup`;
  }
  /** The folder of one kind's blobs. */
  kindFolder(kind: ObjectKind): string {
    return `${this.root}/${KIND_PLURALS[kind]}/`;
  }
  batch(batchIndex: number): string {
    return `${this.root}/batches/${String(batchIndex).padStart(6, "0")}.json`;
  }
}

export function sha256Hex(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

// ---------------------------------------------------------------- documents

const NAME_FIELD = z.string().regex(KEY_NAME);
/** Records of format 1 name no kind: they are keys. */
const KIND_FIELD = z.enum(OBJECT_KINDS).default("key");
const KINDS_FIELD = z.array(z.enum(OBJECT_KINDS)).default(["key"]);

/** `kind/name`: objects are told apart by both (a key and a secret may share a name). */
export function objectId(kind: ObjectKind, name: string): string {
  return `${kind}/${name.toLowerCase()}`;
}

/** Kind order (OBJECT_KINDS), then name (case-insensitive, as Key Vault compares names). */
export function compareObjects(a: { kind: ObjectKind; name: string }, b: { kind: ObjectKind; name: string }): number {
  const k = OBJECT_KINDS.indexOf(a.kind) - OBJECT_KINDS.indexOf(b.kind);
  if (k !== 0) return k;
  const x = a.name.toLowerCase(), y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

export const inventoryEntrySchema = z.object({
  kind: KIND_FIELD,
  name: NAME_FIELD,
  /** Format 1 only (always false there): a certificate's keys are listed in withCertificate or skipped now. */
  managed: z.boolean().optional(),
  updatedOn: z.string().optional(),
  /**
   * The object's versions, when the inventory already listed them (it does for some objects, with budget
   * the listing leaves unused); the batch lists them itself otherwise. Listed before the backup either way.
   */
  versions: z.array(z.object({ version: z.string(), createdOn: z.string().optional(), updatedOn: z.string().optional() })).optional(),
  /**
   * Without version details: the object's backup when the inventory already took it (with the same idle
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
  /** Without version details: the object's blob was in the set before this listing (an earlier attempt of the inventory wrote it). */
  earlierBlob: z.literal(true).optional(),
});
export type InventoryEntry = z.infer<typeof inventoryEntrySchema>;

const objectIssueSchema = z.object({ kind: KIND_FIELD, name: NAME_FIELD, reason: z.string() });
const objectRefSchema = z.object({ kind: z.enum(OBJECT_KINDS), name: NAME_FIELD });

export const inventorySchema = z.object({
  format: z.enum([INVENTORY_FORMAT, INVENTORY_FORMAT_1]),
  jobId: z.string(),
  backupSetId: z.string(),
  vaultUrl: z.string(),
  startedAt: z.string(),
  /** The kinds the job backs up. */
  kinds: KINDS_FIELD,
  include: z.array(z.string()),
  exclude: z.array(z.string()),
  batchSize: z.number().int().positive(),
  /** false: the batches back up without listing versions (one vault operation per object). Absent = true. */
  versionDetails: z.boolean().optional(),
  /** In kind order, then by name (compareObjects); batch i backs up `toBackUp[i*batchSize … (i+1)*batchSize)`. */
  toBackUp: z.array(inventoryEntrySchema),
  /** Settled by the inventory, in the same order. */
  skipped: z.array(objectIssueSchema),
  /** A certificate's key and secret, when the certificate is in toBackUp: its backup holds them (same order). */
  withCertificate: z.array(objectRefSchema).default([]),
});
export type Inventory = z.infer<typeof inventorySchema>;

export const objectResultSchema = z.discriminatedUnion("result", [
  z.object({
    kind: KIND_FIELD,
    name: NAME_FIELD,
    result: z.literal("succeeded"),
    /** Absent when the set was taken without version details (the manifest's versionDetails is false). */
    versionCount: z.number().int().nonnegative().optional(),
    latestVersion: z.string().optional(),
    /** The latest version's update time: from its version listing, or from the object list without version details. */
    updatedOn: z.string().optional(),
    /**
     * Without version details: when the vault served the backup (its Date header, the vault's clock).
     * The object's state in the blob was last updated between updatedOn and this time.
     */
    backedUpAt: z.string().optional(),
    /**
     * The object got a new version between the inventory's listing and its backup (a rotation while the
     * job ran): the update time the listing gave, and the latest version the backup holds (latestVersion).
     */
    rotatedDuringBackup: z.object({ listedUpdatedOn: z.string() }).optional(),
    blobPath: z.string(),
    size: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }),
  z.object({ kind: KIND_FIELD, name: NAME_FIELD, result: z.literal("failed"), reason: z.string() }),
  z.object({ kind: KIND_FIELD, name: NAME_FIELD, result: z.literal("skipped"), reason: z.string() }),
  /** A certificate's key or secret: in the backup of the certificate of the same name (which succeeded). */
  z.object({ kind: KIND_FIELD, name: NAME_FIELD, result: z.literal("withCertificate") }),
]);
export type ObjectResult = z.infer<typeof objectResultSchema>;
export type SucceededObjectResult = Extract<ObjectResult, { result: "succeeded" }>;

/** Records of format 1 listed `keys`. */
function renamedKeys(value: unknown): unknown {
  if (value && typeof value === "object" && "keys" in value && !("objects" in value)) {
    const { keys, ...rest } = value as { keys: unknown };
    return { ...rest, objects: keys };
  }
  return value;
}

export const batchRecordSchema = z.preprocess(
  renamedKeys,
  z.object({
    batchIndex: z.number().int().nonnegative(),
    objects: z.array(objectResultSchema),
  }),
);
export type BatchRecord = z.infer<typeof batchRecordSchema>;

const countFields = {
  total: z.number().int(),
  succeeded: z.number().int(),
  failed: z.number().int(),
  skipped: z.number().int(),
  versions: z.number().int(),
  bytes: z.number().int(),
};
const countsSchema = z.object(countFields);
export type ManifestCounts = z.infer<typeof countsSchema>;
export type ManifestCountsByKind = { [P in KindPlural]: ManifestCounts };

const manifestHeader = {
  jobId: z.string(),
  backupSetId: z.string(),
  vaultUrl: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  include: z.array(z.string()),
  exclude: z.array(z.string()),
  state: z.enum(["complete", "partial"]),
  /** Whether objects carry versionCount and latestVersion. Absent = true. */
  versionDetails: z.boolean().optional(),
};

const manifest2Schema = z.object({
  format: z.literal(MANIFEST_FORMAT),
  ...manifestHeader,
  /** The kinds the job backed up (a kind not listed was not looked at). */
  kinds: z.array(z.enum(OBJECT_KINDS)),
  counts: z.object({
    ...countFields,
    byKind: z.object({ keys: countsSchema, secrets: countsSchema, certificates: countsSchema }),
  }),
  objects: z.array(objectResultSchema),
});

const manifest1Schema = z.object({
  format: z.literal(MANIFEST_FORMAT_1),
  ...manifestHeader,
  counts: countsSchema,
  keys: z.array(objectResultSchema),
});

export function emptyManifestCounts(): ManifestCounts {
  return { total: 0, succeeded: 0, failed: 0, skipped: 0, versions: 0, bytes: 0 };
}

/**
 * A manifest of either format, read as format 2: a format-1 set is a set of keys (its blobs are where
 * format 2 puts keys), counted as keys.
 */
export const manifestSchema = z
  .discriminatedUnion("format", [manifest2Schema, manifest1Schema])
  .transform((m): z.infer<typeof manifest2Schema> => {
    if (m.format === MANIFEST_FORMAT) return m;
    const { keys, format: _format, counts, ...header } = m;
    return {
      format: MANIFEST_FORMAT,
      ...header,
      kinds: ["key"],
      counts: { ...counts, byKind: { keys: counts, secrets: emptyManifestCounts(), certificates: emptyManifestCounts() } },
      objects: keys,
    };
  })
  .superRefine((manifest, ctx) => {
    // A set with version details records them for every object it backed up: an object without them
    // would be restored with the weaker checks of a set without.
    if (manifest.versionDetails === false) return;
    const index = manifest.objects.findIndex((k) => k.result === "succeeded" && (k.versionCount === undefined || k.latestVersion === undefined));
    if (index >= 0) ctx.addIssue({ code: "custom", path: ["objects", index], message: "lacks versionCount or latestVersion in a set with version details" });
  });
export type Manifest = z.output<typeof manifestSchema>;

/** The counts of a manifest as the summaries give them: every object, the keys alone, and each kind. */
export function countsOfManifest(manifest: Pick<Manifest, "counts">): { objects: ObjectCounts; keys: ObjectCounts; kinds: CountsByKind } {
  const only = (c: ManifestCounts): ObjectCounts => ({ total: c.total, succeeded: c.succeeded, failed: c.failed, skipped: c.skipped });
  const by = manifest.counts.byKind;
  return { objects: only(manifest.counts), keys: only(by.keys), kinds: { keys: only(by.keys), secrets: only(by.secrets), certificates: only(by.certificates) } };
}

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
 * the folder's, each blob it names is that object's blob in this set, and no object is listed twice.
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
  for (const object of manifest.objects) {
    const id = objectId(object.kind, object.name);
    if (seen.has(id)) return `${object.kind} ${object.name} is listed twice`;
    seen.add(id);
    const blob = paths.blob(object.kind, object.name);
    if (object.result === "succeeded" && object.blobPath !== blob) return `the blob path of ${object.kind} ${object.name} is not ${blob}`;
  }
  return undefined;
}

export function encodeDocument(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value, null, 1) + "\n", "utf8");
}

export function manifestState(counts: { failed: number }): Exclude<BackupSetState, "incomplete"> {
  return counts.failed > 0 ? "partial" : "complete";
}
