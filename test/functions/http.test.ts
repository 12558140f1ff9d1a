import type { HttpResponseInit } from "@azure/functions";
import { OrchestratorNames, type HsmBackupInput, type HsmRestoreInput, type VaultBackupInput, type VaultRestoreInput } from "../../src/contracts";
import { createHttpHandlers, HTTP_FUNCTIONS, type HttpHandlers } from "../../src/functions/http/handlers";
import { MAX_BODY_BYTES } from "../../src/functions/http/respond";
import { parseJobId } from "../../src/jobs/ids";
import type { FileBackupStore } from "../../src/storage/file-store";
import { DEFAULT_ACTIVITY_RETRY } from "../../src/retry-policies";
import { DEFAULT_HSM_POLLING, DEFAULT_TUNING } from "../../src/tuning";
import { FakeDurableClient } from "./fake-client";
import {
  BASE, FOREIGN_VAULT, HSM, HSM_CONTAINER, OTHER_VAULT, VAULT,
  capturingContext, get, post, postTo, tempStore, testConfig, writeSet,
} from "./fixtures";

const NOW = new Date("2026-03-10T12:00:00.000Z");
/** Known before beforeAll runs, so test tables can use it. */
const SET_ID = "20260301T020000Z-scheduled-kv-prod-keys-202603010200";

let store: FileBackupStore;
let cleanup: () => void;
let handlers: HttpHandlers;
let client: FakeDurableClient;
let clock: Date;
let bareSetId: string;
let foreignSetId: string;

beforeAll(async () => {
  ({ store, cleanup } = await tempStore());
  bareSetId = await writeSet(store, VAULT, "2026-03-01T02:00:00.000Z", "scheduled-kv-prod-keys-202603010200", "complete");
  if (bareSetId !== SET_ID) throw new Error(`the fixture set is ${bareSetId}, not ${SET_ID}`);
  foreignSetId = await writeSet(store, FOREIGN_VAULT, "2026-03-02T02:00:00.000Z", "job-foreign", "complete");
  await writeSet(store, VAULT, "2026-03-05T02:00:00.000Z", "incomplete-job", "incomplete");
});
afterAll(() => cleanup());

beforeEach(() => {
  clock = NOW;
  client = new FakeDurableClient(() => clock);
  let n = 0;
  handlers = createHttpHandlers({ config: testConfig(), store, now: () => clock, randomHex4: () => (n++).toString(16).padStart(4, "0") });
});

function body(response: HttpResponseInit): any {
  return response.jsonBody;
}

async function call(name: keyof HttpHandlers, request: ReturnType<typeof post>) {
  const captured = capturingContext();
  const response = await handlers[name](request, client, captured.context);
  return { response, status: response.status, body: body(response), records: captured.records() };
}

