import {
  type Activities,
  type KeyIssue,
  type PlanRestoreInput,
  type RestoreBatchResult,
  type RestoreKeyBatchInput,
  type RestorePlan,
  type RestoreSummary,
  type WriteRestoreReportInput,
} from "../src/contracts";
import { createNameFilter } from "../src/filters";
import { toKeyVaultError } from "../src/keyvault/errors";
import type { KeyClientFactory } from "../src/keyvault/clients";
import { settleChallenge } from "../src/keyvault/challenge";
import { DEFAULT_SETTLING_POLICY } from "../src/retry-policies";
import type { BackupStore } from "../src/storage/backup-store";
import { encodeDocument, parseDocument, type BackupSetPaths, type Manifest, type SucceededKeyResult } from "../src/storage/backup-set";
import {
  RESTORE_BATCH_FORMAT,
  RESTORE_PLAN_FORMAT,
  RESTORE_REPORT_FORMAT,
  RestoreJobPaths,
  restoreBatchRecordSchema,
  restorePlanDocumentSchema,
  restoreReportSchema,
  type RestoreBatchRecord,
  type RestoreKeyResult,
  type RestorePlanDocument,
  type RestoreReport,
} from "../src/storage/restore-job";
import { mapWithConcurrency } from "../src/util/pool";
import { BackupSetReader } from "../src/storage/backup-set-reader";
import type { ActivityInvocation, ActivityLogger } from "./logging";
import { ALREADY_EXISTS_REASON, SOFT_DELETED_REASON, readVerified, restoreOneKey, type KeyRestoreContext } from "./restore/key-restore";
import { byName, countRestoreBatch, summarizePlan, summarizeReport } from "./restore/summaries";

export interface VaultRestoreActivityDeps {
  readonly keyClients: KeyClientFactory;
  readonly store: BackupStore;
  readonly reader?: BackupSetReader;
  /** Used when an invocation brings no logger of its own. */
  readonly log?: ActivityLogger;
  /** First wait before retrying a name still being purged, deleted or recovered (then backoff, see settling.ts). */
  readonly purgeSettleDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}


/** The activities of a vault restore, as their contracts (src/contracts.ts) name them. */
export type VaultRestoreActivities = Pick<Activities<ActivityInvocation>, "planRestore" | "restoreKeyBatch" | "writeRestoreReport">;

