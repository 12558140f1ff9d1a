import { lineLogger } from "../../src/monitoring/log-events";
import { OrchestratorNames, type HsmBackupInput, type VaultBackupInput } from "../../src/contracts";
import { runScheduledBackups, ScheduledRunError, scheduleSlot } from "../../src/jobs/scheduled";
import { listBackupSets } from "../../src/storage/catalog";
import type { FileBackupStore } from "../../src/storage/file-store";
import { DEFAULT_ACTIVITY_RETRY } from "../../src/retry-policies";
import { DEFAULT_HSM_POLLING, DEFAULT_TUNING } from "../../src/tuning";
import { FakeDurableClient } from "./fake-client";
import { HSM, HSM_CONTAINER, OTHER_VAULT, VAULT, tempStore, testConfig, writeSet } from "./fixtures";

const DAY = 24 * 3600_000;
const SLOT = new Date("2026-03-10T02:00:00.000Z");
const EXPECTED_IDS = ["scheduled-kv-prod-keys-202603100200", "scheduled-kv-dr-keys-202603100200", "scheduled-hsm-prod-hsm-202603100200"];

let store: FileBackupStore;
let cleanup: () => void;
let records: Record<string, unknown>[];
let clock: Date;
let client: FakeDurableClient;

beforeEach(async () => {
  ({ store, cleanup } = await tempStore());
  records = [];
  clock = new Date(SLOT.getTime() + 3_000);
  client = new FakeDurableClient(() => clock);
});
afterEach(() => cleanup());

function deps(env: Record<string, string> = {}) {
  return {
    config: testConfig(env),
    store,
    // Each record goes through JSON like the real log line, so a record that cannot be one fails here.
    log: lineLogger((line) => records.push(JSON.parse(line))),
  };
}

