import { z } from "zod";
import { OBJECT_KINDS } from "../contracts";
import { KEY_NAME } from "../names";
import { BackupSetPaths, isValidJobId } from "./backup-set";

/**
 * The documents of one restore job, next to the backup set it restores, each written once:
 *
 *   <set folder>/restores/<UTC start>-<job id>/plan.json            which objects to restore (in batch order), which are taken, missing or damaged
 *   <set folder>/restores/<UTC start>-<job id>/batches/<index>.json each object's result in one batch
 *   <set folder>/restores/<UTC start>-<job id>/report.json          every object's result, written last
 *
 * They hold what the job learns object by object, so that orchestration history carries counts only. A
 * resumed or retried job finds them and goes on from them; a set deleted by retention takes them along. The
 * set's own documents and blobs are never touched by a restore. Documents of format 1 (keys only, names
 * as strings: a job in flight when kvbackup was upgraded) are read as keys.
 */

export const RESTORE_PLAN_FORMAT = "kvbackup/restore-plan@2";
export const RESTORE_BATCH_FORMAT = "kvbackup/restore-batch@2";
export const RESTORE_REPORT_FORMAT = "kvbackup/restore-report@2";
const FORMAT_1 = { plan: "kvbackup/restore-plan@1", batch: "kvbackup/restore-batch@1", report: "kvbackup/restore-report@1" } as const;

export class RestoreJobPaths {
  readonly root: string;
  /** `startedAt`: when the job started (orchestration clock); a job id given again to a new job gets a folder of its own. */
  constructor(readonly set: BackupSetPaths, readonly jobId: string, startedAt: string) {
    if (!isValidJobId(jobId)) throw new Error(`invalid job id for a restore's documents: ${jobId.slice(0, 80)}`);
    this.root = `${set.root}/restores/${startFolderTime(startedAt)}-${jobId}`;
  }
  get plan(): string {
    return `${this.root}/plan.json`;
  }
  batch(batchIndex: number): string {
    return `${this.root}/batches/${String(batchIndex).padStart(6, "0")}.json`;
  }
  get report(): string {
    return `${this.root}/report.json`;
  }
}

/** `20261203T184512123Z`: to the millisecond, so two jobs under one id started within a second still part. */
function startFolderTime(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) throw new Error(`invalid start time for a restore's documents: ${iso.slice(0, 40)}`);
  return date.toISOString().replace(/[-:.]/g, "");
}

const NAME_FIELD = z.string().regex(KEY_NAME);
/** A name of format 1 is a key's. */
const asKey = (value: unknown) => (typeof value === "string" ? { kind: "key", name: value } : value);
const objectRefSchema = z.preprocess(asKey, z.object({ kind: z.enum(OBJECT_KINDS), name: NAME_FIELD }));
const objectIssueSchema = z.object({ kind: z.enum(OBJECT_KINDS).default("key"), name: NAME_FIELD, reason: z.string() });
/** A name taken in the target, and by what (format 1 knew keys only). */
const takenSchema = (format1Reason: string) =>
  z.preprocess((value) => (typeof value === "string" ? { kind: "key", name: value, reason: format1Reason } : value), objectIssueSchema);
export type ObjectRef = z.infer<typeof objectRefSchema>;
export type ObjectIssueRecord = z.infer<typeof objectIssueSchema>;

export const restorePlanDocumentSchema = z.object({
  format: z.enum([RESTORE_PLAN_FORMAT, FORMAT_1.plan]),
  jobId: z.string(),
  /** `<vault folder>/<backup set id>`. */
  backupSetId: z.string(),
  sourceVaultUrl: z.string(),
  targetVaultUrl: z.string(),
  createdAt: z.string(),
  /** The kinds asked for (absent: every kind of the set). */
  kinds: z.array(z.enum(OBJECT_KINDS)).optional(),
  include: z.array(z.string()),
  exclude: z.array(z.string()),
  /** Every blob was read and checked against the manifest (a dry run); otherwise the batches check each before sending it. */
  blobsVerified: z.boolean(),
  batchSize: z.number().int().positive(),
  /** Objects free in the target, in batch order (kind order, certificates first): batch i restores toRestore[i*batchSize … (i+1)*batchSize). */
  toRestore: z.array(objectRefSchema),
  alreadyPresent: z.array(takenSchema("a key of that name already exists in the target vault")),
  softDeleted: z.array(takenSchema("a soft-deleted key of that name is in the target vault (recover or purge it first)")),
  missingOrDamaged: z.array(objectIssueSchema),
  skippedAtBackup: z.array(objectIssueSchema),
  /** A certificate's key or secret whose certificate is in toRestore: it ends as its certificate does. */
  withCertificate: z.array(objectRefSchema).default([]),
});
export type RestorePlanDocument = z.infer<typeof restorePlanDocumentSchema>;

