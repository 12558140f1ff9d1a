import {
  OBJECT_KINDS,
  type Activities,
  type ObjectKind,
  type ObjectIssue,
  type PlanRestoreInput,
  type RestoreBatchResult,
  type RestoreObjectBatchInput,
  type RestorePlan,
  type RestoreSummary,
  type WriteRestoreReportInput,
} from "../src/contracts";
import { createObjectFilter } from "../src/filters";
import type { VaultObjects, VaultObjectsFactory } from "../src/keyvault/object-kinds";
import { DEFAULT_SETTLING_POLICY } from "../src/retry-policies";
import type { BackupStore } from "../src/storage/backup-store";
import { compareObjects, encodeDocument, objectId, parseDocument, type BackupSetPaths, type Manifest, type SucceededObjectResult } from "../src/storage/backup-set";
import {
  RESTORE_BATCH_FORMAT,
  RESTORE_PLAN_FORMAT,
  RESTORE_REPORT_FORMAT,
  RestoreJobPaths,
  restoreBatchRecordSchema,
  restorePlanDocumentSchema,
  restoreReportSchema,
  type ObjectRef,
  type RestoreBatchRecord,
  type RestoreObjectResult,
  type RestorePlanDocument,
  type RestoreReport,
} from "../src/storage/restore-job";
import { mapWithConcurrency } from "../src/util/pool";
import { BackupSetReader } from "../src/storage/backup-set-reader";
import type { ActivityInvocation, ActivityLogger } from "./logging";
import { alreadyExistsReason, collectionsOf, readVerified, restoreOneObject, softDeletedReason, type ObjectRestoreContext } from "./restore/object-restore";
import { countRestoreBatch, summarizePlan, summarizeReport } from "./restore/summaries";

