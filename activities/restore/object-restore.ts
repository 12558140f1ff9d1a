import { KIND_PLURALS, type ObjectKind } from "../../src/contracts";
import { ObjectConflictError, describeFailure, toKeyVaultError } from "../../src/keyvault/errors";
import type { VaultObjects } from "../../src/keyvault/object-kinds";
import { NameSettling, settlingState, type SettleWaits } from "../../src/keyvault/settling";
import type { SettlingPolicy } from "../../src/retry-policies";
import type { BackupStore } from "../../src/storage/backup-store";
import { sha256Hex, type SucceededObjectResult } from "../../src/storage/backup-set";
import { BackupObjectNotFoundError } from "../../src/storage/errors";

/**
 * A set without version details records when the vault served each backup (its Date header, whole
 * seconds) and compares an object's update time with it: both are the vault's clock, but may come from
 * different machines of the service, so this much difference is tolerated.
 */
const VAULT_CLOCK_ALLOWANCE_MS = 2_000;

/** Why a name taken in the target is skipped (or refuses the restore): who holds it. */
export function alreadyExistsReason(holder: ObjectKind): string {
  return `a ${holder} of that name already exists in the target vault`;
}
export function softDeletedReason(holder: ObjectKind): string {
  return `a soft-deleted ${holder} of that name is in the target vault (recover or purge it first)`;
}

/**
 * The collections a restore of this kind needs free: a certificate brings back its key and its secret
 * under its own name, so the name must be free among keys and secrets too.
 */
export function collectionsOf(kind: ObjectKind): readonly ObjectKind[] {
  return kind === "certificate" ? ["certificate", "key", "secret"] : [kind];
}

/** What restoring one object needs besides its vault: the store its blob is in, and how to wait for a settling name. */
export interface ObjectRestoreContext {
  readonly store: BackupStore;
  readonly sleep: (ms: number) => Promise<void>;
  readonly settlingPolicy: SettlingPolicy;
}

/** `settled`: the name was being deleted, recovered or purged in the target, and was waited for. */
export type ObjectRestoreOutcome = ({ kind: "restored" } | { kind: "alreadyInTarget" } | { kind: "skipped" | "failed"; reason: string }) & { settled?: SettleWaits };

export async function restoreOneObject(
  ctx: ObjectRestoreContext,
  target: VaultObjects,
  root: string,
  object: SucceededObjectResult,
  onConflict: "skip" | "fail",
  versionDetails: boolean,
): Promise<ObjectRestoreOutcome> {
  const settling = new NameSettling(ctx.sleep, ctx.settlingPolicy);
  const outcome = await restoreWaiting(ctx, target, root, object, onConflict, versionDetails, settling);
  return settling.summary ? { ...outcome, settled: settling.summary } : outcome;
}

