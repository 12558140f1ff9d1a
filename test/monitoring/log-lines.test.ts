import { keysInventory, keysOnly, stubActivities } from "../support/stub-activities";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ActivityNames, OrchestratorNames, type BackupObjectBatchInput, type BackupSummary, type HsmJobStatus, type WriteBackupManifestInput } from "../../src/contracts";
import { createHttpHandlers } from "../../src/functions/http/handlers";
import { runScheduledBackups } from "../../src/jobs/scheduled";
import { LocalDurableHost } from "../../src/local/durable-host";
import { LocalRuntime } from "../../src/local/runtime";
import { LOG_EVENTS, logLineProblem, type LogEventName } from "../../src/monitoring/log-events";
import { invocationLogger } from "../../src/composition";
import { orchestrators } from "../../src/registry";
import { FileBackupStore } from "../../src/storage/file-store";
import { DEFAULT_HSM_POLLING, DEFAULT_TUNING } from "../../src/tuning";
import { startEmulator } from "../../src/emulator";
import type { RunningEmulator } from "../../src/emulator/types";
import { FakeDurableClient } from "../functions/fake-client";
import { HSM, HSM_CONTAINER, VAULT, capturingContext, get, post, postTo, tempStore, testConfig, writeSet } from "../functions/fixtures";

/**
 * Every JSON line the app writes, captured from the real code paths (HTTP API, timer, activities against
 * the emulator, orchestrations on the replay engine), must match its schema in src/monitoring/log-events.ts,
 * which is what the monitoring queries are checked against (test/monitoring/kql.test.ts).
 */
const seen = new Map<LogEventName, number>();

function check(lines: readonly string[]): Record<string, unknown>[] {
  const records: Record<string, unknown>[] = [];
  for (const raw of lines) {
    // The local durable host prefixes what an orchestration logs with its level and name.
    const line = raw.slice(raw.indexOf("{"));
    if (!line.startsWith('{"source":"kvbackup"')) continue;
    expect({ line, problem: logLineProblem(line) }).toEqual({ line, problem: undefined });
    const record = JSON.parse(line) as Record<string, unknown>;
    seen.set(record.event as LogEventName, (seen.get(record.event as LogEventName) ?? 0) + 1);
    records.push(record);
  }
  return records;
}

const retry = { firstRetryIntervalMs: 1000, maxAttempts: 2, backoffCoefficient: 2, maxRetryIntervalMs: 10_000 };