export interface VaultRestoreActivityDeps {
  readonly vaultObjects: VaultObjectsFactory;
  readonly store: BackupStore;
  readonly reader?: BackupSetReader;
  /** Used when an invocation brings no logger of its own. */
  readonly log?: ActivityLogger;
  /** First wait before retrying a name still being purged, deleted or recovered (then backoff, see settling.ts). */
  readonly purgeSettleDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The activities of a vault restore, as their contracts (src/contracts.ts) name them. */
export type VaultRestoreActivities = Pick<Activities<ActivityInvocation>, "planRestore" | "restoreObjectBatch" | "writeRestoreReport">;

type Issue = { kind: ObjectKind; name: string; reason: string };

export function createVaultRestoreActivities(deps: VaultRestoreActivityDeps): VaultRestoreActivities {
  const { vaultObjects, store } = deps;
  const reader = deps.reader ?? new BackupSetReader(store);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const settlingPolicy = { ...DEFAULT_SETTLING_POLICY, ...(deps.purgeSettleDelayMs !== undefined ? { firstDelayMs: deps.purgeSettleDelayMs } : {}) };
  const restoreContext: ObjectRestoreContext = { store, sleep, settlingPolicy };
  /** Each manifest's restorable objects by objectId, built once per manifest the reader keeps. */
  const restorableById = new WeakMap<Manifest, Map<string, SucceededObjectResult>>();

  /**
   * The objects of the set that a restore with these kinds and filters works on, in manifest order. A
   * certificate's key or secret comes back with its certificate: it is in the plan as such when its
   * certificate is to be restored, and skipped otherwise.
   */
  function selection(manifest: Manifest, kinds: readonly ObjectKind[] | undefined, include: readonly string[], exclude: readonly string[]) {
    const accept = createObjectFilter(include, exclude);
    const wanted = new Set(kinds ?? OBJECT_KINDS);
    const certificates = new Set(
      manifest.objects.filter((o) => o.kind === "certificate" && o.result === "succeeded" && wanted.has("certificate") && accept(o.kind, o.name)).map((o) => o.name.toLowerCase()),
    );
    // A certificate's key and secret follow their certificate whatever the globs say (its restore brings them back).
    const follows = (o: Manifest["objects"][number]) => o.result === "withCertificate" && certificates.has(o.name.toLowerCase());
    const selected = manifest.objects.filter((o) => wanted.has(o.kind) && (follows(o) || accept(o.kind, o.name)));
    const restorable = selected.filter((o): o is SucceededObjectResult => o.result === "succeeded");
    const withCertificate: ObjectRef[] = [];
    // An object that failed at backup time is a hole in the set; one skipped on purpose never had a backup
    // of its own to restore, and is reported as skipped again.
    const unusable: Issue[] = [];
    const skippedAtBackup: Issue[] = [];
    for (const o of selected) {
      if (o.result === "failed") unusable.push({ kind: o.kind, name: o.name, reason: `not in the backup set: ${o.reason}` });
      else if (o.result === "skipped") skippedAtBackup.push({ kind: o.kind, name: o.name, reason: `skipped at backup time: ${o.reason}` });
      else if (o.result === "withCertificate") {
        if (certificates.has(o.name.toLowerCase())) withCertificate.push({ kind: o.kind, name: o.name });
        else skippedAtBackup.push({ kind: o.kind, name: o.name, reason: "in its certificate's backup: it comes back only with its certificate, which this restore leaves out (restore certificates too)" });
      }
    }
    return { restorable, unusable, skippedAtBackup, withCertificate };
  }

  function restorableObject(manifest: Manifest, ref: ObjectRef): SucceededObjectResult | undefined {
    let byId = restorableById.get(manifest);
    if (!byId) {
      byId = new Map();
      for (const o of manifest.objects) if (o.result === "succeeded") byId.set(objectId(o.kind, o.name), o);
      restorableById.set(manifest, byId);
    }
    return byId.get(objectId(ref.kind, ref.name));
  }

  async function jobPathsFor(backupSetId: string, jobId: string, startedAt: string): Promise<{ paths: BackupSetPaths; job: RestoreJobPaths }> {
    const paths = await reader.locate(backupSetId);
    return { paths, job: new RestoreJobPaths(paths, jobId, startedAt) };
  }

  /**
   * Works out what the restore does, object by object, into the job's plan document (written once: a
   * retried or resumed job goes on with the plan it made), and returns the counts. Objects are restored
   * kind by kind, certificates first (each brings back its key and secret, which therefore need their
   * names free too).
   */
  async function planRestore(input: PlanRestoreInput): Promise<RestorePlan> {
    const { paths, job } = await jobPathsFor(input.backupSetId, input.jobId, input.startedAt);
    const manifest = await reader.manifest(paths);
    if (await store.exists(job.plan)) return summarizePlan(await reader.document(job.plan, restorePlanDocumentSchema), job);

    const targetVaultUrl = input.targetVaultUrl ?? manifest.vaultUrl;
    const { restorable, unusable, skippedAtBackup, withCertificate } = selection(manifest, input.kinds, input.include, input.exclude);
    const target = vaultObjects(targetVaultUrl);

    // Two listings per collection instead of a GET per object: 1 request per 25 objects against the throttle budget.
    const collections = OBJECT_KINDS.filter((k) => restorable.some((o) => collectionsOf(o.kind).includes(k)));
    const listed = await Promise.all(collections.map(async (k) => ({ kind: k, present: await names(target, k, "live"), deleted: await names(target, k, "deleted") })));

    const missingOrDamaged = [...unusable];
    let usable = restorable;
    if (input.verifyBlobs) {
      const checks = await mapWithConcurrency(restorable, 16, async (o) => checkBlob(paths.root, o));
      usable = restorable.filter((_, i) => checks[i] === undefined);
      checks.forEach((problem, i) => problem && missingOrDamaged.push({ kind: restorable[i]!.kind, name: restorable[i]!.name, reason: problem }));
    }
    const toRestore: ObjectRef[] = [];
    const alreadyPresent: Issue[] = [];
    const softDeleted: Issue[] = [];
    for (const o of [...usable].sort(compareObjects)) {
      const lower = o.name.toLowerCase();
      const among = listed.filter((l) => collectionsOf(o.kind).includes(l.kind));
      const live = among.find((l) => l.present.has(lower));
      const deleted = among.find((l) => l.deleted.has(lower));
      if (live) alreadyPresent.push({ kind: o.kind, name: o.name, reason: alreadyExistsReason(live.kind) });
      else if (deleted) softDeleted.push({ kind: o.kind, name: o.name, reason: softDeletedReason(deleted.kind) });
      else toRestore.push({ kind: o.kind, name: o.name });
    }
    const document: RestorePlanDocument = {
      format: RESTORE_PLAN_FORMAT,
      jobId: input.jobId,
      backupSetId: `${paths.vaultFolderName}/${paths.backupSetId}`,
      sourceVaultUrl: manifest.vaultUrl,
      targetVaultUrl,
      createdAt: new Date().toISOString(),
      ...(input.kinds ? { kinds: [...input.kinds] } : {}),
      include: [...input.include],
      exclude: [...input.exclude],
      blobsVerified: input.verifyBlobs,
      batchSize: input.batchSize,
      toRestore,
      alreadyPresent,
      softDeleted,
      missingOrDamaged: missingOrDamaged.sort(compareObjects),
      skippedAtBackup: skippedAtBackup.sort(compareObjects),
      withCertificate: withCertificate.sort(compareObjects),
    };
    const written = await store.writeOnce(job.plan, encodeDocument(document));
    // Another attempt of this activity wrote it first: its plan is the job's plan.
    const kept = written.outcome === "created" ? document : parseDocument(restorePlanDocumentSchema, job.plan, written.existing);
    return summarizePlan(kept, job);
  }

  async function checkBlob(root: string, object: SucceededObjectResult): Promise<string | undefined> {
    const checked = await readVerified(store, root, object);
    return "problem" in checked ? checked.problem : undefined;
  }

  /** Restores one batch of the plan's objects; each object's result goes to the batch's record (written once). */
  async function restoreObjectBatch(input: RestoreObjectBatchInput, invocation?: ActivityInvocation): Promise<RestoreBatchResult> {
    const log = invocation?.logger ?? deps.log;
    const { paths, job } = await jobPathsFor(input.backupSetId, input.jobId, input.startedAt);
    const recordPath = job.batch(input.batchIndex);
    // This batch finished in an earlier attempt: its record is its result.
    if (await store.exists(recordPath)) return countRestoreBatch(parseDocument(restoreBatchRecordSchema, recordPath, await store.read(recordPath)));

    const plan = await reader.document(job.plan, restorePlanDocumentSchema);
    const manifest = await reader.manifest(paths);
    const refs = plan.toRestore.slice(input.batchIndex * plan.batchSize, (input.batchIndex + 1) * plan.batchSize);
    const target = vaultObjects(input.targetVaultUrl);
    // Before the parallel restores (requests with a body), once per client: see challengeOnce.
    for (const kind of OBJECT_KINDS) if (refs.some((r) => r.kind === kind)) await target.of(kind).settleChallenge();
    const results = await mapWithConcurrency(refs, input.keyConcurrency, async (ref): Promise<RestoreObjectResult> => {
      const object = restorableObject(manifest, ref);
      const outcome = object
        ? await restoreOneObject(restoreContext, target, paths.root, object, input.onConflict, manifest.versionDetails !== false)
        : { kind: "failed" as const, reason: "not in the backup set's manifest" };
      const kindField = ref.kind === "key" ? {} : { kind: ref.kind };
      if (outcome.settled) {
        const { state, waits, waitedMs } = outcome.settled;
        log?.({ event: "restoreWaitedForName", jobId: input.jobId, vaultUrl: input.targetVaultUrl, ...kindField, key: ref.name, state, waits, waitedMs, outcome: outcome.kind });
      }
      if (outcome.kind === "failed") log?.({ event: "keyFailed", jobId: input.jobId, vaultUrl: input.targetVaultUrl, ...kindField, key: ref.name, reason: outcome.reason });
      return {
        kind: ref.kind,
        name: ref.name,
        result: outcome.kind,
        ...("reason" in outcome ? { reason: outcome.reason } : {}),
        ...(outcome.settled ? { settled: outcome.settled } : {}),
      };
    });
    const record: RestoreBatchRecord = { format: RESTORE_BATCH_FORMAT, batchIndex: input.batchIndex, objects: results };
    const written = await store.writeOnce(recordPath, encodeDocument(record));
    const kept = written.outcome === "created" ? record : parseDocument(restoreBatchRecordSchema, recordPath, written.existing);
    return countRestoreBatch(kept);
  }

  /**
   * Reads the plan and the batch records back into the job's report (written once) and returns the
   * summary: counts, the first SUMMARY_LIST_LIMIT skipped and failed objects, and where the report is.
   */
  async function writeRestoreReport(input: WriteRestoreReportInput): Promise<RestoreSummary> {
    const { job } = await jobPathsFor(input.backupSetId, input.jobId, input.startedAt);
    const plan = await reader.document(job.plan, restorePlanDocumentSchema);
    if (await store.exists(job.report)) return summarizeReport(parseDocument(restoreReportSchema, job.report, await store.read(job.report)), plan, job);

    const succeeded: ObjectRef[] = [];
    const skipped: Issue[] = [...plan.alreadyPresent, ...plan.softDeleted, ...plan.skippedAtBackup];
    const failed: Issue[] = [...plan.missingOrDamaged];
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
      const refs = plan.toRestore.slice(i * plan.batchSize, (i + 1) * plan.batchSize);
      if (input.dryRun) {
        succeeded.push(...refs);
        continue;
      }
      const byId = new Map((records[i]?.objects ?? []).map((o) => [objectId(o.kind, o.name), o]));
      for (const ref of refs) {
        const { kind, name } = ref;
        const result = byId.get(objectId(kind, name));
        if (result?.settled) {
          waited[result.settled.state]++;
          waited.waitedMs += result.settled.waitedMs;
        }
        if (result?.result === "restored" || result?.result === "alreadyInTarget") succeeded.push(ref);
        else if (result?.result === "skipped") skipped.push({ kind, name, reason: result.reason ?? "skipped" });
        else if (result) failed.push({ kind, name, reason: result.reason ?? "failed" });
        else failed.push({ kind, name, reason: `restore batch ${i} did not complete: ${failedBatches.get(i) ?? "no result recorded"}` });
      }
    }
    // A certificate's key and secret end as their certificate did.
    const certificateOutcome = new Map<string, { ok: true } | { ok: false; skipped: boolean; reason: string }>();
    for (const o of succeeded) if (o.kind === "certificate") certificateOutcome.set(o.name.toLowerCase(), { ok: true });
    for (const o of skipped) if (o.kind === "certificate") certificateOutcome.set(o.name.toLowerCase(), { ok: false, skipped: true, reason: o.reason });
    for (const o of failed) if (o.kind === "certificate") certificateOutcome.set(o.name.toLowerCase(), { ok: false, skipped: false, reason: o.reason });
    for (const ref of plan.withCertificate) {
      const outcome = certificateOutcome.get(ref.name.toLowerCase());
      if (outcome?.ok) succeeded.push(ref);
      else if (outcome?.skipped) skipped.push({ ...ref, reason: `comes back with its certificate, which was skipped: ${outcome.reason}` });
      else failed.push({ ...ref, reason: `comes back with its certificate, which was not restored: ${outcome?.reason ?? "no result recorded"}` });
    }
    succeeded.sort(compareObjects);
    skipped.sort(compareObjects);
    failed.sort(compareObjects);
    const report: RestoreReport = {
      format: RESTORE_REPORT_FORMAT,
      jobId: input.jobId,
      backupSetId: plan.backupSetId,
      sourceVaultUrl: plan.sourceVaultUrl,
      targetVaultUrl: plan.targetVaultUrl,
      dryRun: input.dryRun,
      startedAt: input.startedAt,
      endedAt: input.endedAt,
      objects: counts(succeeded, failed, skipped),
      byKind: {
        keys: counts(succeeded, failed, skipped, "key"),
        secrets: counts(succeeded, failed, skipped, "secret"),
        certificates: counts(succeeded, failed, skipped, "certificate"),
      },
      succeeded,
      skipped,
      failed,
      ...(waited.deleting + waited.recovering + waited.purging > 0 ? { waitedForNames: waited } : {}),
    };
    const written = await store.writeOnce(job.report, encodeDocument(report));
    const kept = written.outcome === "created" ? report : parseDocument(restoreReportSchema, job.report, written.existing);
    return summarizeReport(kept, plan, job);
  }

  return { planRestore, restoreObjectBatch, writeRestoreReport } satisfies VaultRestoreActivities;
}

function counts(succeeded: readonly ObjectRef[], failed: readonly ObjectIssue[], skipped: readonly ObjectIssue[], kind?: ObjectKind) {
  const n = (list: readonly { kind: ObjectKind }[]) => (kind ? list.filter((o) => o.kind === kind).length : list.length);
  const s = n(succeeded), f = n(failed), k = n(skipped);
  return { total: s + f + k, succeeded: s, failed: f, skipped: k };
}

/** Lower-cased names of the live or the deleted objects of one kind in a vault. */
async function names(target: VaultObjects, kind: ObjectKind, which: "live" | "deleted"): Promise<Set<string>> {
  const adapter = target.of(kind);
  const found = new Set<string>();
  if (which === "live") for await (const page of adapter.listObjects()) for (const o of page) found.add(o.name.toLowerCase());
  else for await (const page of adapter.listDeletedNames()) for (const name of page) found.add(name.toLowerCase());
  return found;
}
