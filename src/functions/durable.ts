import { readFileSync } from "node:fs";
import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { DefaultAzureCredential } from "@azure/identity";
import { ActivityNames } from "../contracts";
import { loadConfig } from "../config";
import { createKeyClientFactory, EmulatorTokenCredential } from "../keyvault/clients";
import { createActivityHandlers, orchestrators, type ActivityHandlers } from "../registry";
import { openBackupStore } from "../storage/open-store";
import { createHsmClientFactory } from "../keyvault/hsm-admin-client";
import { createHsmStorageAccess } from "../storage/hsm-storage-access";

/**
 * Registers kvbackup's orchestrators and activities with the Functions host. Thin on purpose: the
 * logic lives in orchestrators/ and activities/, which tests and the CLI run without the host.
 */
for (const [name, orchestrator] of Object.entries(orchestrators)) {
  df.app.orchestration(name, orchestrator);
}

let handlers: ActivityHandlers | undefined;

/** Built on first use, so that a bad setting fails the activity with every problem named, not the import. */
function activityHandlers(context: InvocationContext): ActivityHandlers {
  if (!handlers) {
    const config = loadConfig();
    const emulatorCaCert = config.emulatorCaPath ? readFileSync(config.emulatorCaPath, "utf8") : undefined;
    const credential = emulatorCaCert ? new EmulatorTokenCredential() : new DefaultAzureCredential();
    handlers = createActivityHandlers({
      keyClients: createKeyClientFactory({ credential, emulatorCaCert, maxOperationsPer10s: config.maxOperationsPer10s }),
      store: openBackupStore({ storage: config.storage, container: config.container, credential: new DefaultAzureCredential() }),
      hsmClients: createHsmClientFactory({ credential, emulatorCaCert }),
      hsmStorageAccess: createHsmStorageAccess({ mode: config.hsmSasMode, storage: config.storage, credential: new DefaultAzureCredential() }),
      log: (record) => context.log(JSON.stringify({ source: "kvbackup", ...record })),
    });
  }
  return handlers;
}

for (const name of Object.values(ActivityNames)) {
  df.app.activity(name, {
    handler: (input: unknown, context: InvocationContext) => {
      const handler = activityHandlers(context)[name];
      if (!handler) throw new Error(`activity ${name} is not available in this deployment`);
      return handler(input);
    },
  });
}
