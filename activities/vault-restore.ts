import type { KeyClient } from "@azure/keyvault-keys";
import type { KeyIssue, PlanRestoreInput, RestoreBatchResult, RestoreKeyBatchInput, RestorePlan } from "../src/contracts";
import { createNameFilter } from "../src/filters";
import { KeyConflictError, KeyNotFoundError, describeFailure, toKeyVaultError } from "../src/keyvault/errors";
import type { KeyClientFactory } from "../src/keyvault/clients";
import { settleChallenge } from "../src/keyvault/challenge";
import { DEFAULT_SETTLING_POLICY, NameSettling, settlingState, type SettleWaits } from "../src/keyvault/settling";
import type { BackupStore } from "../src/storage/backup-store";
import { BackupObjectNotFoundError } from "../src/storage/backup-store";
import { sha256Hex, type Manifest, type SucceededKeyResult } from "../src/storage/backup-set";
import { mapWithConcurrency } from "../src/util/pool";
import { BackupSetReader } from "./backup-set-reader";
import type { ActivityLogger } from "./logging";

export interface VaultRestoreActivityDeps {
  readonly keyClients: KeyClientFactory;
  readonly store: BackupStore;
  readonly reader?: BackupSetReader;
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

export function createVaultRestoreActivities(deps: VaultRestoreActivityDeps) {
  const { keyClients, store } = deps;
  const reader = deps.reader ?? new BackupSetReader(store);
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const settlingPolicy = { ...DEFAULT_SETTLING_POLICY, ...(deps.purgeSettleDelayMs !== undefined ? { firstDelayMs: deps.purgeSettleDelayMs } : {}) };

  /** The keys of the set that a restore with these filters works on, in batch order. */
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

  async function planRestore(input: PlanRestoreInput): Promise<RestorePlan> {
    const paths = await reader.locate(input.backupSetId);
    const manifest = await reader.manifest(paths);
    const targetVaultUrl = input.targetVaultUrl ?? manifest.vaultUrl;
    const { selected, restorable, unusable, skippedAtBackup } = selection(manifest, input.include, input.exclude);
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
    return {
      backupSetId: `${paths.vaultFolderName}/${paths.backupSetId}`,
      sourceVaultUrl: manifest.vaultUrl,
      targetVaultUrl,
      keysSelected: selected.length,
      toRestoreCount: toRestore.length,
      toRestore: input.verifyBlobs ? toRestore : [],
      alreadyPresent,
      softDeleted,
      missingOrDamaged,
      skippedAtBackup,
      batchCount: Math.ceil(restorable.length / input.batchSize),
    };
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

  async function restoreKeyBatch(input: RestoreKeyBatchInput): Promise<RestoreBatchResult> {
    const paths = await reader.locate(input.backupSetId);
    const manifest = await reader.manifest(paths);
    const { restorable } = selection(manifest, input.include, input.exclude);
    const keys = restorable.slice(input.batchIndex * input.batchSize, (input.batchIndex + 1) * input.batchSize);
    const client = keyClients(input.targetVaultUrl);
    // Before the parallel restores (requests with a body): see settleChallenge.
    if (keys.length > 0) await settleChallenge(client);
    const skipped: KeyIssue[] = [];
    const failed: KeyIssue[] = [];
    const alreadyInTarget: string[] = [];
    let restored = 0;
    await mapWithConcurrency(keys, input.keyConcurrency, async (key) => {
      const outcome = await restoreOneKey(client, paths.root, key, input.onConflict, manifest.versionDetails !== false);
      if (outcome.settled) {
        const { state, waits, waitedMs } = outcome.settled;
        deps.log?.({ event: "restoreWaitedForName", jobId: input.jobId, vaultUrl: input.targetVaultUrl, key: key.name, state, waits, waitedMs, outcome: outcome.kind });
      }
      if (outcome.kind === "restored") restored++;
      else if (outcome.kind === "alreadyInTarget") alreadyInTarget.push(key.name);
      else if (outcome.kind === "skipped") skipped.push({ name: key.name, reason: outcome.reason });
      else {
        failed.push({ name: key.name, reason: outcome.reason });
        deps.log?.({ event: "keyFailed", jobId: input.jobId, vaultUrl: input.targetVaultUrl, key: key.name, reason: outcome.reason });
      }
    });
    alreadyInTarget.sort();
    return { batchIndex: input.batchIndex, restored, skipped, failed, ...(alreadyInTarget.length > 0 ? { alreadyInTarget } : {}) };
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
        const reason =
          holder.kind === "deleted"
            ? "a soft-deleted key of that name is in the target vault (recover or purge it first)"
            : holder.kind === "active"
              ? "a key of that name already exists in the target vault"
              : describeFailure(kvError);
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

  return { planRestore, restoreKeyBatch };
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
