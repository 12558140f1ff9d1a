import type { BackupSetState } from "../contracts";
import type { BackupStore } from "./backup-store";
import { BackupSetPaths } from "./backup-set";
import { listBackupSets, type BackupSetEntry } from "./catalog";

/**
 * Which backup sets of one vault to delete. The decision is a pure function of the catalog, the policy
 * and the clock, so it is tested on its own; deleting is a separate step that can be skipped (dry run).
 *
 * Rules, in order:
 *  1. the newest `keepMinComplete` complete sets are kept whatever their age (never fewer than one:
 *     the newest complete set is never deleted);
 *  2. when there are fewer complete sets than that, the newest partial sets fill the gap: a vault with
 *     one key that always fails would otherwise lose every backup once they age out, and a partial set
 *     still restores every key that succeeded;
 *  3. any other set older than `days` is deleted (complete, partial or incomplete);
 *  4. everything else is kept: younger sets, including incomplete ones (a job may still be writing),
 *     and sets whose age cannot be read.
 */
export interface RetentionPolicy {
  readonly days: number;
  readonly keepMinComplete: number;
}

export type RetentionAction = "keep" | "delete";

export interface RetentionDecision {
  readonly backupSetId: string;
  readonly vaultFolder: string;
  readonly state: BackupSetState;
  readonly startedAt: string;
  /** Whole days since the set started; null when its time cannot be read. */
  readonly ageDays: number | null;
  readonly action: RetentionAction;
  readonly reason: string;
}

const DAY_MS = 24 * 3600_000;

export function decideRetention(entries: readonly BackupSetEntry[], policy: RetentionPolicy, now: Date): RetentionDecision[] {
  const keepMin = Math.max(1, Math.floor(policy.keepMinComplete));
  const newestFirst = [...entries].sort((a, b) => startedMs(b) - startedMs(a) || (a.backupSetId < b.backupSetId ? 1 : -1));

  const protectedIds = new Map<string, string>();
  const complete = newestFirst.filter((e) => e.state === "complete" && Number.isFinite(startedMs(e)));
  complete.slice(0, keepMin).forEach((e, i) =>
    protectedIds.set(e.backupSetId, i === 0 ? "newest complete set" : `one of the newest ${keepMin} complete sets`),
  );
  const missing = keepMin - Math.min(keepMin, complete.length);
  if (missing > 0) {
    newestFirst
      .filter((e) => e.state === "partial" && Number.isFinite(startedMs(e)))
      .slice(0, missing)
      .forEach((e) => protectedIds.set(e.backupSetId, `fewer than ${keepMin} complete sets: newest partial sets are kept in their place`));
  }

  return newestFirst.map((entry) => {
    const started = startedMs(entry);
    const ageMs = now.getTime() - started;
    const ageDays = Number.isFinite(ageMs) ? Math.floor(ageMs / DAY_MS) : null;
    const base = { backupSetId: entry.backupSetId, vaultFolder: entry.vaultFolder, state: entry.state, startedAt: entry.startedAt, ageDays };
    const protectedReason = protectedIds.get(entry.backupSetId);
    if (protectedReason) return { ...base, action: "keep" as const, reason: protectedReason };
    if (!Number.isFinite(ageMs)) return { ...base, action: "keep" as const, reason: "start time cannot be read" };
    if (ageMs > policy.days * DAY_MS) return { ...base, action: "delete" as const, reason: `older than ${policy.days} days` };
    return { ...base, action: "keep" as const, reason: `younger than ${policy.days} days` };
  });
}

function startedMs(entry: BackupSetEntry): number {
  const ms = Date.parse(entry.startedAt);
  return Number.isNaN(ms) ? Number.NaN : ms;
}

export interface RetentionResult {
  readonly vaultUrl: string;
  readonly dryRun: boolean;
  readonly decisions: readonly RetentionDecision[];
  /** Sets deleted (0 in a dry run). */
  readonly deletedSets: number;
  /** Objects deleted across those sets. */
  readonly deletedObjects: number;
}

/**
 * Applies the policy to one vault. The manifest of a set goes first: if deletion stops half-way, what is
 * left is listed as incomplete (and is deleted by the next run), never as a complete set with keys missing.
 */
export async function applyRetention(
  store: BackupStore,
  vaultUrl: string,
  policy: RetentionPolicy,
  now: Date,
  options: { readonly dryRun: boolean; readonly onDecision?: (decision: RetentionDecision) => void },
): Promise<RetentionResult> {
  const decisions = decideRetention(await listBackupSets(store, vaultUrl), policy, now);
  let deletedSets = 0;
  let deletedObjects = 0;
  for (const decision of decisions) {
    if (decision.action === "delete" && !options.dryRun) {
      const paths = new BackupSetPaths(decision.vaultFolder, decision.backupSetId);
      deletedObjects += await store.deletePrefix(paths.manifest);
      deletedObjects += await store.deletePrefix(`${paths.root}/`);
      deletedSets++;
    }
    options.onDecision?.(decision);
  }
  return { vaultUrl, dryRun: options.dryRun, decisions, deletedSets, deletedObjects };
}