async function restoreWaiting(
  ctx: ObjectRestoreContext,
  target: VaultObjects,
  root: string,
  object: SucceededObjectResult,
  onConflict: "skip" | "fail",
  versionDetails: boolean,
  settling: NameSettling,
): Promise<ObjectRestoreOutcome> {
  // Checked right before the restore: a blob is never sent to the vault unless it is the one recorded.
  const checked = await readVerified(ctx.store, root, object);
  if ("problem" in checked) return { kind: "failed", reason: checked.problem };
  const data = checked.data;
  const adapter = target.of(object.kind);
  for (;;) {
    try {
      await adapter.restore(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return { kind: "restored" };
    } catch (error) {
      const kvError = toKeyVaultError(error);
      if (!(kvError instanceof ObjectConflictError)) return { kind: "failed", reason: describeFailure(kvError) };
      // A name still being deleted, recovered or purged is waited for; once settled, onConflict decides.
      const holder = kvError.inProgress ? undefined : await whoHoldsName(target, object.kind, object.name);
      const state = settlingState(kvError, holder?.state);
      if (state) {
        if (await settling.wait(state)) continue;
        return { kind: "failed", reason: settling.gaveUp(describeFailure(kvError)) };
      }
      if (!holder || holder.state === "none") throw kvError; // unreachable: a conflict with no state was looked up
      // The same object, version for version: an earlier attempt restored it (its answer was lost, or the
      // job was interrupted and resumed). Restores are idempotent this way; the orchestrator tells this
      // apart from a name that was taken before the job began.
      if (holder.state === "active" && holder.kind === object.kind && (await holdsBackedUpVersions(target, object, versionDetails, holder.updatedOn))) {
        return { kind: "alreadyInTarget" };
      }
      const reason = holder.state === "deleted" ? softDeletedReason(holder.kind) : alreadyExistsReason(holder.kind);
      return { kind: onConflict === "skip" ? "skipped" : "failed", reason };
    }
  }
}

/**
 * True when the target's object has exactly the backed-up versions: the manifest's latest version id, and
 * as many versions. A set taken without version details records instead when the object was listed and
 * when its backup came back: then the target's object must have been last updated in that window (restore
 * keeps an object's update time). An object made by someone else after the plan was updated later; an
 * older copy earlier. Anything else counts as someone else's object: a conflict, never a false match.
 */
async function holdsBackedUpVersions(target: VaultObjects, object: SucceededObjectResult, versionDetails: boolean, targetUpdatedOn: Date | undefined): Promise<boolean> {
  if (!versionDetails) return updatedWhileBackedUp(object, targetUpdatedOn);
  if (object.versionCount === undefined || !object.latestVersion) return false;
  const versions = new Set((await target.of(object.kind).listVersions(object.name)).map((v) => v.version).filter(Boolean));
  return versions.size === object.versionCount && versions.has(object.latestVersion);
}

type Holder = { readonly state: "active"; readonly kind: ObjectKind; readonly updatedOn?: Date } | { readonly state: "deleted"; readonly kind: ObjectKind } | { readonly state: "none" };

/** Who holds a name in the target among the collections the restore needs free; for a live one, its latest update time. */
async function whoHoldsName(target: VaultObjects, kind: ObjectKind, name: string): Promise<Holder> {
  for (const collection of collectionsOf(kind)) {
    const active = await target.of(collection).getActive(name);
    if (active) return { state: "active", kind: collection, ...(active.updatedOn ? { updatedOn: active.updatedOn } : {}) };
  }
  for (const collection of collectionsOf(kind)) if (await target.of(collection).isDeleted(name)) return { state: "deleted", kind: collection };
  return { state: "none" };
}

/** The blob's bytes, only when they are the ones the manifest recorded. */
export async function readVerified(store: BackupStore, root: string, object: SucceededObjectResult): Promise<{ data: Buffer } | { problem: string }> {
  if (!object.blobPath.startsWith(`${root}/${KIND_PLURALS[object.kind]}/`)) return { problem: "the manifest points outside its backup set" };
  let data: Buffer;
  try {
    data = await store.read(object.blobPath);
  } catch (error) {
    if (error instanceof BackupObjectNotFoundError) return { problem: "missing: the blob named in the manifest is not in the store" };
    throw error;
  }
  if (data.length !== object.size || sha256Hex(data) !== object.sha256) return { problem: "damaged: the blob's SHA-256 does not match the manifest" };
  return { data };
}

/** Whether an object's update time falls in the window the set recorded for its backup (both by the vault's clock). */
function updatedWhileBackedUp(object: SucceededObjectResult, targetUpdatedOn: Date | undefined): boolean {
  if (!object.updatedOn || !object.backedUpAt || !targetUpdatedOn) return false;
  const updated = targetUpdatedOn.getTime();
  return updated >= new Date(object.updatedOn).getTime() && updated <= new Date(object.backedUpAt).getTime() + VAULT_CLOCK_ALLOWANCE_MS;
}
