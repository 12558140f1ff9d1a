import type { KeyClient } from "@azure/keyvault-keys";
import { KeyConflictError, KeyNotFoundError, describeFailure, toKeyVaultError } from "../../src/keyvault/errors";
import { NameSettling, settlingState, type SettleWaits } from "../../src/keyvault/settling";
import type { SettlingPolicy } from "../../src/retry-policies";
import type { BackupStore } from "../../src/storage/backup-store";
import { sha256Hex, type SucceededKeyResult } from "../../src/storage/backup-set";
import { BackupObjectNotFoundError } from "../../src/storage/errors";

/**
 * A set without version details records when the vault served each backup (its Date header, whole
 * seconds) and compares a key's update time with it: both are the vault's clock, but may come from
 * different machines of the service, so this much difference is tolerated.
 */
const VAULT_CLOCK_ALLOWANCE_MS = 2_000;

export const ALREADY_EXISTS_REASON = "a key of that name already exists in the target vault";
export const SOFT_DELETED_REASON = "a soft-deleted key of that name is in the target vault (recover or purge it first)";

/** What restoring one key needs besides its client: the store its blob is in, and how to wait for a settling name. */
export interface KeyRestoreContext {
  readonly store: BackupStore;
  readonly sleep: (ms: number) => Promise<void>;
  readonly settlingPolicy: SettlingPolicy;
}

/** `settled`: the name was being deleted, recovered or purged in the target, and was waited for. */
export type KeyRestoreOutcome = ({ kind: "restored" } | { kind: "alreadyInTarget" } | { kind: "skipped" | "failed"; reason: string }) & { settled?: SettleWaits };

export async function restoreOneKey(ctx: KeyRestoreContext, client: KeyClient, root: string, key: SucceededKeyResult, onConflict: "skip" | "fail", versionDetails: boolean): Promise<KeyRestoreOutcome> {
  const settling = new NameSettling(ctx.sleep, ctx.settlingPolicy);
  const outcome = await restoreOneKeyWaiting(ctx, client, root, key, onConflict, versionDetails, settling);
  return settling.summary ? { ...outcome, settled: settling.summary } : outcome;
}

async function restoreOneKeyWaiting(ctx: KeyRestoreContext, client: KeyClient, root: string, key: SucceededKeyResult, onConflict: "skip" | "fail", versionDetails: boolean, settling: NameSettling): Promise<KeyRestoreOutcome> {
  // Checked right before the restore: a blob is never sent to the vault unless it is the one recorded.
  const checked = await readVerified(ctx.store, root, key);
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

/** The blob's bytes, only when they are the ones the manifest recorded. */
export async function readVerified(store: BackupStore, root: string, key: SucceededKeyResult): Promise<{ data: Buffer } | { problem: string }> {
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

/** Whether a key's update time falls in the window the set recorded for its backup (both by the vault's clock). */
function updatedWhileBackedUp(key: SucceededKeyResult, targetUpdatedOn: Date | undefined): boolean {
  if (!key.updatedOn || !key.backedUpAt || !targetUpdatedOn) return false;
  const updated = targetUpdatedOn.getTime();
  return updated >= new Date(key.updatedOn).getTime() && updated <= new Date(key.backedUpAt).getTime() + VAULT_CLOCK_ALLOWANCE_MS;
}
