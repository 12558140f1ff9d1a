import type { HttpHandler } from "../../src/functions/http/handlers";
import { startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { createBlobBackupStore } from "../../src/storage/blob-store";
import { FakeDurableClient } from "../functions/fake-client";
import { capturingContext, get, VAULT, OTHER_VAULT } from "../functions/fixtures";

/**
 * The app as the Functions host runs it on day one: its registered HTTP and timer handlers, configured
 * from app settings, against a storage account where no backup has created the container yet.
 */
type TimerHandler = (timer: unknown, client: FakeDurableClient, context: unknown) => Promise<void>;

interface Registered {
  readonly http: Map<string, HttpHandler>;
  readonly timer: Map<string, TimerHandler>;
}

/** Imports the registration files in a fresh module registry and keeps the handlers they register. */
function registeredHandlers(): Registered {
  const http = new Map<string, HttpHandler>();
  const timer = new Map<string, TimerHandler>();
  jest.isolateModules(() => {
    const df = require("durable-functions") as typeof import("durable-functions");
    jest.spyOn(df.app.client, "http").mockImplementation(((name: string, options: { handler: HttpHandler }) => {
      http.set(name, options.handler);
    }) as never);
    jest.spyOn(df.app.client, "timer").mockImplementation(((name: string, options: { handler: TimerHandler }) => {
      timer.set(name, options.handler);
    }) as never);
    require("../../src/functions/http");
    require("../../src/functions/timer");
  });
  return { http, timer };
}

const CONTAINER = "fresh-never-created";
const saved = { ...process.env };
let azurite: RunningAzurite;

beforeAll(async () => {
  azurite = await startAzurite();
  // The app settings of a fresh deployment: the backup container is named but does not exist.
  Object.assign(process.env, {
    AzureWebJobsStorage: azurite.connectionString,
    KVBACKUP_STORAGE: azurite.connectionString,
    KVBACKUP_CONTAINER: CONTAINER,
    KVBACKUP_ALLOWED_VAULTS: `${VAULT},${OTHER_VAULT}`,
    KVBACKUP_SCHEDULE: "0 0 2 * * *",
  });
});
afterAll(async () => {
  process.env = saved;
  await azurite?.stop();
});

describe("a fresh deployment (the backup container does not exist yet)", () => {
  it("when GET /api/backup-sets is called, it answers 200 with an empty list", async () => {
    const { http } = registeredHandlers();
    const handler = http.get("httpListBackupSets");
    expect(handler).toBeDefined();
    const captured = capturingContext();
    const response = await handler!(get("backup-sets", { vault: VAULT }), new FakeDurableClient(), captured.context);
    expect(response.status).toBe(200);
    expect(response.jsonBody).toEqual({ vault: VAULT, backupSets: [] });
    expect(captured.records().filter((r) => String(r.event).endsWith("error"))).toEqual([]);
  });

  it("when the timer fires, the run succeeds: a job per vault and retention over no sets", async () => {
    const { timer } = registeredHandlers();
    const handler = timer.get("scheduledBackup");
    expect(handler).toBeDefined();
    const client = new FakeDurableClient();
    const captured = capturingContext();
    await expect(handler!({ isPastDue: false }, client, captured.context)).resolves.toBeUndefined();
    expect(client.started).toHaveLength(2);
    const records = captured.records();
    expect(records.filter((r) => r.event === "retention.summary")).toEqual([
      expect.objectContaining({ vault: VAULT, sets: 0, deletedSets: 0 }),
      expect.objectContaining({ vault: OTHER_VAULT, sets: 0, deletedSets: 0 }),
    ]);
    expect(records).toContainEqual(expect.objectContaining({ event: "schedule.run", started: 2, failed: 0 }));
    // Listing created nothing: the first backup creates the container.
    expect(await createBlobBackupStore({ storage: azurite.connectionString, container: CONTAINER }).missingRoot()).toMatch(/does not exist/);
  });
});
