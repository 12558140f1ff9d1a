import { statSync } from "node:fs";
import { join } from "node:path";
import { SUMMARY_LIST_LIMIT, type JobProgress } from "../../src/contracts";
import { startEmulator } from "../../src/emulator";
import type { RunningEmulator } from "../../src/emulator/types";
import { stateFilePath } from "../../src/local/instance-store";
import { LocalRuntime } from "../../src/local/runtime";
import { BackupSetPaths, MANIFEST_FORMAT, encodeDocument, makeBackupSetId, parseDocument, vaultFolder, type Manifest } from "../../src/storage/backup-set";
import { FileBackupStore } from "../../src/storage/file-store";
import { restoreReportSchema } from "../../src/storage/restore-job";
import { tempDir } from "./helpers";

/**
 * Per-key results never travel through orchestration history: a restore of a 6,000-key set over 6,000
 * names the target already holds (nothing to do but list and skip) leaves a job state of at most 256 KB
 * (it was 1,272 KB when the skipped names went through history), and still names every skipped key with
 * its reason in its report. `npm run bench` measures the same job end to end through the CLI (wall time).
 */
const KEYS = 6_000;
const STATE_LIMIT_BYTES = 256 * 1024;

describe("a restore of a large set over names the target already holds", () => {
  let emulator: RunningEmulator;
  let dirs: { path: string; remove: () => void };

  beforeAll(async () => {
    dirs = tempDir("kvbackup-restore-history-");
    emulator = await startEmulator({ seed: 3, latencyMs: 0 });
  });
  afterAll(async () => {
    await emulator?.stop();
    dirs?.remove();
  });

  it("when 6,000 keys are restored over 6,000 existing names, the job state stays under 256 KB, every key is skipped and the report names them all", async () => {
    // Prepare: a vault with 6,000 keys and a set of them (its manifest; the blobs are never read, since
    // every name is taken and nothing is restored).
    const vault = await emulator.addVault({ name: "over" });
    await vault.seedKeys({ count: KEYS, prefix: "over" });
    const store = new FileBackupStore(join(dirs.path, "store"));
    await store.ensureReady();
    const startedAt = "2026-11-30T02:00:00.000Z";
    const backupSetId = makeBackupSetId(startedAt, "over-backup");
    const paths = new BackupSetPaths(vaultFolder(vault.url), backupSetId);
    const names = vault.listKeyNames();
    const keyCounts = { total: KEYS, succeeded: KEYS, failed: 0, skipped: 0, versions: KEYS, bytes: KEYS * 10 };
    const noObjects = { total: 0, succeeded: 0, failed: 0, skipped: 0, versions: 0, bytes: 0 };
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      jobId: "over-backup",
      backupSetId,
      vaultUrl: vault.url,
      startedAt,
      endedAt: startedAt,
      include: [],
      exclude: [],
      state: "complete",
      kinds: ["key"],
      counts: { ...keyCounts, byKind: { keys: keyCounts, secrets: noObjects, certificates: noObjects } },
      objects: names.map((name) => ({ kind: "key", name, result: "succeeded", versionCount: 1, latestVersion: "0".repeat(32), blobPath: paths.blob("key", name), size: 10, sha256: "0".repeat(64) })),
    };
    await store.writeOnce(paths.manifest, encodeDocument(manifest));
    const stateDir = join(dirs.path, "state");
    const runtime = new LocalRuntime({ store, emulatorCaCert: emulator.caCert, stateDir });
    const statuses: JobProgress[] = [];
    runtime.host.onStatusChange((s) => s.customStatus && statuses.push(s.customStatus as JobProgress));

    try {
      // Act
      const handle = await runtime.startRestore({ backupSetId: `${paths.vaultFolderName}/${backupSetId}`, include: [], exclude: [], dryRun: false, onConflict: "skip" });
      const { status, output } = await handle.result;

      // Assess: the summary
      expect(status.runtimeStatus).toBe("Completed");
      expect(output!.keys).toEqual({ total: KEYS, succeeded: 0, failed: 0, skipped: KEYS });
      expect(output!.skipped).toHaveLength(SUMMARY_LIST_LIMIT);
      expect(output!.skipped[0]).toEqual({ kind: "key", name: names[0], reason: "a key of that name already exists in the target vault" });
      // Assess: the report has every name
      const report = parseDocument(restoreReportSchema, output!.reportPath, await store.read(output!.reportPath));
      expect(report.skipped.map((k) => k.name)).toEqual(names);
      // Assess: nothing was sent to restore, and history stayed small
      expect(vault.stats().operations["restoreKey"] ?? 0).toBe(0);
      const stateBytes = statSync(stateFilePath(stateDir, handle.jobId)).size;
      expect(stateBytes).toBeLessThanOrEqual(STATE_LIMIT_BYTES);
      expect(status.metrics.historyEvents).toBeLessThan(40);
      for (const s of statuses) expect(s.keysSucceeded + s.keysFailed + s.keysSkipped + s.keysPending).toBe(s.keysTotal);
    } finally {
      await runtime.close();
    }
  }, 120_000);
});