export function createVaultRestoreActivities(deps: VaultRestoreActivityDeps): VaultRestoreActivities {
  const { keyClients, store } = deps;
  const reader = deps.reader ?? new BackupSetReader(store);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const settlingPolicy = { ...DEFAULT_SETTLING_POLICY, ...(deps.purgeSettleDelayMs !== undefined ? { firstDelayMs: deps.purgeSettleDelayMs } : {}) };
  const keyRestore: KeyRestoreContext = { store, sleep, settlingPolicy };
  /** Each manifest's restorable keys by name, built once per manifest the reader keeps. */
  const restorableByName = new WeakMap<Manifest, Map<string, SucceededKeyResult>>();

  /** The keys of the set that a restore with these filters works on, in manifest order. */
  function selection(manifest: Manifest, include: readonly string[], exclude: readonly string[]) {
    const accept = createNameFilter(include, exclude);
    const selected = manifest.keys.filter((k) => accept(k.name));
    const restorable = selected.filter((k): k is SucceededKeyResult => k.result === "succeeded");
    // A key that failed at backup time is a hole in the set; one skipped on purpose (certificate-backed,
    // deleted mid-backup) never had a key backup to restore, and is reported as skipped again.
    const unusable: KeyIssue[] = selected
      .filter((k) => k.result === "failed")
      .map((k) => ({ name: k.name, reason: `not in the backup set: ${"reason" in k ? k.reason : "no backup"}` }));
    const skippedAtBackup: KeyIssue[] = selected
      .filter((k) => k.result === "skipped")
      .map((k) => ({ name: k.name, reason: `skipped at backup time: ${"reason" in k ? k.reason : "not backed up"}` }));
    return { selected, restorable, unusable, skippedAtBackup };
  }

  function restorableKey(manifest: Manifest, name: string): SucceededKeyResult | undefined {
    let byName = restorableByName.get(manifest);
    if (!byName) {
      byName = new Map();
      for (const k of manifest.keys) if (k.result === "succeeded") byName.set(k.name, k);
      restorableByName.set(manifest, byName);
    }
    return byName.get(name);
  }

  async function jobPathsFor(backupSetId: string, jobId: string, startedAt: string): Promise<{ paths: BackupSetPaths; job: RestoreJobPaths }> {
    const paths = await reader.locate(backupSetId);
    return { paths, job: new RestoreJobPaths(paths, jobId, startedAt) };
  }

  /**
   * Works out what the restore does, name by name, into the job's plan document (written once: a retried
   * or resumed job goes on with the plan it made), and returns the counts.
   */
  async function planRestore(input: PlanRestoreInput): Promise<RestorePlan> {
    const { paths, job } = await jobPathsFor(input.backupSetId, input.jobId, input.startedAt);
    const manifest = await reader.manifest(paths);
    if (await store.exists(job.plan)) return summarizePlan(await reader.document(job.plan, restorePlanDocumentSchema), job);

    const targetVaultUrl = input.targetVaultUrl ?? manifest.vaultUrl;
    const { restorable, unusable, skippedAtBackup } = selection(manifest, input.include, input.exclude);
    const client = keyClients(targetVaultUrl);

    // Two listings instead of a GET per key: 1 request per 25 keys against the throttle budget.
    const [present, deleted] = await Promise.all([listNames(() => client.listPropertiesOfKeys()), listNames(() => client.listDeletedKeys())]);

    const missingOrDamaged = [...unusable];
    let usable = restorable;
    if (input.verifyBlobs) {
      const checks = await mapWithConcurrency(restorable, 16, async (key) => checkBlob(paths.root, key));
      usable = restorable.filter((_, i) => checks[i] === undefined);
      checks.forEach((problem, i) => problem && missingOrDamaged.push({ name: restorable[i]!.name, reason: problem }));
    }
    const toRestore: string[] = [];
    const alreadyPresent: string[] = [];
    const softDeleted: string[] = [];
    for (const key of usable) {
      const lower = key.name.toLowerCase();
      if (present.has(lower)) alreadyPresent.push(key.name);
      else if (deleted.has(lower)) softDeleted.push(key.name);
      else toRestore.push(key.name);
    }
    const document: RestorePlanDocument = {
      format: RESTORE_PLAN_FORMAT,
      jobId: input.jobId,
      backupSetId: `${paths.vaultFolderName}/${paths.backupSetId}`,
      sourceVaultUrl: manifest.vaultUrl,
      targetVaultUrl,
      createdAt: new Date().toISOString(),
      include: [...input.include],
      exclude: [...input.exclude],
      blobsVerified: input.verifyBlobs,
      batchSize: input.batchSize,
      toRestore,
      alreadyPresent,
      softDeleted,
      missingOrDamaged: missingOrDamaged.sort(byName),
      skippedAtBackup,
    };
    const written = await store.writeOnce(job.plan, encodeDocument(document));
    // Another attempt of this activity wrote it first: its plan is the job's plan.
    const kept = written.outcome === "created" ? document : parseDocument(restorePlanDocumentSchema, job.plan, written.existing);
    return summarizePlan(kept, job);
  }

  async function checkBlob(root: string, key: SucceededKeyResult): Promise<string | undefined> {
    const checked = await readVerified(store, root, key);
    return "problem" in checked ? checked.problem : undefined;
  }

  /** Restores one batch of the plan's names; each key's result goes to the batch's record (written once). */
  async function restoreKeyBatch(input: RestoreKeyBatchInput, invocation?: ActivityInvocation): Promise<RestoreBatchResult> {
    const log = invocation?.logger ?? deps.log;
    const { paths, job } = await jobPathsFor(input.backupSetId, input.jobId, input.startedAt);
    const recordPath = job.batch(input.batchIndex);
    // This batch finished in an earlier attempt: its record is its result.
    if (await store.exists(recordPath)) return countRestoreBatch(parseDocument(restoreBatchRecordSchema, recordPath, await store.read(recordPath)));

    const plan = await reader.document(job.plan, restorePlanDocumentSchema);
    const manifest = await reader.manifest(paths);
    const names = plan.toRestore.slice(input.batchIndex * plan.batchSize, (input.batchIndex + 1) * plan.batchSize);
    const client = keyClients(input.targetVaultUrl);
    // Before the parallel restores (requests with a body): see settleChallenge.
    if (names.length > 0) await settleChallenge(client);
    const results = await mapWithConcurrency(names, input.keyConcurrency, async (name): Promise<RestoreKeyResult> => {
      const key = restorableKey(manifest, name);
      const outcome = key
        ? await restoreOneKey(keyRestore, client, paths.root, key, input.onConflict, manifest.versionDetails !== false)
        : { kind: "failed" as const, reason: "not in the backup set's manifest" };
      if (outcome.settled) {
        const { state, waits, waitedMs } = outcome.settled;
        log?.({ event: "restoreWaitedForName", jobId: input.jobId, vaultUrl: input.targetVaultUrl, key: name, state, waits, waitedMs, outcome: outcome.kind });
      }
      if (outcome.kind === "failed") log?.({ event: "keyFailed", jobId: input.jobId, vaultUrl: input.targetVaultUrl, key: name, reason: outcome.reason });
      return { name, result: outcome.kind, ...("reason" in outcome ? { reason: outcome.reason } : {}), ...(outcome.settled ? { settled: outcome.settled } : {}) };
    });
    const record: RestoreBatchRecord = { format: RESTORE_BATCH_FORMAT, batchIndex: input.batchIndex, keys: results };
    const written = await store.writeOnce(recordPath, encodeDocument(record));
    const kept = written.outcome === "created" ? record : parseDocument(restoreBatchRecordSchema, recordPath, written.existing);
    return countRestoreBatch(kept);
  }

  /**
   * Reads the plan and the batch records back into the job's report (written once) and returns the
   * summary: counts, the first SUMMARY_LIST_LIMIT skipped and failed keys, and where the report is.
   */
  async function writeRestoreReport(input: WriteRestoreReportInput): Promise<RestoreSummary> {
    const { job } = await jobPathsFor(input.backupSetId, input.jobId, input.startedAt);
    const plan = await reader.document(job.plan, restorePlanDocumentSchema);
    if (await store.exists(job.report)) return summarizeReport(parseDocument(restoreReportSchema, job.report, await store.read(job.report)), plan, job);

    const succeeded: string[] = [];
    const skipped: KeyIssue[] = [
      ...plan.alreadyPresent.map((name) => ({ name, reason: ALREADY_EXISTS_REASON })),
      ...plan.softDeleted.map((name) => ({ name, reason: SOFT_DELETED_REASON })),
      ...plan.skippedAtBackup,
    ];
    const failed: KeyIssue[] = [...plan.missingOrDamaged];
    const failedBatches = new Map(input.failedBatches.map((b) => [b.batchIndex, b.reason]));
    const batchCount = Math.ceil(plan.toRestore.length / plan.batchSize);
    // A dry run restored nothing: its batches have no records.
    const records = input.dryRun
      ? []
      : await mapWithConcurrency(Array.from({ length: batchCount }, (_, i) => job.batch(i)), 8, async (path) =>
          (await store.exists(path)) ? parseDocument(restoreBatchRecordSchema, path, await store.read(path)) : undefined,
        );
    const waited = { deleting: 0, recovering: 0, purging: 0, waitedMs: 0 };
    for (let i = 0; i < batchCount; i++) {
      const names = plan.toRestore.slice(i * plan.batchSize, (i + 1) * plan.batchSize);
      if (input.dryRun) {
        succeeded.push(...names);
        continue;
      }
      const byName = new Map((records[i]?.keys ?? []).map((k) => [k.name, k]));
      for (const name of names) {
        const result = byName.get(name);
        if (result?.settled) {
          waited[result.settled.state]++;
          waited.waitedMs += result.settled.waitedMs;
        }
        if (result?.result === "restored" || result?.result === "alreadyInTarget") succeeded.push(name);
        else if (result?.result === "skipped") skipped.push({ name, reason: result.reason ?? "skipped" });
        else if (result) failed.push({ name, reason: result.reason ?? "failed" });
        else failed.push({ name, reason: `restore batch ${i} did not complete: ${failedBatches.get(i) ?? "no result recorded"}` });
      }
    }
    skipped.sort(byName);
    failed.sort(byName);
    const report: RestoreReport = {
      format: RESTORE_REPORT_FORMAT,
      jobId: input.jobId,
      backupSetId: plan.backupSetId,
      sourceVaultUrl: plan.sourceVaultUrl,
      targetVaultUrl: plan.targetVaultUrl,
      dryRun: input.dryRun,
      startedAt: input.startedAt,
      endedAt: input.endedAt,
      keys: { total: succeeded.length + failed.length + skipped.length, succeeded: succeeded.length, failed: failed.length, skipped: skipped.length },
      succeeded,
      skipped,
      failed,
      ...(waited.deleting + waited.recovering + waited.purging > 0 ? { waitedForNames: waited } : {}),
    };
    const written = await store.writeOnce(job.report, encodeDocument(report));
    const kept = written.outcome === "created" ? report : parseDocument(restoreReportSchema, job.report, written.existing);
    return summarizeReport(kept, plan, job);
  }


  return { planRestore, restoreKeyBatch, writeRestoreReport } satisfies VaultRestoreActivities;
}

async function listNames(list: () => AsyncIterable<{ name: string }> & { byPage(o: { maxPageSize: number }): AsyncIterable<{ name: string }[]> }): Promise<Set<string>> {
  const names = new Set<string>();
  try {
    for await (const page of list().byPage({ maxPageSize: 25 })) for (const item of page) names.add(item.name.toLowerCase());
  } catch (error) {
    throw toKeyVaultError(error);
  }
  return names;
}
