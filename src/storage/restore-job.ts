import { z } from "zod";
import { KEY_NAME } from "../names";
import { BackupSetPaths, isValidJobId } from "./backup-set";

/**
 * The documents of one restore job, next to the backup set it restores, each written once:
 *
 *   <set folder>/restores/<UTC start>-<job id>/plan.json            which keys to restore (in batch order), which are taken, missing or damaged
 *   <set folder>/restores/<UTC start>-<job id>/batches/<index>.json each key's result in one batch
 *   <set folder>/restores/<UTC start>-<job id>/report.json          every key's result, written last
 *
 * They hold what the job learns key by key, so that orchestration history carries counts only. A resumed
 * or retried job finds them and goes on from them; a set deleted by retention takes them along. The set's
 * own documents and blobs are never touched by a restore.
 */

export const RESTORE_PLAN_FORMAT = "kvbackup/restore-plan@1";
export const RESTORE_BATCH_FORMAT = "kvbackup/restore-batch@1";
export const RESTORE_REPORT_FORMAT = "kvbackup/restore-report@1";

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

const KEY_NAME_FIELD = z.string().regex(KEY_NAME);
const keyIssueSchema = z.object({ name: KEY_NAME_FIELD, reason: z.string() });

export const restorePlanDocumentSchema = z.object({
  format: z.literal(RESTORE_PLAN_FORMAT),
  jobId: z.string(),
  /** `<vault folder>/<backup set id>`. */
  backupSetId: z.string(),
  sourceVaultUrl: z.string(),
  targetVaultUrl: z.string(),
  createdAt: z.string(),
  include: z.array(z.string()),
  exclude: z.array(z.string()),
  /** Every blob was read and checked against the manifest (a dry run); otherwise the batches check each before sending it. */
  blobsVerified: z.boolean(),
  batchSize: z.number().int().positive(),
  /** Names free in the target, in batch order: batch i restores toRestore[i*batchSize … (i+1)*batchSize). */
  toRestore: z.array(KEY_NAME_FIELD),
  alreadyPresent: z.array(KEY_NAME_FIELD),
  softDeleted: z.array(KEY_NAME_FIELD),
  missingOrDamaged: z.array(keyIssueSchema),
  skippedAtBackup: z.array(keyIssueSchema),
});
export type RestorePlanDocument = z.infer<typeof restorePlanDocumentSchema>;

export const restoreKeyResultSchema = z.object({
  name: KEY_NAME_FIELD,
  /** alreadyInTarget: the target holds the key exactly as backed up, restored by an earlier attempt of this job. */
  result: z.enum(["restored", "alreadyInTarget", "skipped", "failed"]),
  reason: z.string().optional(),
  /** The name was still being deleted, recovered or purged in the target, and the batch waited for it. */
  settled: z.object({ state: z.enum(["deleting", "recovering", "purging"]), waits: z.number().int().nonnegative(), waitedMs: z.number().nonnegative() }).optional(),
});
export type RestoreKeyResult = z.infer<typeof restoreKeyResultSchema>;

export const restoreBatchRecordSchema = z.object({
  format: z.literal(RESTORE_BATCH_FORMAT),
  batchIndex: z.number().int().nonnegative(),
  keys: z.array(restoreKeyResultSchema),
});
export type RestoreBatchRecord = z.infer<typeof restoreBatchRecordSchema>;

export const waitedForNamesSchema = z.object({
  deleting: z.number().int().nonnegative(),
  recovering: z.number().int().nonnegative(),
  purging: z.number().int().nonnegative(),
  /** Summed over those names. */
  waitedMs: z.number().nonnegative(),
});

export const restoreReportSchema = z
  .object({
    format: z.literal(RESTORE_REPORT_FORMAT),
    jobId: z.string(),
    backupSetId: z.string(),
    sourceVaultUrl: z.string(),
    targetVaultUrl: z.string(),
    dryRun: z.boolean(),
    startedAt: z.string(),
    endedAt: z.string(),
    keys: z.object({ total: z.number().int(), succeeded: z.number().int(), failed: z.number().int(), skipped: z.number().int() }),
    /** Restored (or found restored by an earlier attempt); for a dry run, the keys it would restore. */
    succeeded: z.array(KEY_NAME_FIELD),
    skipped: z.array(keyIssueSchema),
    failed: z.array(keyIssueSchema),
    /** Names the restore had to wait for (still being deleted, recovered or purged in the target); absent when none. */
    waitedForNames: waitedForNamesSchema.optional(),
  })
  .refine((r) => r.keys.total === r.keys.succeeded + r.keys.failed + r.keys.skipped, { message: "total is not succeeded + failed + skipped" })
  .refine((r) => r.succeeded.length === r.keys.succeeded && r.skipped.length === r.keys.skipped && r.failed.length === r.keys.failed, {
    message: "the lists do not match the counts",
  });
export type RestoreReport = z.infer<typeof restoreReportSchema>;