describe("the app's log lines", () => {
  it("when the HTTP API starts, refuses, cancels and reports jobs, every line matches its schema", async () => {
    const { store, cleanup } = await tempStore();
    try {
      const setId = await writeSet(store, VAULT, "2026-03-01T02:00:00.000Z", "job-a", "complete");
      const client = new FakeDurableClient();
      const handlers = createHttpHandlers({ config: testConfig(), store });
      const captured = capturingContext();
      await handlers.startVaultBackup(post("backups", { vault: VAULT, include: ["a-*"], versionDetails: false }), client, captured.context);
      await handlers.startVaultBackup(post("backups", { vault: VAULT }), client, captured.context); // busy: refused
      client.completeAll();
      await handlers.startVaultRestore(post("restores", { backupSet: setId, dryRun: true }), client, captured.context);
      await handlers.startHsmBackup(post("hsm/backups", { hsm: HSM }), client, captured.context);
      client.completeAll();
      await handlers.startHsmRestore(post("hsm/restores", { hsm: HSM, folderUrl: `${HSM_CONTAINER}/mhsm-prod-hsm-20260101000000`, key: "k1" }), client, captured.context);
      const running = [...client.instances.values()].find((i) => i.runtimeStatus === "Pending")!;
      await handlers.cancelJob(postTo(`jobs/${running.instanceId}/cancel`, { id: running.instanceId }), client, captured.context);
      const status = await handlers.status(get("status"), client, captured.context);
      expect(status.status).toBe(200);
      const events = check(captured.lines).map((r) => r.event);
      expect(events).toEqual(["job.started", "job.refused", "job.started", "job.started", "job.started", "job.canceled"]);
    } finally {
      cleanup();
    }
  });

  it("when the timer runs with sets to keep and delete, every line matches its schema", async () => {
    const { store, cleanup } = await tempStore();
    try {
      await writeSet(store, VAULT, "2026-01-01T02:00:00.000Z", "old", "complete");
      await writeSet(store, VAULT, "2026-01-02T02:00:00.000Z", "old2", "complete");
      await writeSet(store, VAULT, "2026-01-03T02:00:00.000Z", "old3", "partial");
      await writeSet(store, VAULT, "2026-03-09T02:00:00.000Z", "recent", "complete");
      const lines: string[] = [];
      const client = new FakeDurableClient(() => new Date("2026-03-10T02:00:03Z"));
      client.seed({ name: OrchestratorNames.hsmBackup, instanceId: "scheduled-hsm-prod-hsm-202603090200", runtimeStatus: "Completed", output: { status: "Succeeded", endTime: "2026-03-09T02:30:00.000Z" } });
      await runScheduledBackups(new Date("2026-03-10T02:00:03Z"), client, {
        config: testConfig(),
        store,
        // The timer function's own logger, writing into this list.
        log: invocationLogger({ log: (line) => lines.push(String(line)) }),
      });
      const records = check(lines);
      const events = new Set(records.map((r) => r.event));
      for (const event of ["job.started", "retention.decision", "retention.summary", "target.status", "schedule.run"]) expect(events).toContain(event);
      expect(records.filter((r) => r.event === "target.status")).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ target: VAULT, kind: "vault", lastCompleteSetId: "20260309T020000Z-recent", lastCompleteAgeHours: 24 }),
          expect.objectContaining({ target: HSM, kind: "hsm", lastCompleteSetId: "scheduled-hsm-prod-hsm-202603090200", lastCompleteAgeHours: 23.5 }),
        ]),
      );
    } finally {
      cleanup();
    }
  });

  it("when a vault is backed up and restored against the emulator, the activity lines match their schemas", async () => {
    let emulator: RunningEmulator | undefined;
    const dir = mkdtempSync(join(tmpdir(), "kvbackup-loglines-"));
    try {
      emulator = await startEmulator({ seed: 3 });
      await emulator.vault.seedKeys({ count: 4, versions: 1, prefix: "ok" });
      await emulator.vault.seedKeys({ count: 1, versions: 501, prefix: "toolong" });
      const lines: string[] = [];
      const runtime = new LocalRuntime({ store: new FileBackupStore(join(dir, "store")), emulatorCaCert: emulator.caCert, logLine: (l) => lines.push(l) });
      const backup = await runtime.startBackup({ vaultUrl: emulator.vaultUrl, include: [], exclude: [] });
      const { output } = await backup.result;
      expect(output?.keys.failed).toBe(1);
      const restore = await runtime.startRestore({ backupSetId: output!.backupSetId, include: ["ok-*"], exclude: [], dryRun: true, onConflict: "skip" });
      await restore.result;
      await runtime.close();
      const events = check(lines).map((r) => r.event);
      expect(events).toEqual(expect.arrayContaining(["inventory", "keyFailed"]));
    } finally {
      await emulator?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("when orchestrations complete, end partial or fail, each writes exactly one job.ended line that matches its schema", async () => {
    const lines: string[] = [];
    let hsmPolls = 0;
    const host = new LocalDurableHost({
      orchestrators,
      clock: "virtual",
      logger: (line) => lines.push(line),
      activities: stubActivities({
        [ActivityNames.takeInventory]: async (input) => {
          if (input.jobId === "fails") throw new Error("Forbidden: https://acct.blob.core.windows.net/c?sig=SECRET");
          return keysInventory("20260101T000000Z-job", 1, 3);
        },
        [ActivityNames.backupObjectBatch]: async (input: BackupObjectBatchInput) => ({ batchIndex: input.batchIndex, succeeded: 2, failed: 1, skipped: 0, bytes: 30 }),
        [ActivityNames.writeBackupManifest]: async (input: WriteBackupManifestInput): Promise<BackupSummary> => ({
          backupSetId: input.backupSetId, vaultUrl: input.vaultUrl, state: "partial", ...keysOnly({ total: 3, succeeded: 2, failed: 1, skipped: 0 }),
          versions: 2, versionDetails: true, bytes: 30, startedAt: input.startedAt, endedAt: input.endedAt, failures: [{ kind: "key", name: "k3", reason: "x" }],
          skipped: [], reportPath: `v/${input.backupSetId}/manifest.json`,
        }),
        [ActivityNames.startHsmBackup]: async (): Promise<HsmJobStatus> => ({ operation: "backup", jobId: "hsm1", status: "InProgress" }),
        [ActivityNames.getHsmJobStatus]: async (): Promise<HsmJobStatus> =>
          ++hsmPolls < 2 ? { operation: "backup", jobId: "hsm1", status: "InProgress" } : { operation: "backup", jobId: "hsm1", status: "Succeeded", folderUrl: `${HSM_CONTAINER}/mhsm-x-20260101000000` },
      }),
    });
    const vaultInput = { vaultUrl: VAULT, include: [], exclude: [], tuning: DEFAULT_TUNING, retry };
    await host.startNew(OrchestratorNames.vaultBackup, { instanceId: "partial", input: vaultInput });
    await host.startNew(OrchestratorNames.vaultBackup, { instanceId: "fails", input: vaultInput });
    await host.startNew(OrchestratorNames.hsmBackup, { instanceId: "hsm", input: { hsmUrl: HSM, containerUrl: HSM_CONTAINER, polling: DEFAULT_HSM_POLLING, retry } });
    expect((await host.waitForCompletion("partial")).runtimeStatus).toBe("Completed");
    expect((await host.waitForCompletion("fails")).runtimeStatus).toBe("Failed");
    expect((await host.waitForCompletion("hsm")).runtimeStatus).toBe("Completed");
    await host.close();

    const ended = check(lines).filter((r) => r.event === "job.ended");
    expect(ended).toHaveLength(3);
    const byJob = Object.fromEntries(ended.map((r) => [r.jobId, r]));
    expect(byJob.partial).toMatchObject({ type: "vault-backup", target: VAULT, state: "partial", keysTotal: 3, keysFailed: 1, backupSetId: "20260101T000000Z-job" });
    expect(byJob.fails).toMatchObject({ type: "vault-backup", target: VAULT, state: "failed", error: expect.stringContaining("Forbidden") });
    expect(String(byJob.fails!.error)).not.toContain("SECRET");
    expect(byJob.hsm).toMatchObject({ type: "hsm-backup", target: HSM, state: "complete", hsmStatus: "Succeeded" });
    expect(Number(byJob.hsm!.durationMs)).toBeGreaterThan(0);
  });

  it("when a line names a field its event does not declare or misses a required one, the check reports it", () => {
    expect(logLineProblem(JSON.stringify({ source: "kvbackup", event: "keyFailed", jobId: "j", vaultUrl: "v", key: "k", reason: "r", extra: 1 }))).toMatch(/extra/);
    expect(logLineProblem(JSON.stringify({ source: "kvbackup", event: "keyFailed", jobId: "j" }))).toMatch(/vaultUrl/);
    expect(logLineProblem(JSON.stringify({ source: "kvbackup", event: "no.such.event" }))).toMatch(/unknown event/);
  });

  it("when every path above has run, the events it did not see are only those checked by their types alone", () => {
    // The app writes most of its events in these paths; the rest are checked by their types alone.
    const unseen = (Object.keys(LOG_EVENTS) as LogEventName[]).filter((e) => !seen.has(e));
    expect(unseen.sort()).toEqual(["config.error", "hsmBackupStarted", "hsmRestoreStarted", "http.error", "job.error", "job.skipped", "restoreWaitedForName", "retention.error", "status.error"]);
  });
});
