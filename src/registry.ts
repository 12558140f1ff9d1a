import { ActivityNames, OrchestratorNames } from "./contracts";
import { vaultBackupOrchestrator } from "../orchestrators/vault-backup";
import { vaultRestoreOrchestrator } from "../orchestrators/vault-restore";
import { createVaultBackupActivities } from "../activities/vault-backup";
import { createVaultRestoreActivities } from "../activities/vault-restore";
import { BackupSetReader } from "../activities/backup-set-reader";
import type { ActivityLogger } from "../activities/logging";
import type { KeyClientFactory } from "./keyvault/clients";
import type { BackupStore } from "./storage/backup-store";

/**
 * The one list of orchestrators and activities, used both by the Functions app registration and by
 * the in-process durable host, so the two can never disagree on a name.
 */
export const orchestrators = {
  [OrchestratorNames.vaultBackup]: vaultBackupOrchestrator,
  [OrchestratorNames.vaultRestore]: vaultRestoreOrchestrator,
} as const;

export interface ActivityDependencies {
  readonly keyClients: KeyClientFactory;
  readonly store: BackupStore;
  readonly log?: ActivityLogger;
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
  };
}
