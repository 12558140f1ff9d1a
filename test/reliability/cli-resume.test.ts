import { directKeyClient } from "../../src/composition";
import { startEmulator } from "../../src/emulator";
import type { EmulatedVault, RunningEmulator } from "../../src/emulator/types";
import { startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { auditBackupSet, blobIdentities, changedBlobs, killWhen, seededRandom, spawnCli, type CliResult } from "../support/reliability-kit";
import { compareSnapshots, snapshotVault, type VaultSnapshot } from "../../src/local/vault-snapshot";
import { vaultFolder } from "../../src/storage/backup-set";
import type { BackupStore } from "../../src/storage/backup-store";
import { openBackupStore } from "../../src/storage/open-store";
import { compiledCli, folderContents, tempDir, type CompiledCli } from "./helpers";

/**
 * The kvbackup command is killed (SIGKILL, no chance to clean up) at a seeded random point between 30 %
 * and 70 % of its batches, then run again with the same --job-id and --state-dir. The resumed job must
 * finish the same backup set (or restore), keep every blob already written, and lose nothing; the
 * checks read the store and the vaults directly rather than trusting the job's report.
 */
const KEYS = 2_000;
const CONTAINER = "reliability-resume";
const random = seededRandom(20_260_311);

describe("a kvbackup job killed mid-way and run again with the same --job-id", () => {
  let cli: CompiledCli;
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let source: EmulatedVault;
  let store: BackupStore;
  let state: { path: string; remove: () => void };
  let original: VaultSnapshot;
  let backupSetRef: string | undefined;

  const client = (url: string) =>
    directKeyClient(url, { emulatorCaCert: emulator.caCert });
  // Default settings (pacing at 4,000 operations per 10 s included), as users run the command.
  const run = (args: string[]) =>
    spawnCli(cli.launcher, [...args, "--emulator-ca", emulator.caCertPath, "--container", CONTAINER, "--state-dir", state.path, "--json", "--batch-size", "50"], {
      ...cli.env,
      KVBACKUP_STORAGE: azurite.connectionString,
    });
  const explain = (result: CliResult) => `exit ${result.code} ${result.signal ?? ""}\nstdout: ${result.stdout.slice(0, 2000)}\nstderr: ${result.stderr.slice(0, 2000)}`;

  beforeAll(async () => {
    state = tempDir("kvbackup-reliability-state-");
    // The build (when dist/ is stale) runs while the servers start and the vault is seeded.
    const building = compiledCli();
    building.catch(() => undefined);
    azurite = await startAzurite();
    emulator = await startEmulator({ seed: 11, throttle: 0 });
    source = emulator.vault;
    await source.seedKeys({ count: KEYS, prefix: "resume" });
    store = openBackupStore({ storage: azurite.connectionString, container: CONTAINER });
    original = await snapshotVault(client(source.url), { concurrency: 32 });
    cli = await building;
    // Slow enough that a 2,000-key job takes a few seconds and can be caught in the middle.
    emulator.setKnobs({ latencyMs: 5 });
  }, 300_000);

  afterAll(async () => {
    await emulator?.stop();
    await azurite?.stop();
    state?.remove();
  });

  it("when a 2,000-key backup is killed, the resumed job completes the same set, keeps every blob written before the kill and loses no key", async () => {
    // Prepare
    const jobId = "resume-backup-1";
    const fraction = 0.3 + 0.4 * random();
    const args = ["backup", "--vault", source.url, "--job-id", jobId];

    // Act: kill, look at what is there, resume
    const first = run(args);
    const atKill = await killWhen(first, state.path, jobId, (p) => p.phase === "backup" && p.batchCount > 0 && p.batchesDone >= Math.ceil(fraction * p.batchCount), { timeoutMs: 240_000 });
    const killed = await first.done;
    if (!atKill) throw new Error(`the backup ended before it could be killed: ${explain(killed)}`);
    expect(killed.signal).toBe("SIGKILL");
    const root = `${vaultFolder(source.url)}/${atKill.backupSetId}`;
    const beforeResume = await blobIdentities(azurite.connectionString, CONTAINER, `${root}/`);
    const keyBlobsBefore = [...beforeResume.keys()].filter((p) => p.includes("/keys/")).length;
    const resumed = await run(args).done;
    const again = await run(args).done;

    // Assess: the job's own report
    expect(resumed.code).toBe(0);
    if (resumed.code !== 0) throw new Error(explain(resumed));
    const summary = JSON.parse(resumed.stdout);
    expect(summary).toMatchObject({ jobId, backupSetId: atKill.backupSetId, state: "complete", keys: { total: KEYS, succeeded: KEYS, failed: 0, skipped: 0 } });
    // A third run of a finished job reports the same result and changes nothing.
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual(summary);

    // Assess: independently, from the store and the vault
    expect(keyBlobsBefore).toBeGreaterThan(0);
    expect(keyBlobsBefore).toBeLessThan(KEYS);
    expect(beforeResume.has(`${root}/manifest.json`)).toBe(false);
    const audit = await auditBackupSet(store, root, source.listKeyNames());
    expect(audit.problems).toEqual([]);
    expect(audit).toMatchObject({ manifestState: "complete", keysExpected: KEYS, succeeded: KEYS, blobCount: KEYS, lost: [], badBlobs: [], strayBlobs: [] });
    const after = await blobIdentities(azurite.connectionString, CONTAINER, `${root}/`);
    expect(changedBlobs(beforeResume, after)).toEqual([]);
    // One set for the job, not a second one started by the resume.
    expect(await store.listFolders(`${vaultFolder(source.url)}/`)).toEqual([atKill.backupSetId]);
    backupSetRef = root;
  }, 300_000);

  it("when a 2,000-key restore is killed, the resumed job restores every key exactly once as backed up: all restored, none skipped", async () => {
    if (!backupSetRef) throw new Error("this test restores the set written by the previous one, which did not finish");
    // Prepare
    const target = await emulator.addVault({ name: "resume-target" });
    const jobId = "resume-restore-1";
    const fraction = 0.3 + 0.4 * random();
    const args = ["restore", "--backup-set", backupSetRef, "--vault", target.url, "--job-id", jobId];
    const storeBefore = await blobIdentities(azurite.connectionString, CONTAINER, "");

    // Act
    const first = run(args);
    const atKill = await killWhen(first, state.path, jobId, (p) => p.phase === "restore" && p.batchCount > 0 && p.batchesDone >= Math.ceil(fraction * p.batchCount), { timeoutMs: 240_000 });
    const killed = await first.done;
    if (!atKill) throw new Error(`the restore ended before it could be killed: ${explain(killed)}`);
    const restoredAtKill = target.keyCount();
    const resumed = await run(args).done;

    // Assess
    expect(restoredAtKill).toBeGreaterThan(0);
    expect(restoredAtKill).toBeLessThan(KEYS);
    if (resumed.code !== 0) throw new Error(explain(resumed));
    const summary = JSON.parse(resumed.stdout);
    expect(summary.keys).toEqual({ total: KEYS, succeeded: KEYS, failed: 0, skipped: 0 });
    expect(summary.skipped).toEqual([]);
    expect(summary.failures).toEqual([]);
    emulator.setKnobs({ latencyMs: 0 });
    const restored = await snapshotVault(client(target.url), { concurrency: 32 });
    expect(compareSnapshots(original, restored)).toEqual([]);
    expect(target.listDeletedKeyNames()).toEqual([]);
    // A restore changes nothing of the set: it only adds its own documents under restores/<UTC start>-<job id>/.
    const storeAfter = await blobIdentities(azurite.connectionString, CONTAINER, "");
    expect(changedBlobs(storeBefore, storeAfter)).toEqual([]);
    const added = [...storeAfter.keys()].filter((p) => !storeBefore.has(p));
    expect(added.length).toBeGreaterThan(0);
    const jobFolder = new RegExp(`^${backupSetRef.replace(/[.]/g, "\\.")}/restores/\\d{8}T\\d{9}Z-${jobId}/`);
    expect(added.filter((p) => !jobFolder.test(p))).toEqual([]);
    expect(added.filter((p) => p.endsWith("/report.json"))).toHaveLength(1);
    // Both jobs left their state (for a later resume or report). (A kill between writing a state file's
    // temporary copy and renaming it can leave that copy behind; the state itself is never half written.)
    expect([...folderContents(state.path).keys()].filter((f) => f.endsWith(".json")).sort()).toEqual(["resume-backup-1.json", "resume-restore-1.json"]);
  }, 300_000);
});
