import { OrchestratorNames } from "../../src/contracts";
import { createHttpHandlers } from "../../src/functions/http/handlers";
import { vaultRestoreInput } from "../../src/jobs/inputs";
import { EmulatorTokenCredential, createVaultConnections } from "../../src/keyvault/clients";
import { vaultObjectsOf } from "../../src/keyvault/object-kinds";
import { LocalDurableHost } from "../../src/local/durable-host";
import { createActivityHandlers, forLocalHost, orchestrators } from "../../src/registry";
import type { FileBackupStore } from "../../src/storage/file-store";
import { FakeDurableClient } from "./fake-client";
import { VAULT, capturingContext, post, tempStore, testConfig } from "./fixtures";

/**
 * A job whose failure no retry can fix ends at its first attempt. `POST /api/restores` naming a target
 * vault used not to look the set up, and a set that was not there failed only after five attempts of the
 * job's plan, about 30 s of waits. Now the request is answered 404 at once; a job whose set is gone by the
 * time it runs (retention, say) still ends at the first attempt.
 */
describe("a restore started over HTTP for a backup set that does not exist", () => {
  let store: FileBackupStore;
  let cleanup: () => void;

  beforeAll(async () => {
    ({ store, cleanup } = await tempStore());
  });
  afterAll(() => cleanup());

  it("when the request names a target vault, it is answered 404 naming the field, and no job starts", async () => {
    // Prepare
    const client = new FakeDurableClient();
    const handlers = createHttpHandlers({ config: testConfig(), store });

    // Act
    const response = await handlers.startVaultRestore(post("restores", { backupSet: "20200101T000000Z-nosuchjob", vault: VAULT }), client as never, capturingContext().context);

    // Assess
    expect(response.status).toBe(404);
    expect(JSON.stringify(response.jsonBody)).toContain("backupSet");
    expect(client.started).toEqual([]);
  });

  it("when a restore job runs for a set that is not there, it fails at the first attempt of its plan, saying the set is not there", async () => {
    // Prepare: the job as the HTTP API starts it
    const started = {
      name: OrchestratorNames.vaultRestore,
      instanceId: "restore-of-a-missing-set",
      input: vaultRestoreInput({ backupSetId: "20200101T000000Z-nosuchjob", targetVaultUrl: VAULT, include: [], exclude: [], dryRun: false, onConflict: "skip" }, testConfig().tuning),
    };
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
