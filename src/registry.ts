import { ActivityNames, OrchestratorNames, type Activities, type ActivityName } from "./contracts";
import { vaultBackupOrchestrator } from "../orchestrators/vault-backup";
import { vaultRestoreOrchestrator } from "../orchestrators/vault-restore";
import { hsmBackupOrchestrator, hsmRestoreOrchestrator } from "../orchestrators/hsm";
import { createVaultBackupActivities } from "../activities/vault-backup";
import { createVaultRestoreActivities } from "../activities/vault-restore";
import { createHsmActivities } from "../activities/hsm";
import { BackupSetReader } from "./storage/backup-set-reader";
import { tagActivityFailure, withFailureVerdict } from "../activities/failures";
import { ConfigurationError } from "./config";
import type { ActivityInvocation, ActivityLogger } from "../activities/logging";
import type { VaultObjectsFactory } from "./keyvault/object-kinds";
import type { BackupStore } from "./storage/backup-store";
import type { HsmClientFactory } from "./keyvault/hsm-admin-client";
import { createHsmStorageAccess, type HsmStorageAccess } from "./storage/hsm-storage-access";
import { withJobEndLog } from "./monitoring/job-end-log";

/**
 * The one list of orchestrators and activities, used both by the Functions app registration and by
 * the in-process durable host, so the two can never disagree on a name.
 */
export const orchestrators = {
  // Each writes one job.ended line when it completes or fails (src/monitoring/job-end-log.ts).
  [OrchestratorNames.vaultBackup]: withJobEndLog("vault-backup", vaultBackupOrchestrator),
  [OrchestratorNames.vaultRestore]: withJobEndLog("vault-restore", vaultRestoreOrchestrator),
  [OrchestratorNames.hsmBackup]: withJobEndLog("hsm-backup", hsmBackupOrchestrator),
  [OrchestratorNames.hsmRestore]: withJobEndLog("hsm-restore", hsmRestoreOrchestrator),
} as const;

export interface ActivityDependencies {
  /** The objects of each vault, kind by kind. */
  readonly vaultObjects: VaultObjectsFactory;
  readonly store: BackupStore;
  /** For invocations that bring no logger of their own (the local host); the Functions app passes one per invocation. */
  readonly log?: ActivityLogger;
  /** Managed HSM admin clients; without them the HSM activities are not registered. */
  readonly hsmClients?: HsmClientFactory;
  /** How the HSM reaches the backup container (default: its managed identity, no SAS). */
  readonly hsmStorageAccess?: HsmStorageAccess;
}

/**
 * The registered activities, each typed by its contract (src/contracts.ts): its input, and what the host
 * tells this invocation (its logger). Whatever one throws is tagged retryable or final
 * (activities/failures.ts), which the orchestrators' retries go by.
 */
export type ActivityHandlers = Partial<Activities<ActivityInvocation>>;

/**
 * An activity as a host calls it: with the input the host delivers, which is what the orchestrator
 * scheduled through callActivity (orchestrators/retry.ts), checked there against the same contract.
 */
export type HostedActivity = (input: unknown, invocation?: ActivityInvocation) => Promise<unknown>;

/** The activity `name` as a host calls it, when it is registered. */
export function hostedActivity(handlers: ActivityHandlers, name: ActivityName): HostedActivity | undefined {
  return handlers[name] as HostedActivity | undefined;
}

/**
 * What a host runs for the activity `name`: the registered one, told about this invocation. Handlers that
 * cannot be built (a bad setting) or that lack the activity fail it for good: no attempt will read other settings.
 */
export async function runHostedActivity(handlers: () => ActivityHandlers, name: ActivityName, input: unknown, invocation?: ActivityInvocation): Promise<unknown> {
  let handler: HostedActivity | undefined;
  try {
    handler = hostedActivity(handlers(), name);
    if (!handler) throw new ConfigurationError([`activity ${name} is not available in this deployment`]);
  } catch (error) {
    throw tagActivityFailure(error);
  }
  return handler(input, invocation);
}

export function createActivityHandlers(deps: ActivityDependencies): ActivityHandlers {
  const { vaultObjects, store, log } = deps;
  const reader = new BackupSetReader(store);
  const backup = createVaultBackupActivities({ vaultObjects, store, reader, ...(log ? { log } : {}) });
  const restore = createVaultRestoreActivities({ vaultObjects, store, reader, ...(log ? { log } : {}) });
  return {
    [ActivityNames.takeInventory]: withFailureVerdict(backup.takeInventory),
    [ActivityNames.backupObjectBatch]: withFailureVerdict(backup.backupObjectBatch),
    [ActivityNames.writeBackupManifest]: withFailureVerdict(backup.writeBackupManifest),
    [ActivityNames.planRestore]: withFailureVerdict(restore.planRestore),
    [ActivityNames.restoreObjectBatch]: withFailureVerdict(restore.restoreObjectBatch),
    [ActivityNames.writeRestoreReport]: withFailureVerdict(restore.writeRestoreReport),
    ...(deps.hsmClients ? createHsmActivityHandlers({ hsmClients: deps.hsmClients, storageAccess: deps.hsmStorageAccess, log: deps.log }) : {}),
  };
}

/**
 * The activities as the in-process durable host calls them (input only): their records go to the logger of
 * their dependencies. The host's own InvocationContext is not passed on.
 */
export function forLocalHost(handlers: ActivityHandlers): Record<string, (input: unknown) => Promise<unknown>> {
  const names = Object.keys(handlers) as ActivityName[];
  return Object.fromEntries(names.map((name) => [name, (input: unknown) => hostedActivity(handlers, name)!(input)]));
}

/** The HSM activities alone: what a host that only runs HSM jobs (the hsm-* CLI commands) registers. */
export function createHsmActivityHandlers(deps: {
  readonly hsmClients: HsmClientFactory;
  readonly storageAccess?: HsmStorageAccess;
  readonly log?: ActivityLogger;
}): ActivityHandlers {
  const hsm = createHsmActivities({
    hsmClients: deps.hsmClients,
    storageAccess: deps.storageAccess ?? createHsmStorageAccess(),
    ...(deps.log ? { log: deps.log } : {}),
  });
  return {
    [ActivityNames.startHsmBackup]: withFailureVerdict(hsm.startHsmBackup),
    [ActivityNames.startHsmRestore]: withFailureVerdict(hsm.startHsmRestore),
    [ActivityNames.getHsmJobStatus]: withFailureVerdict(hsm.getHsmJobStatus),
  };
}
