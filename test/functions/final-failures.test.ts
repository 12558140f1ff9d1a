import { OrchestratorNames } from "../../src/contracts";
import { createHttpHandlers } from "../../src/functions/http/handlers";
import { EmulatorTokenCredential, createVaultConnections } from "../../src/keyvault/clients";
import { vaultObjectsOf } from "../../src/keyvault/object-kinds";
import { LocalDurableHost } from "../../src/local/durable-host";
import { createActivityHandlers, forLocalHost, orchestrators } from "../../src/registry";
import type { FileBackupStore } from "../../src/storage/file-store";
import { FakeDurableClient } from "./fake-client";
import { VAULT, capturingContext, post, tempStore, testConfig } from "./fixtures";

/**
 * A job whose failure no retry can fix ends at its first attempt. `POST /api/restores` naming a target
 * vault does not look the set up (the job's plan does): a set that is not there used to fail only after
 * five attempts of the plan, about 30 s of waits.
 */
describe("a restore started over HTTP for a backup set that does not exist", () => {
  let store: FileBackupStore;
  let cleanup: () => void;

  beforeAll(async () => {
    ({ store, cleanup } = await tempStore());
  });
  afterAll(() => cleanup());

  it("when the request names a target vault, the job it starts fails at the first attempt of its plan, saying the set is not there", async () => {
    // Prepare: the HTTP handler starts the job (it does not look the set up when a vault is named).
    const client = new FakeDurableClient();
    const handlers = createHttpHandlers({ config: testConfig(), store });
    const response = await handlers.startVaultRestore(post("restores", { backupSet: "20200101T000000Z-nosuchjob", vault: VAULT }), client as never, capturingContext().context);
    expect(response.status).toBe(202);
    const started = client.started[0]!;
    expect(started.name).toBe(OrchestratorNames.vaultRestore);
    // The registered activities, on the in-process host with the real clock (a retry would really wait).
    const vaultObjects = vaultObjectsOf(createVaultConnections({ credential: new EmulatorTokenCredential() }));
    const host = new LocalDurableHost({ orchestrators, activities: forLocalHost(createActivityHandlers({ vaultObjects, store })), clock: "real" });

    try {
      // Act
      await host.startNew(started.name, { instanceId: started.instanceId, input: started.input });
      const status = await host.waitForCompletion(started.instanceId, { timeoutMs: 60_000 });

      // Assess
      expect(status.runtimeStatus).toBe("Failed");
      expect(status.failureDetails?.errorMessage).toBe('no backup set "20200101T000000Z-nosuchjob" in the store');
      expect(status.metrics.activitiesScheduled).toBe(1);
      expect(status.metrics.timersCreated).toBe(0);
      expect(status.customStatus).toMatchObject({ phase: "plan", keysTotal: 0 });
    } finally {
      await host.close();
    }
  });
});