export const restoreObjectResultSchema = z.object({
  kind: z.enum(OBJECT_KINDS).default("key"),
  name: NAME_FIELD,
  /** alreadyInTarget: the target holds the object exactly as backed up, restored by an earlier attempt of this job. */
  result: z.enum(["restored", "alreadyInTarget", "skipped", "failed"]),
  reason: z.string().optional(),
  /** The name was still being deleted, recovered or purged in the target, and the batch waited for it. */
  settled: z.object({ state: z.enum(["deleting", "recovering", "purging"]), waits: z.number().int().nonnegative(), waitedMs: z.number().nonnegative() }).optional(),
});
export type RestoreObjectResult = z.infer<typeof restoreObjectResultSchema>;

/** Records of format 1 listed `keys`. */
function renamedKeys(value: unknown): unknown {
  if (value && typeof value === "object" && "keys" in value && !("objects" in value)) {
    const { keys, ...rest } = value as { keys: unknown };
    return { ...rest, objects: keys };
  }
  return value;
}

export const restoreBatchRecordSchema = z.preprocess(
  renamedKeys,
  z.object({
    format: z.enum([RESTORE_BATCH_FORMAT, FORMAT_1.batch]),
    batchIndex: z.number().int().nonnegative(),
    objects: z.array(restoreObjectResultSchema),
  }),
);
export type RestoreBatchRecord = z.infer<typeof restoreBatchRecordSchema>;

export const waitedForNamesSchema = z.object({
  deleting: z.number().int().nonnegative(),
  recovering: z.number().int().nonnegative(),
  purging: z.number().int().nonnegative(),
  /** Summed over those names. */
  waitedMs: z.number().nonnegative(),
});

const countsSchema = z.object({ total: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), skipped: z.number().int() });
const noCounts = { total: 0, succeeded: 0, failed: 0, skipped: 0 };

/** A report of format 1 counted `keys` only. */
function reportCounts(value: unknown): unknown {
  if (value && typeof value === "object" && "keys" in value && !("objects" in value)) {
    const { keys, ...rest } = value as { keys: unknown };
    return { ...rest, objects: keys, byKind: { keys, secrets: noCounts, certificates: noCounts } };
  }
  return value;
}

export const restoreReportSchema = z.preprocess(
  reportCounts,
  z
    .object({
      format: z.enum([RESTORE_REPORT_FORMAT, FORMAT_1.report]),
      jobId: z.string(),
      backupSetId: z.string(),
      sourceVaultUrl: z.string(),
      targetVaultUrl: z.string(),
      dryRun: z.boolean(),
      startedAt: z.string(),
      endedAt: z.string(),
      objects: countsSchema,
      byKind: z.object({ keys: countsSchema, secrets: countsSchema, certificates: countsSchema }),
      /** Restored (or found restored by an earlier attempt); for a dry run, the objects it would restore. */
      succeeded: z.array(objectRefSchema),
      skipped: z.array(objectIssueSchema),
      failed: z.array(objectIssueSchema),
      /** Names the restore had to wait for (still being deleted, recovered or purged in the target); absent when none. */
      waitedForNames: waitedForNamesSchema.optional(),
    })
    .refine((r) => r.objects.total === r.objects.succeeded + r.objects.failed + r.objects.skipped, { message: "total is not succeeded + failed + skipped" })
    .refine((r) => r.succeeded.length === r.objects.succeeded && r.skipped.length === r.objects.skipped && r.failed.length === r.objects.failed, {
      message: "the lists do not match the counts",
    }),
);
export type RestoreReport = z.infer<typeof restoreReportSchema>;
