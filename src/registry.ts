import { ActivityNames, OrchestratorNames } from "./contracts";
import { vaultBackupOrchestrator } from "../orchestrators/vault-backup";
import { vaultRestoreOrchestrator } from "../orchestrators/vault-restore";
import { hsmBackupOrchestrator, hsmRestoreOrchestrator } from "../orchestrators/hsm";
import { createVaultBackupActivities } from "../activities/vault-backup";
import { createVaultRestoreActivities } from "../activities/vault-restore";
import { createHsmActivities } from "../activities/hsm";
import { BackupSetReader } from "../activities/backup-set-reader";
import type { ActivityLogger } from "../activities/logging";
import type { KeyClientFactory } from "./keyvault/clients";
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
  readonly keyClients: KeyClientFactory;
  readonly store: BackupStore;
  readonly log?: ActivityLogger;
  /** Managed HSM admin clients; without them the HSM activities are not registered. */
  readonly hsmClients?: HsmClientFactory;
  /** How the HSM reaches the backup container (default: its managed identity, no SAS). */
  readonly hsmStorageAccess?: HsmStorageAccess;
}

export type ActivityName = (typeof ActivityNames)[keyof typeof ActivityNames];
export type ActivityHandlers = Partial<Record<ActivityName, (input: any) => Promise<unknown>>>;

export function createActivityHandlers(deps: ActivityDependencies): ActivityHandlers {
  const reader = new BackupSetReader(deps.store);
  const backup = createVaultBackupActivities({ ...deps, reader });
  const restore = createVaultRestoreActivities({ ...deps, reader });
  return {
    [ActivityNames.takeKeyInventory]: backup.takeKeyInventory,
    [ActivityNames.backupKeyBatch]: backup.backupKeyBatch,
    [ActivityNames.writeBackupManifest]: backup.writeBackupManifest,
    [ActivityNames.planRestore]: restore.planRestore,
    [ActivityNames.restoreKeyBatch]: restore.restoreKeyBatch,
    ...(deps.hsmClients ? createHsmActivityHandlers({ hsmClients: deps.hsmClients, storageAccess: deps.hsmStorageAccess, log: deps.log }) : {}),
  };
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
    [ActivityNames.startHsmBackup]: hsm.startHsmBackup,
    [ActivityNames.startHsmRestore]: hsm.startHsmRestore,
    [ActivityNames.getHsmJobStatus]: hsm.getHsmJobStatus,
  };
}