describe("scheduled backups", () => {
  it("when a slot runs, it starts one backup per allowed vault and HSM with slot-named ids", async () => {
    const result = await runScheduledBackups(clock, client, deps());
    expect(result.slot).toBe(SLOT.toISOString());
    expect(client.started.map((s) => s.instanceId)).toEqual(EXPECTED_IDS);
    // Every kind of each vault by default (KVBACKUP_KINDS unset).
    const vaultInput: VaultBackupInput = { vaultUrl: VAULT, kinds: ["certificate", "key", "secret"], include: [], exclude: [], versionDetails: true, tuning: DEFAULT_TUNING, retry: DEFAULT_ACTIVITY_RETRY };
    const hsmInput: HsmBackupInput = { hsmUrl: HSM, containerUrl: HSM_CONTAINER, polling: DEFAULT_HSM_POLLING };
    expect(client.startNew).toHaveBeenCalledWith(OrchestratorNames.vaultBackup, { instanceId: EXPECTED_IDS[0], input: vaultInput });
    expect(client.startNew).toHaveBeenCalledWith(OrchestratorNames.hsmBackup, { instanceId: EXPECTED_IDS[2], input: hsmInput });
    const started = records.filter((r) => r.event === "job.started");
    expect(started).toHaveLength(3);
    expect(started[0]).toMatchObject({ source: "kvbackup", trigger: "schedule", jobId: EXPECTED_IDS[0], type: "vault-backup", target: VAULT });
  });

  it("when KVBACKUP_VERSION_DETAILS is false, the scheduled vault backups start without version listing", async () => {
    await runScheduledBackups(clock, client, deps({ KVBACKUP_VERSION_DETAILS: "false" }));
    const vaultJobs = client.started.filter((s) => (s.input as VaultBackupInput).vaultUrl !== undefined);
    expect(vaultJobs.length).toBeGreaterThan(0);
    for (const job of vaultJobs) expect((job.input as VaultBackupInput).versionDetails).toBe(false);
    expect(records).toContainEqual(expect.objectContaining({ event: "job.started", type: "vault-backup", versionDetails: false }));
  });

  it("when KVBACKUP_KINDS names some kinds, the scheduled vault backups take those, and their start lines say so", async () => {
    await runScheduledBackups(clock, client, deps({ KVBACKUP_KINDS: "secrets, certificates" }));
    const vaultJobs = client.started.filter((s) => (s.input as VaultBackupInput).vaultUrl !== undefined);
    expect(vaultJobs.length).toBeGreaterThan(0);
    for (const job of vaultJobs) expect((job.input as VaultBackupInput).kinds).toEqual(["certificate", "secret"]);
    expect(records).toContainEqual(expect.objectContaining({ event: "job.started", type: "vault-backup", kinds: ["certificate", "secret"] }));
  });

  it("when the same slot runs twice (a retried or late timer), it starts nothing the second time", async () => {
    await runScheduledBackups(clock, client, deps());
    clock = new Date(SLOT.getTime() + 7 * 60_000); // the retry comes minutes later: same slot
    const again = await runScheduledBackups(clock, client, deps());
    expect(client.startNew).toHaveBeenCalledTimes(3);
    expect(again.jobs.map((j) => j.outcome)).toEqual(["exists", "exists", "exists"]);
    expect(records.filter((r) => r.event === "job.skipped").map((r) => r.reason)).toEqual(Array(3).fill("already-started-for-this-slot"));
  });

  it("when the same slot's jobs already finished, a rerun still starts nothing", async () => {
    await runScheduledBackups(clock, client, deps());
    client.completeAll();
    await runScheduledBackups(new Date(SLOT.getTime() + 3600_000), client, deps());
    expect(client.startNew).toHaveBeenCalledTimes(3);
  });

  it("when two runs of the same slot overlap, each target still gets exactly one job", async () => {
    const [a, b] = await Promise.all([runScheduledBackups(clock, client, deps()), runScheduledBackups(clock, client, deps())]);
    expect(client.started.map((s) => s.instanceId).sort()).toEqual([...EXPECTED_IDS].sort());
    const outcomes = [...a.jobs, ...b.jobs].map((j) => j.outcome);
    expect(outcomes.filter((o) => o === "started")).toHaveLength(3);
    expect(outcomes.filter((o) => o === "exists")).toHaveLength(3);
    expect(client.terminated).toEqual([]);
  });

  it("when the next slot comes, it starts a new job per target", async () => {
    await runScheduledBackups(clock, client, deps());
    client.completeAll();
    clock = new Date(SLOT.getTime() + DAY + 1_000);
    await runScheduledBackups(clock, client, deps());
    expect(client.started.map((s) => s.instanceId).slice(3)).toEqual(EXPECTED_IDS.map((id) => id.replace("202603100200", "202603110200")));
  });

  it("when a target is busy with another job, its backup is skipped and the running job is named", async () => {
    client.seed({ name: OrchestratorNames.vaultRestore, instanceId: "restore-kv-prod-keys-202603100130000000", runtimeStatus: "Running" });
    const result = await runScheduledBackups(clock, client, deps());
    expect(result.jobs.map((j) => [j.target, j.outcome])).toEqual([[VAULT, "busy"], [OTHER_VAULT, "started"], [HSM, "started"]]);
    expect(records).toContainEqual(expect.objectContaining({ event: "job.skipped", reason: "target-busy", runningJobId: "restore-kv-prod-keys-202603100130000000" }));
  });

  it("when one target fails to start, the others still start and the run fails at the end", async () => {
    const real = client.startNew.getMockImplementation()!;
    client.startNew.mockImplementation(async (name, options) => {
      if (options?.instanceId === EXPECTED_IDS[0]) throw new Error("task hub unavailable");
      return real(name, options);
    });
    const error = await runScheduledBackups(clock, client, deps()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ScheduledRunError);
    expect((error as ScheduledRunError).result.jobs.map((j) => j.outcome)).toEqual(["error", "started", "started"]);
    expect(records).toContainEqual(expect.objectContaining({ event: "job.error", jobId: EXPECTED_IDS[0] }));
    // Retention still ran for every vault.
    expect(records.filter((r) => r.event === "retention.summary")).toHaveLength(2);
  });

  it("when the run applies retention, it deletes only what the policy says and logs each decision", async () => {
    const ids: Record<string, string> = {};
    for (const [days, state] of [[1, "complete"], [20, "complete"], [31, "complete"], [60, "partial"], [45, "incomplete"], [0.1, "incomplete"]] as const) {
      ids[`${state}${days}`] = await writeSet(store, VAULT, new Date(clock.getTime() - days * DAY).toISOString(), `job-${String(days).replace(".", "")}`, state);
    }
    await runScheduledBackups(clock, client, deps()); // days 30, keep 2 complete
    const left = (await listBackupSets(store, VAULT)).map((s) => s.backupSetId).sort();
    expect(left).toEqual([ids.complete1, ids.complete20, ids["incomplete0.1"]].sort());
    const decisions = records.filter((r) => r.event === "retention.decision" && r.vault === VAULT);
    expect(decisions).toHaveLength(6);
    expect(decisions.filter((d) => d.action === "delete").map((d) => d.backupSetId).sort()).toEqual(
      [ids.complete31, ids.partial60, ids.incomplete45].sort(),
    );
    expect(records).toContainEqual(expect.objectContaining({ event: "retention.summary", vault: VAULT, deletedSets: 3, dryRun: false }));
  });

  it("when retention is a dry run, the decisions are logged and nothing is deleted", async () => {
    await writeSet(store, VAULT, new Date(clock.getTime() - 100 * DAY).toISOString(), "old", "complete");
    await writeSet(store, VAULT, new Date(clock.getTime() - 90 * DAY).toISOString(), "older", "complete");
    await writeSet(store, VAULT, new Date(clock.getTime() - 80 * DAY).toISOString(), "oldest", "complete");
    await runScheduledBackups(clock, client, deps({ KVBACKUP_RETENTION_DRY_RUN: "true" }));
    expect(await listBackupSets(store, VAULT)).toHaveLength(3);
    expect(records.filter((r) => r.event === "retention.decision" && r.action === "delete")).toHaveLength(1);
  });

  it("when the schedule fires every 15 minutes, a run names the latest quarter hour", () => {
    expect(scheduleSlot("0 */15 * * * *", new Date("2026-03-10T10:07:12Z")).toISOString()).toBe("2026-03-10T10:00:00.000Z");
  });
});
