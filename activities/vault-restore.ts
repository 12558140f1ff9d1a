import type { KeyClient } from "@azure/keyvault-keys";
import {
  SUMMARY_LIST_LIMIT,
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
import { KeyConflictError, KeyNotFoundError, describeFailure, toKeyVaultError } from "../src/keyvault/errors";
import type { KeyClientFactory } from "../src/keyvault/clients";
import { settleChallenge } from "../src/keyvault/challenge";
import { NameSettling, settlingState, type SettleWaits } from "../src/keyvault/settling";
import { DEFAULT_SETTLING_POLICY } from "../src/retry-policies";
import type { BackupStore } from "../src/storage/backup-store";
import { BackupObjectNotFoundError } from "../src/storage/errors";
import { encodeDocument, parseDocument, sha256Hex, type BackupSetPaths, type Manifest, type SucceededKeyResult } from "../src/storage/backup-set";
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

/**
 * A set without version details records when the vault served each backup (its Date header, whole
 * seconds) and compares a key's update time with it: both are the vault's clock, but may come from
 * different machines of the service, so this much difference is tolerated.
 */
const VAULT_CLOCK_ALLOWANCE_MS = 2_000;
/** Names shown in the refusal of a restore with onConflict "fail" (the plan document has them all). */
const CONFLICT_SAMPLE = 20;

export const ALREADY_EXISTS_REASON = "a key of that name already exists in the target vault";
export const SOFT_DELETED_REASON = "a soft-deleted key of that name is in the target vault (recover or purge it first)";

/** The activities of a vault restore, as their contracts (src/contracts.ts) name them. */
export type VaultRestoreActivities = Pick<Activities<ActivityInvocation>, "planRestore" | "restoreKeyBatch" | "writeRestoreReport">;

export function createVaultRestoreActivities(deps: VaultRestoreActivityDeps): VaultRestoreActivities {
  const { keyClients, store } = deps;
  const reader = deps.reader ?? new BackupSetReader(store);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const settlingPolicy = { ...DEFAULT_SETTLING_POLICY, ...(deps.purgeSettleDelayMs !== undefined ? { firstDelayMs: deps.purgeSettleDelayMs } : {}) };
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

  async function jobPathsFor(backupSetId: string, jobId: string): Promise<{ paths: BackupSetPaths; job: RestoreJobPaths }> {
    const paths = await reader.locate(backupSetId);
    return { paths, job: new RestoreJobPaths(paths, jobId) };
  }

  /**
   * Works out what the restore does, name by name, into the job's plan document (written once: a retried
   * or resumed job goes on with the plan it made), and returns the counts.
   */
  async function planRestore(input: PlanRestoreInput): Promise<RestorePlan> {
    const { paths, job } = await jobPathsFor(input.backupSetId, input.jobId);
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
    const checked = await readVerified(root, key);
    return "problem" in checked ? checked.problem : undefined;
  }

  /** The blob's bytes, only when they are the ones the manifest recorded. */
  async function readVerified(root: string, key: SucceededKeyResult): Promise<{ data: Buffer } | { problem: string }> {
    if (!key.blobPath.startsWith(`${root}/keys/`)) return { problem: "the manifest points outside its backup set" };
    let data: Buffer;
    try {
      data = await store.read(key.blobPath);
    } catch (error) {
      if (error instanceof BackupObjectNotFoundError) return { problem: "missing: the blob named in the manifest is not in the store" };
      throw error;
    }
    if (data.length !== key.size || sha256Hex(data) !== key.sha256) return { problem: "damaged: the blob's SHA-256 does not match the manifest" };
    return { data };
  }

  /** Restores one batch of the plan's names; each key's result goes to the batch's record (written once). */
  async function restoreKeyBatch(input: RestoreKeyBatchInput, invocation?: ActivityInvocation): Promise<RestoreBatchResult> {
    const log = invocation?.logger ?? deps.log;
    const { paths, job } = await jobPathsFor(input.backupSetId, input.jobId);
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
        ? await restoreOneKey(client, paths.root, key, input.onConflict, manifest.versionDetails !== false)
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
    const { job } = await jobPathsFor(input.backupSetId, input.jobId);
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

  /** `settled`: the name was being deleted, recovered or purged in the target, and was waited for. */
  type Outcome = ({ kind: "restored" } | { kind: "alreadyInTarget" } | { kind: "skipped" | "failed"; reason: string }) & { settled?: SettleWaits };

  async function restoreOneKey(client: KeyClient, root: string, key: SucceededKeyResult, onConflict: "skip" | "fail", versionDetails: boolean): Promise<Outcome> {
    const settling = new NameSettling(sleep, settlingPolicy);
    const outcome = await restoreOneKeyWaiting(client, root, key, onConflict, versionDetails, settling);
    return settling.summary ? { ...outcome, settled: settling.summary } : outcome;
  }

  async function restoreOneKeyWaiting(client: KeyClient, root: string, key: SucceededKeyResult, onConflict: "skip" | "fail", versionDetails: boolean, settling: NameSettling): Promise<Outcome> {
    // Checked right before the restore: a blob is never sent to the vault unless it is the one recorded.
    const checked = await readVerified(root, key);
    if ("problem" in checked) return { kind: "failed", reason: checked.problem };
    const data = checked.data;
    for (;;) {
      try {
        await client.restoreKeyBackup(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
        return { kind: "restored" };
      } catch (error) {
        const kvError = toKeyVaultError(error);
        if (!(kvError instanceof KeyConflictError)) return { kind: "failed", reason: describeFailure(kvError) };
        // A name still being deleted, recovered or purged is waited for; once settled, onConflict decides.
        const holder = kvError.inProgress ? undefined : await whoHoldsName(client, key.name);
        const state = settlingState(kvError, holder?.kind);
        if (state) {
          if (await settling.wait(state)) continue;
          return { kind: "failed", reason: settling.gaveUp(describeFailure(kvError)) };
        }
        if (!holder) throw kvError; // unreachable: a conflict with no state was looked up
        // The same key, version for version: an earlier attempt restored it (its answer was lost, or the
        // job was interrupted and resumed). Restores are idempotent this way; the orchestrator tells this
        // apart from a name that was taken before the job began.
        if (holder.kind === "active" && (await holdsBackedUpVersions(client, key, versionDetails, holder.updatedOn))) return { kind: "alreadyInTarget" };
        const reason = holder.kind === "deleted" ? SOFT_DELETED_REASON : holder.kind === "active" ? ALREADY_EXISTS_REASON : describeFailure(kvError);
        return { kind: onConflict === "skip" ? "skipped" : "failed", reason };
      }
    }
  }

  /**
   * True when the target's key has exactly the backed-up versions: the manifest's latest version id, and
   * as many versions. A set taken without version details records instead when the key was listed and
   * when its backup came back: then the target's key must have been last updated in that window (restore
   * keeps a key's update time). A key made by someone else after the plan was updated later; an older
   * copy of the key earlier. Anything else counts as someone else's key: a conflict, never a false match.
   */
  async function holdsBackedUpVersions(client: KeyClient, key: SucceededKeyResult, versionDetails: boolean, targetUpdatedOn: Date | undefined): Promise<boolean> {
    if (!versionDetails) return updatedWhileBackedUp(key, targetUpdatedOn);
    if (key.versionCount === undefined || !key.latestVersion) return false;
    const versions = new Set<string>();
    try {
      for await (const page of client.listPropertiesOfKeyVersions(key.name).byPage({ maxPageSize: 25 })) {
        for (const v of page) if (v.version) versions.add(v.version);
      }
    } catch (error) {
      const kvError = toKeyVaultError(error);
      if (kvError instanceof KeyNotFoundError) return false;
      throw kvError;
    }
    return versions.size === key.versionCount && versions.has(key.latestVersion);
  }

  /** Who holds a name in the target vault; for a live key, when it was last updated (the key's latest version). */
  async function whoHoldsName(client: KeyClient, name: string): Promise<{ kind: "active"; updatedOn?: Date } | { kind: "deleted" | "none" }> {
    try {
      return { kind: "active", updatedOn: (await client.getKey(name)).properties.updatedOn };
    } catch (error) {
      if (!(toKeyVaultError(error) instanceof KeyNotFoundError)) throw toKeyVaultError(error);
    }
    try {
      await client.getDeletedKey(name);
      return { kind: "deleted" };
    } catch (error) {
      if (!(toKeyVaultError(error) instanceof KeyNotFoundError)) throw toKeyVaultError(error);
    }
    return { kind: "none" };
  }

  return { planRestore, restoreKeyBatch, writeRestoreReport } satisfies VaultRestoreActivities;
}

/** What the orchestrator learns of a plan: counts, and a few taken names for a refusal. */
export function summarizePlan(plan: RestorePlanDocument, job: RestoreJobPaths): RestorePlan {
  return {
    backupSetId: plan.backupSetId,
    sourceVaultUrl: plan.sourceVaultUrl,
    targetVaultUrl: plan.targetVaultUrl,
    keysSelected: plan.toRestore.length + plan.alreadyPresent.length + plan.softDeleted.length + plan.missingOrDamaged.length + plan.skippedAtBackup.length,
    toRestoreCount: plan.toRestore.length,
    alreadyPresentCount: plan.alreadyPresent.length,
    softDeletedCount: plan.softDeleted.length,
    missingOrDamagedCount: plan.missingOrDamaged.length,
    skippedAtBackupCount: plan.skippedAtBackup.length,
    batchCount: Math.ceil(plan.toRestore.length / plan.batchSize),
    batchSize: plan.batchSize,
    planPath: job.plan,
    conflictSample: [...plan.alreadyPresent, ...plan.softDeleted].slice(0, CONFLICT_SAMPLE),
  };
}

export function summarizeReport(report: RestoreReport, plan: RestorePlanDocument, job: RestoreJobPaths): RestoreSummary {
  const first = <T>(list: readonly T[]) => list.slice(0, SUMMARY_LIST_LIMIT);
  return {
    backupSetId: report.backupSetId,
    targetVaultUrl: report.targetVaultUrl,
    dryRun: report.dryRun,
    ...(report.dryRun
      ? {
          plan: {
            toRestoreCount: plan.toRestore.length,
            alreadyPresentCount: plan.alreadyPresent.length,
            softDeletedCount: plan.softDeleted.length,
            missingOrDamagedCount: plan.missingOrDamaged.length,
            skippedAtBackupCount: plan.skippedAtBackup.length,
            toRestore: first(plan.toRestore),
            alreadyPresent: first(plan.alreadyPresent),
            softDeleted: first(plan.softDeleted),
            missingOrDamaged: first(plan.missingOrDamaged),
            skippedAtBackup: first(plan.skippedAtBackup),
          },
        }
      : {}),
    keys: report.keys,
    skipped: first(report.skipped),
    failures: first(report.failed),
    reportPath: job.report,
    ...(report.waitedForNames ? { waitedForNames: report.waitedForNames } : {}),
    startedAt: report.startedAt,
    endedAt: report.endedAt,
  };
}

function countRestoreBatch(record: RestoreBatchRecord): RestoreBatchResult {
  let restored = 0, skipped = 0, failed = 0;
  for (const key of record.keys) {
    if (key.result === "restored" || key.result === "alreadyInTarget") restored++;
    else if (key.result === "skipped") skipped++;
    else failed++;
  }
  return { batchIndex: record.batchIndex, restored, skipped, failed };
}

function byName(a: KeyIssue, b: KeyIssue): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Whether a key's update time falls in the window the set recorded for its backup (both by the vault's clock). */
function updatedWhileBackedUp(key: SucceededKeyResult, targetUpdatedOn: Date | undefined): boolean {
  if (!key.updatedOn || !key.backedUpAt || !targetUpdatedOn) return false;
  const updated = targetUpdatedOn.getTime();
  return updated >= new Date(key.updatedOn).getTime() && updated <= new Date(key.backedUpAt).getTime() + VAULT_CLOCK_ALLOWANCE_MS;
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
