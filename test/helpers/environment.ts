import type { KeyClient } from "@azure/keyvault-keys";
import { startEmulator } from "../../src/emulator";
import type { EmulatorOptions, RunningEmulator } from "../../src/emulator/types";
import { startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { directKeyClient } from "../../src/composition";
import { openBackupStore } from "../../src/storage/open-store";
import type { BackupStore } from "../../src/storage/backup-store";

/** Azurite + the emulator, started for one test file and stopped by it. */
export interface TestEnvironment {
  readonly azurite: RunningAzurite;
  readonly emulator: RunningEmulator;
  keyClient(vaultUrl: string): KeyClient;
  /** A store in a container of its own, so tests never see each other's sets. */
  store(container: string): BackupStore;
  stop(): Promise<void>;
}

export async function startTestEnvironment(emulatorOptions: EmulatorOptions = {}): Promise<TestEnvironment> {
  const azurite = await startAzurite();
  let emulator: RunningEmulator;
  try {
    emulator = await startEmulator({ seed: 7, ...emulatorOptions });
  } catch (error) {
    await azurite.stop();
    throw error;
  }
  return {
    azurite,
    emulator,
    keyClient: (vaultUrl) =>
      directKeyClient(vaultUrl, { emulatorCaCert: emulator.caCert, maxRetries: 6 }),
    store: (container) => openBackupStore({ storage: azurite.connectionString, container }),
    async stop() {
      await emulator.stop();
      await azurite.stop();
    },
  };
}