describe("HTTP registrations", () => {
  it("when the function files are imported, every HTTP function requires a function key and none is anonymous", () => {
    const registered: { kind: string; name: string; options: any }[] = [];
    // A fresh module registry, so the function files register again; the spies go on its own copy of the library.
    jest.isolateModules(() => {
      const functions = require("@azure/functions") as typeof import("@azure/functions");
      for (const kind of ["http", "generic", "timer"] as const) {
        jest.spyOn(functions.app, kind).mockImplementation(((name: string, options: any) => {
          registered.push({ kind, name, options });
        }) as any);
      }
      require("../../src/functions/http");
      require("../../src/functions/timer");
      require("../../src/functions/durable");
    });
    const http = registered.filter((r) => r.kind === "http");
    expect(http.map((r) => r.name).sort()).toEqual(HTTP_FUNCTIONS.map((f) => f.name).sort());
    for (const r of http) {
      expect(r.options.authLevel).toBe("function");
      const spec = HTTP_FUNCTIONS.find((f) => f.name === r.name)!;
      expect(r.options.route).toBe(spec.route);
      expect(r.options.methods).toEqual(spec.methods);
    }
    // No other function carries an HTTP trigger of its own that could be anonymous.
    for (const r of registered.filter((x) => x.kind !== "http")) {
      expect(r.options.trigger?.type).not.toBe("httpTrigger");
    }
    const timer = registered.filter((r) => r.kind === "timer");
    expect(timer).toHaveLength(1);
    expect(timer[0]!.options.schedule).toBe("%KVBACKUP_SCHEDULE%");
    // Function names must be unique across the app (activities included).
    const names = registered.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it("when the spec list is read, every route is unique per method and authLevel is function", () => {
    const keys = HTTP_FUNCTIONS.flatMap((f) => f.methods.map((m) => `${m} ${f.route}`));
    expect(new Set(keys).size).toBe(keys.length);
    expect(HTTP_FUNCTIONS.every((f) => f.authLevel === "function")).toBe(true);
  });
});

describe("POST /api/backups", () => {
  it("when a valid backup is posted, it starts the vault backup and answers 202 with Location", async () => {
    const { status, body, response, records } = await call("startVaultBackup", post("backups", { vault: VAULT, include: ["prod-*"], exclude: ["tmp-*"] }));
    expect(status).toBe(202);
    expect(body).toEqual({ id: expect.any(String), type: "vault-backup", target: VAULT, statusUrl: `${BASE}/api/jobs/${body.id}` });
    expect((response.headers as Record<string, string>).Location).toBe(`${BASE}/api/jobs/${body.id}`);
    expect(body.id).toBe("backup-kv-prod-keys-202603101200000000");
    expect(parseJobId(body.id)).toMatchObject({ op: "backup", targetKey: "kv-prod-keys" });
    expect(client.startNew).toHaveBeenCalledTimes(1);
    // No kinds named: every kind of the vault.
    const input: VaultBackupInput = { vaultUrl: VAULT, kinds: ["certificate", "key", "secret"], include: ["prod-*"], exclude: ["tmp-*"], versionDetails: true, tuning: DEFAULT_TUNING, retry: DEFAULT_ACTIVITY_RETRY };
    expect(client.startNew).toHaveBeenCalledWith(OrchestratorNames.vaultBackup, { instanceId: body.id, input });
    expect(records).toContainEqual(expect.objectContaining({ source: "kvbackup", event: "job.started", jobId: body.id, type: "vault-backup", target: VAULT, trigger: "http" }));
  });

  it("when kinds are named (plural or singular, any order), the backup takes those kinds only, and its start line says which", async () => {
    const { status, records } = await call("startVaultBackup", post("backups", { vault: VAULT, kinds: ["secrets", "key"], include: ["secret:db-*", "key:*"] }));
    expect(status).toBe(202);
    expect(client.started[0]!.input).toMatchObject({ kinds: ["key", "secret"], include: ["secret:db-*", "key:*"] });
    expect(records).toContainEqual(expect.objectContaining({ event: "job.started", type: "vault-backup", kinds: ["key", "secret"] }));
  });

  it("when versionDetails is false, the backup is started without version listing", async () => {
    const { status, records } = await call("startVaultBackup", post("backups", { vault: VAULT, versionDetails: false }));
    expect(status).toBe(202);
    expect((client.started[0]!.input as VaultBackupInput).versionDetails).toBe(false);
    expect(records).toContainEqual(expect.objectContaining({ event: "job.started", type: "vault-backup", versionDetails: false }));
  });

  it("when the vault URL differs only in case and a trailing slash, it is matched to the allow-list", async () => {
    const { status, body } = await call("startVaultBackup", post("backups", { vault: "https://Prod-Keys.vault.azure.net/" }));
    expect(status).toBe(202);
    expect(body.target).toBe(VAULT);
    expect((client.started[0]!.input as VaultBackupInput).vaultUrl).toBe(VAULT);
  });

  it("when the vault is not on the allow-list, it answers 403 and starts nothing and asks nothing", async () => {
    const { status, body } = await call("startVaultBackup", post("backups", { vault: FOREIGN_VAULT }));
    expect(status).toBe(403);
    expect(body.error.field).toBe("vault");
    expect(client.startNew).not.toHaveBeenCalled();
    expect(client.getStatusBy).not.toHaveBeenCalled();
    expect(client.getStatus).not.toHaveBeenCalled();
  });

  it.each([
    ["the vault is missing", {}, "vault"],
    ["the vault is not a string", { vault: 42 }, "vault"],
    ["the vault is not a URL", { vault: "prod-keys" }, "vault"],
    ["the vault uses http", { vault: "http://prod-keys.vault.azure.net" }, "vault"],
    ["the vault has a path", { vault: `${VAULT}/keys/k1` }, "vault"],
    ["the vault is a Managed HSM", { vault: HSM }, "vault"],
    ["the vault is a loopback host without the emulator", { vault: "https://127.0.0.1:8443" }, "vault"],
    ["include is not an array", { vault: VAULT, include: "prod-*" }, "include"],
    ["an exclude glob has a bad character", { vault: VAULT, exclude: ["a/b"] }, "exclude.0"],
    ["an unknown field is sent", { vault: VAULT, purge: true }, "purge"],
    ["versionDetails is a string", { vault: VAULT, versionDetails: "no" }, "versionDetails"],
    ["kinds names something that is not a kind", { vault: VAULT, kinds: ["keys", "passwords"] }, "kinds"],
    ["kinds is empty", { vault: VAULT, kinds: [] }, "kinds"],
    ["kinds is a string", { vault: VAULT, kinds: "keys" }, "kinds"],
    ["a glob names an unknown kind", { vault: VAULT, include: ["password:db-*"] }, "include.0"],
    ["the body is an array", [VAULT], "(body)"],
  ])("when %s, it answers 400 naming the field", async (_what, payload, field) => {
    const { status, body } = await call("startVaultBackup", post("backups", payload));
    expect(status).toBe(400);
    expect(body).toEqual({ error: { field, reason: expect.any(String) } });
    expect(client.startNew).not.toHaveBeenCalled();
  });

  it("when the body is not JSON, it answers 400 for the body", async () => {
    const { status, body } = await call("startVaultBackup", post("backups", "{vault: nope"));
    expect(status).toBe(400);
    expect(body.error).toEqual({ field: "(body)", reason: "is not valid JSON" });
  });

  it("when the body is empty, it answers 400 for the body", async () => {
    const { status, body } = await call("startVaultBackup", post("backups", ""));
    expect(status).toBe(400);
    expect(body.error.field).toBe("(body)");
  });

  it("when the body is over the size cap, it answers 413 without parsing it", async () => {
    const big = { vault: VAULT, include: Array.from({ length: 2000 }, (_, i) => `key-${i}-*`) };
    expect(JSON.stringify(big).length).toBeGreaterThan(MAX_BODY_BYTES);
    expect((await call("startVaultBackup", post("backups", big))).status).toBe(413);
    const declared = await call("startVaultBackup", post("backups", { vault: VAULT }, { "content-length": String(MAX_BODY_BYTES + 1) }));
    expect(declared.status).toBe(413);
    expect(client.startNew).not.toHaveBeenCalled();
  });

  it("when a job is already running on the vault, it answers 409 with the running job's id and starts nothing", async () => {
    const first = await call("startVaultBackup", post("backups", { vault: VAULT }));
    const second = await call("startVaultBackup", post("backups", { vault: VAULT }));
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({ error: { field: "vault" }, runningJobId: first.body.id, statusUrl: `${BASE}/api/jobs/${first.body.id}` });
    expect(client.startNew).toHaveBeenCalledTimes(1);
    expect(second.records).toContainEqual(expect.objectContaining({ event: "job.refused", runningJobId: first.body.id }));
  });

  it("when the other vault is busy, a backup of this vault still starts", async () => {
    await call("startVaultBackup", post("backups", { vault: OTHER_VAULT }));
    expect((await call("startVaultBackup", post("backups", { vault: VAULT }))).status).toBe(202);
  });

  it("when the earlier job on the vault has finished, a new one starts with a new id", async () => {
    const first = await call("startVaultBackup", post("backups", { vault: VAULT }));
    client.completeAll();
    clock = new Date(NOW.getTime() + 1000);
    const second = await call("startVaultBackup", post("backups", { vault: VAULT }));
    expect(second.status).toBe(202);
    expect(second.body.id).not.toBe(first.body.id);
  });

  it("when two starts race past the first check, the later one yields: it is terminated and answers 409", async () => {
    // The competitor appears between our first look and our start, created a moment earlier.
    client.afterStart = (id) => {
      client.afterStart = undefined;
      client.seed({ name: OrchestratorNames.vaultBackup, instanceId: "backup-kv-prod-keys-20260310115959beef", createdTime: new Date(NOW.getTime() - 1), runtimeStatus: "Pending" });
      expect(id).not.toBe("backup-kv-prod-keys-20260310115959beef");
    };
    const { status, body } = await call("startVaultBackup", post("backups", { vault: VAULT }));
    expect(status).toBe(409);
    expect(body.runningJobId).toBe("backup-kv-prod-keys-20260310115959beef");
    expect(client.terminated).toEqual([{ instanceId: client.started[0]!.instanceId, reason: "superseded" }]);
  });

  it("when a scheduled job runs on the vault, an HTTP restore into it answers 409", async () => {
    client.seed({ name: OrchestratorNames.vaultBackup, instanceId: "scheduled-kv-prod-keys-202603100200", runtimeStatus: "Running" });
    const { status, body } = await call("startVaultRestore", post("restores", { backupSet: bareSetId, vault: VAULT }));
    expect(status).toBe(409);
    expect(body.runningJobId).toBe("scheduled-kv-prod-keys-202603100200");
  });
});

describe("POST /api/restores", () => {
  it("when a target vault is named, it restores there with the given options", async () => {
    const { status, body } = await call(
      "startVaultRestore",
      post("restores", { backupSet: bareSetId, vault: `${OTHER_VAULT}/`, include: ["a*"], dryRun: true, onConflict: "fail" }),
    );
    expect(status).toBe(202);
    expect(body).toMatchObject({ type: "vault-restore", target: OTHER_VAULT });
    expect(body.id).toMatch(/^restore-kv-dr-keys-/);
    const input: VaultRestoreInput = {
      backupSetId: bareSetId, targetVaultUrl: OTHER_VAULT, include: ["a*"], exclude: [], dryRun: true, onConflict: "fail",
      tuning: DEFAULT_TUNING, retry: DEFAULT_ACTIVITY_RETRY,
    };
    expect(client.startNew).toHaveBeenCalledWith(OrchestratorNames.vaultRestore, { instanceId: body.id, input });
  });

  it("when no vault is named and the reference has a vault folder, the target is that allowed vault", async () => {
    const { status, body } = await call("startVaultRestore", post("restores", { backupSet: `prod-keys.vault.azure.net/${bareSetId}` }));
    expect(status).toBe(202);
    expect(body.target).toBe(VAULT);
    expect(client.started[0]!.input).toMatchObject({ targetVaultUrl: VAULT, dryRun: false, onConflict: "skip" });
  });

  it("when no vault is named and the reference's vault folder is not allowed, it answers 403", async () => {
    const { status, body } = await call("startVaultRestore", post("restores", { backupSet: `not-ours.vault.azure.net/${foreignSetId}` }));
    expect(status).toBe(403);
    expect(body.error.field).toBe("backupSet");
    expect(client.startNew).not.toHaveBeenCalled();
  });

  it("when no vault is named and the id is bare, it reads the manifest and leaves the target to the orchestration", async () => {
    const { status, body } = await call("startVaultRestore", post("restores", { backupSet: bareSetId }));
    expect(status).toBe(202);
    expect(body.target).toBe(VAULT);
    expect(body.id).toMatch(/^restore-kv-prod-keys-/);
    expect(client.started[0]!.input).not.toHaveProperty("targetVaultUrl");
  });

  it("when the bare id's manifest names a vault off the allow-list, it answers 403 and starts nothing", async () => {
    const { status, body } = await call("startVaultRestore", post("restores", { backupSet: foreignSetId }));
    expect(status).toBe(403);
    expect(body.error.field).toBe("backupSet");
    expect(client.startNew).not.toHaveBeenCalled();
  });

  it("when the bare id names no set, it answers 404", async () => {
    const { status, body } = await call("startVaultRestore", post("restores", { backupSet: "20200101T000000Z-nothing" }));
    expect(status).toBe(404);
    expect(body.error.field).toBe("backupSet");
  });

  it("when the bare id names a set without a manifest, it answers 409", async () => {
    const { status } = await call("startVaultRestore", post("restores", { backupSet: "20260305T020000Z-incomplete-job" }));
    expect(status).toBe(409);
  });

  it("when the named target vault is not allowed, it answers 403", async () => {
    const { status, body } = await call("startVaultRestore", post("restores", { backupSet: bareSetId, vault: FOREIGN_VAULT }));
    expect(status).toBe(403);
    expect(body.error.field).toBe("vault");
    expect(client.startNew).not.toHaveBeenCalled();
  });

  it.each([
    ["backupSet is missing", { vault: VAULT }, "backupSet"],
    ["backupSet climbs out of its folder", { backupSet: `../${SET_ID}` }, "backupSet"],
    ["backupSet is not an id", { backupSet: "latest" }, "backupSet"],
    ["dryRun is a string", { backupSet: SET_ID, dryRun: "yes" }, "dryRun"],
    ["onConflict is unknown", { backupSet: SET_ID, onConflict: "overwrite" }, "onConflict"],
    ["an unknown field is sent", { backupSet: SET_ID, purge: true }, "purge"],
    ["include has a bad glob", { backupSet: SET_ID, include: ["../x"] }, "include.0"],
  ])("when %s, it answers 400 naming the field", async (_what, payload, field) => {
    const { status, body } = await call("startVaultRestore", post("restores", payload));
    expect(status).toBe(400);
    expect(body.error.field).toBe(field);
    expect(client.startNew).not.toHaveBeenCalled();
  });
});

describe("POST /api/hsm/backups and /api/hsm/restores", () => {
  it("when an allowed HSM is backed up, it starts the HSM backup into the configured container", async () => {
    const { status, body } = await call("startHsmBackup", post("hsm/backups", { hsm: `${HSM}/` }));
    expect(status).toBe(202);
    expect(body).toMatchObject({ type: "hsm-backup", target: HSM });
    expect(body.id).toMatch(/^backup-hsm-prod-hsm-\d{14}[0-9a-f]{4}$/);
    const input: HsmBackupInput = { hsmUrl: HSM, containerUrl: HSM_CONTAINER, polling: DEFAULT_HSM_POLLING };
    expect(client.startNew).toHaveBeenCalledWith(OrchestratorNames.hsmBackup, { instanceId: body.id, input });
  });

  it("when a second HSM job is asked for while one runs, it answers 409", async () => {
    const first = await call("startHsmBackup", post("hsm/backups", { hsm: HSM }));
    const second = await call("startHsmRestore", post("hsm/restores", { hsm: HSM, folderUrl: `${HSM_CONTAINER}/mhsm-prod-hsm-20260301020000` }));
    expect(second.status).toBe(409);
    expect(second.body.runningJobId).toBe(first.body.id);
  });

  it("when an HSM restore names a folder and a key, it starts a selective restore", async () => {
    const folderUrl = `${HSM_CONTAINER}/mhsm-prod-hsm-20260301020000`;
    const { status, body } = await call("startHsmRestore", post("hsm/restores", { hsm: HSM, folderUrl, key: "signing-key" }));
    expect(status).toBe(202);
    const input: HsmRestoreInput = { hsmUrl: HSM, folderUrl, keyName: "signing-key", polling: DEFAULT_HSM_POLLING };
    expect(client.startNew).toHaveBeenCalledWith(OrchestratorNames.hsmRestore, { instanceId: body.id, input });
  });

  it("when the HSM is not allowed, it answers 403 and starts nothing", async () => {
    const { status, body } = await call("startHsmBackup", post("hsm/backups", { hsm: "https://other-hsm.managedhsm.azure.net" }));
    expect(status).toBe(403);
    expect(body.error.field).toBe("hsm");
    expect(client.startNew).not.toHaveBeenCalled();
  });

  it.each([
    ["backup", "hsmBackup is given a vault URL", { hsm: VAULT }, "hsm"],
    ["backup", "an unknown field is sent", { hsm: HSM, containerUrl: HSM_CONTAINER }, "containerUrl"],
    ["restore", "folderUrl is missing", { hsm: HSM }, "folderUrl"],
    ["restore", "folderUrl is in another container", { hsm: HSM, folderUrl: "https://backupacct.blob.core.windows.net/other/mhsm-prod-hsm-20260301020000" }, "folderUrl"],
    ["restore", "folderUrl carries a SAS", { hsm: HSM, folderUrl: `${HSM_CONTAINER}/mhsm-prod-hsm-20260301020000?sig=abc` }, "folderUrl"],
    ["restore", "folderUrl is not a backup folder", { hsm: HSM, folderUrl: `${HSM_CONTAINER}/whatever` }, "folderUrl"],
    ["restore", "key is not a key name", { hsm: HSM, folderUrl: `${HSM_CONTAINER}/mhsm-prod-hsm-20260301020000`, key: "a/b" }, "key"],
  ])("when (%s) %s, it answers 400 naming the field", async (which, _what, payload, field) => {
    const handler = which === "backup" ? "startHsmBackup" : "startHsmRestore";
    const { status, body } = await call(handler, post(which === "backup" ? "hsm/backups" : "hsm/restores", payload));
    expect(status).toBe(400);
    expect(body.error.field).toBe(field);
    expect(client.startNew).not.toHaveBeenCalled();
  });
});

describe("GET /api/jobs/{id}, GET /api/jobs, POST /api/jobs/{id}/cancel", () => {
  it("when a job exists, it answers its type, target, progress and result", async () => {
    const started = await call("startVaultBackup", post("backups", { vault: VAULT }));
    Object.assign(client.instances.get(started.body.id)!, {
      runtimeStatus: "Running",
      customStatus: { phase: "backup", keysTotal: 10, keysSucceeded: 3, keysFailed: 1, keysSkipped: 0, keysPending: 6 },
      lastUpdatedTime: new Date(NOW.getTime() + 5000),
    });
    const { status, body } = await call("getJob", get(`jobs/${started.body.id}`, {}, { id: started.body.id }));
    expect(status).toBe(200);
    expect(body).toEqual({
      id: started.body.id, type: "vault-backup", trigger: "http", target: VAULT, runtimeStatus: "Running",
      progress: { phase: "backup", keysTotal: 10, keysSucceeded: 3, keysFailed: 1, keysSkipped: 0, keysPending: 6 },
      createdTime: NOW.toISOString(), lastUpdatedTime: new Date(NOW.getTime() + 5000).toISOString(),
      result: null, statusUrl: `${BASE}/api/jobs/${started.body.id}`,
    });
    client.completeAll({ backupSetId: "x", state: "complete" });
    expect((await call("getJob", get("jobs/x", {}, { id: started.body.id }))).body.result).toEqual({ backupSetId: "x", state: "complete" });
  });

  it("when a job failed, its error is shown", async () => {
    client.seed({ name: OrchestratorNames.hsmBackup, instanceId: "scheduled-hsm-prod-hsm-202603100200", runtimeStatus: "Failed", output: "HSM job timed out" });
    const { body } = await call("getJob", get("jobs/x", {}, { id: "scheduled-hsm-prod-hsm-202603100200" }));
    expect(body).toMatchObject({ type: "hsm-backup", trigger: "schedule", target: HSM, error: "HSM job timed out", result: null });
  });

  it("when the job is unknown, it answers 404; when the id is malformed, 400", async () => {
    expect((await call("getJob", get("jobs/nope", {}, { id: "backup-kv-nope-202603101200000000" }))).status).toBe(404);
    const bad = await call("getJob", get("jobs/x", {}, { id: "../../etc" }));
    expect(bad.status).toBe(400);
    expect(bad.body.error.field).toBe("id");
  });

  it("when an instance is not a kvbackup job, it answers 404", async () => {
    client.seed({ name: "someOtherOrchestrator", instanceId: "other-1" });
    expect((await call("getJob", get("jobs/other-1", {}, { id: "other-1" }))).status).toBe(404);
  });

  it("when jobs are listed, it filters by status and type, newest first, and ignores the function key parameter", async () => {
    client.seed({ name: OrchestratorNames.vaultBackup, instanceId: "backup-kv-prod-keys-202603091200000000", runtimeStatus: "Completed", createdTime: new Date("2026-03-09T12:00:00Z"), output: { big: "x" } });
    client.seed({ name: OrchestratorNames.vaultRestore, instanceId: "restore-kv-dr-keys-202603101100000000", runtimeStatus: "Running", createdTime: new Date("2026-03-10T11:00:00Z") });
    client.seed({ name: OrchestratorNames.hsmBackup, instanceId: "scheduled-hsm-prod-hsm-202603100200", runtimeStatus: "Running", createdTime: new Date("2026-03-10T02:00:00Z") });
    client.seed({ name: OrchestratorNames.vaultBackup, instanceId: "backup-kv-prod-keys-202601011200000000", runtimeStatus: "Completed", createdTime: new Date("2026-01-01T12:00:00Z") });
    client.seed({ name: "someOtherOrchestrator", instanceId: "other-1", createdTime: new Date("2026-03-10T11:30:00Z") });

    const all = await call("listJobs", get("jobs", { code: "function-key" }));
    expect(all.status).toBe(200);
    expect(all.body.jobs.map((j: any) => j.id)).toEqual([
      "restore-kv-dr-keys-202603101100000000", "scheduled-hsm-prod-hsm-202603100200", "backup-kv-prod-keys-202603091200000000",
    ]);
    expect(all.body.jobs[2]).not.toHaveProperty("result");

    const running = await call("listJobs", get("jobs", { status: "running" }));
    expect(running.body.jobs.map((j: any) => j.id)).toEqual(["restore-kv-dr-keys-202603101100000000", "scheduled-hsm-prod-hsm-202603100200"]);
    const hsm = await call("listJobs", get("jobs", { type: "hsm-backup", status: "Running,Completed" }));
    expect(hsm.body.jobs.map((j: any) => j.target)).toEqual([HSM]);
    const older = await call("listJobs", get("jobs", { days: "90", limit: "1", type: "vault-backup" }));
    expect(older.body.count).toBe(1);
  });

  it.each([
    ["an unknown status", "status=Running,Sleeping", "query.status"],
    ["an unknown type", "type=full", "query.type"],
    ["days out of range", "days=1000", "query.days"],
    ["limit not a number", "limit=ten", "query.limit"],
    ["an unknown parameter", "owner=me", "query.owner"],
    ["a parameter given twice", "type=vault-backup&type=hsm-backup", "query.type"],
  ])("when jobs are listed with %s, it answers 400 naming the parameter", async (_what, qs, field) => {
    const { status, body } = await call("listJobs", get("jobs", qs));
    expect(status).toBe(400);
    expect(body.error.field).toBe(field);
  });

  it("when a running job is canceled, it is terminated and the answer is 202", async () => {
    const started = await call("startVaultBackup", post("backups", { vault: VAULT }));
    const { status, body, records } = await call("cancelJob", postTo(`jobs/${started.body.id}/cancel`, { id: started.body.id }));
    expect(status).toBe(202);
    expect(body).toMatchObject({ id: started.body.id, previousStatus: "Pending" });
    expect(client.terminate).toHaveBeenCalledWith(started.body.id, "canceled");
    expect(records).toContainEqual(expect.objectContaining({ event: "job.canceled", jobId: started.body.id }));
    // Once it is no longer running, the vault is free again.
    clock = new Date(NOW.getTime() + 2000);
    expect((await call("startVaultBackup", post("backups", { vault: VAULT }))).status).toBe(202);
  });

  it("when a finished job is canceled, it answers 409; an unknown one, 404", async () => {
    client.seed({ name: OrchestratorNames.vaultBackup, instanceId: "backup-kv-prod-keys-202603091200000000", runtimeStatus: "Completed" });
    const done = await call("cancelJob", postTo("jobs/x/cancel", { id: "backup-kv-prod-keys-202603091200000000" }));
    expect(done.status).toBe(409);
    expect(done.body.error.reason).toMatch(/Completed/);
    expect((await call("cancelJob", postTo("jobs/x/cancel", { id: "backup-kv-missing-202603091200000000" }))).status).toBe(404);
    expect(client.terminate).not.toHaveBeenCalled();
  });
});

describe("GET /api/backup-sets", () => {
  it("when an allowed vault is named, it answers its catalog newest first", async () => {
    const { status, body } = await call("listBackupSets", get("backup-sets", { vault: VAULT }));
    expect(status).toBe(200);
    expect(body.vault).toBe(VAULT);
    expect(body.backupSets.map((s: any) => [s.backupSetId, s.state])).toEqual([
      ["20260305T020000Z-incomplete-job", "incomplete"],
      [bareSetId, "complete"],
    ]);
  });

  it("when the vault is missing it answers 400; when it is not allowed, 403", async () => {
    const missing = await call("listBackupSets", get("backup-sets"));
    expect(missing.status).toBe(400);
    expect(missing.body.error.field).toBe("query.vault");
    const foreign = await call("listBackupSets", get("backup-sets", { vault: FOREIGN_VAULT }));
    expect(foreign.status).toBe(403);
  });
});

describe("GET /api/status", () => {
  it("when called, it answers every allowed vault and HSM with its newest complete backup, its age and counts, and its newest job", async () => {
    client.seed({
      name: OrchestratorNames.hsmBackup, instanceId: "scheduled-hsm-prod-hsm-202603100200", runtimeStatus: "Completed",
      createdTime: new Date("2026-03-10T02:00:00Z"), lastUpdatedTime: new Date("2026-03-10T02:40:00Z"),
      output: { hsmUrl: HSM, operation: "backup", jobId: "h1", status: "Succeeded", endTime: "2026-03-10T02:30:00.000Z", folderUrl: `${HSM_CONTAINER}/mhsm-prod-hsm-20260310020000`, polls: 3 },
    });
    client.seed({ name: OrchestratorNames.vaultBackup, instanceId: "scheduled-kv-prod-keys-202603100200", runtimeStatus: "Failed", createdTime: new Date("2026-03-10T02:00:00Z") });
    const { status, body } = await call("status", get("status"));
    expect(status).toBe(200);
    expect(body.generatedAt).toBe(NOW.toISOString());
    expect(body.targets.map((t: any) => [t.target, t.kind])).toEqual([[VAULT, "vault"], [OTHER_VAULT, "vault"], [HSM, "hsm"]]);
    const [vault, other, hsm] = body.targets;
    // The manifest of the fixture set ends when it starts: 2026-03-01T02:00Z, 9 days and 10 hours before NOW.
    const keys = { total: 2, succeeded: 2, failed: 0, skipped: 0 };
    const none = { total: 0, succeeded: 0, failed: 0, skipped: 0 };
    expect(vault.lastComplete).toEqual({
      id: SET_ID, endedAt: "2026-03-01T02:00:00.000Z", ageHours: 226, keys, objects: keys, kinds: { keys, secrets: none, certificates: none }, versions: 2, bytes: 4,
    });
    expect(vault.newestSet).toMatchObject({ backupSetId: "20260305T020000Z-incomplete-job", state: "incomplete" });
    expect(vault.newestJob).toMatchObject({ id: "scheduled-kv-prod-keys-202603100200", type: "vault-backup", runtimeStatus: "Failed" });
    expect(other).toEqual({ target: OTHER_VAULT, kind: "vault", lastComplete: null, newestSet: null, newestJob: null });
    expect(hsm.lastComplete).toEqual({ id: "scheduled-hsm-prod-hsm-202603100200", endedAt: "2026-03-10T02:30:00.000Z", ageHours: 9.5, folderUrl: `${HSM_CONTAINER}/mhsm-prod-hsm-20260310020000` });
    expect(hsm.newestJob).toMatchObject({ type: "hsm-backup", runtimeStatus: "Completed" });
  });

  it("when a query parameter is given, it answers 400 naming it", async () => {
    const { status, body } = await call("status", get("status", { vault: VAULT }));
    expect(status).toBe(400);
    expect(body.error.field).toBe("query.vault");
  });
});

describe("errors", () => {
  it("when the durable client fails unexpectedly, it answers 500 without details and logs the error", async () => {
    client.getStatusBy.mockRejectedValueOnce(new Error("task hub unreachable: secret-ish detail"));
    const { status, body } = await call("startVaultBackup", post("backups", { vault: VAULT }));
    expect(status).toBe(500);
    expect(JSON.stringify(body)).not.toMatch(/secret-ish/);
  });

  it("when the emulator is configured, a loopback vault on the allow-list can be named", async () => {
    const local = createHttpHandlers({
      config: testConfig({ KVBACKUP_EMULATOR_CA: "/tmp/ca.pem", KVBACKUP_ALLOWED_VAULTS: "https://127.0.0.1:8443" }),
      store,
      now: () => NOW,
      randomHex4: () => "abcd",
    });
    const captured = capturingContext();
    const response = await local.startVaultBackup(post("backups", { vault: "https://127.0.0.1:8443/" }), client, captured.context);
    expect(response.status).toBe(202);
    expect(body(response).id).toBe("backup-kv-127-0-0-1-8443-20260310120000abcd");
  });
});
