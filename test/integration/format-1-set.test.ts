import { cpSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startEmulator } from "../../src/emulator";
import type { RunningEmulator } from "../../src/emulator/types";
import { spawnCli, type CliResult } from "../support/reliability-kit";
import { compiledCli, tempDir, type CompiledCli } from "../reliability/helpers";

/**
 * A backup set written by kvbackup before it backed up secrets and certificates (manifest@1, a `keys`
 * array), as users have them in their stores: today's command lists it and restores it, through the plain
 * CLI. The fixture (test/fixtures/format-1-set) was produced by that earlier code; see its README.
 */
const FIXTURE = join(__dirname, "..", "fixtures", "format-1-set");
const SOURCE_VAULT = "https://127.0.0.1:36771";
const SET_ID = "20261203T182128Z-format1fixture";
const expected = JSON.parse(readFileSync(join(FIXTURE, "expected.json"), "utf8")) as { materialDigests: Record<string, Record<string, string>> };

describe("a backup set written in format 1 (keys only), read by today's code", () => {
  let cli: CompiledCli;
  let emulator: RunningEmulator;
  let dirs: { path: string; remove: () => void };
  let storage: string;

  const kvbackup = (args: string[]) =>
    spawnCli(cli.launcher, [...args, "--emulator-ca", emulator.caCertPath, "--storage", storage, "--state-dir", join(dirs.path, "state"), "--json"], cli.env).done;
  const parsed = (r: CliResult) => {
    if (r.code !== 0) throw new Error(`exit ${r.code}\nstdout: ${r.stdout.slice(0, 2000)}\nstderr: ${r.stderr.slice(0, 2000)}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  beforeAll(async () => {
    const building = compiledCli();
    building.catch(() => undefined);
    dirs = tempDir("kvbackup-format1-");
    // A copy: a restore writes its own documents next to the set, and the fixture must stay as it was written.
    storage = join(dirs.path, "store");
    cpSync(join(FIXTURE, "store"), storage, { recursive: true });
    emulator = await startEmulator({ seed: 21, latencyMs: 0 });
    cli = await building;
  }, 300_000);

  afterAll(async () => {
    await emulator?.stop();
    dirs?.remove();
  });

  it("when the catalog is listed, the set is complete and its keys are counted as keys, and as the set's objects", async () => {
    const listing = parsed(await kvbackup(["list", "--vault", SOURCE_VAULT]));
    const keys = { total: 6, succeeded: 5, failed: 0, skipped: 1 };
    const none = { total: 0, succeeded: 0, failed: 0, skipped: 0 };
    expect(listing["backupSets"]).toEqual([
      expect.objectContaining({ backupSetId: SET_ID, state: "complete", keys, objects: keys, kinds: { keys, secrets: none, certificates: none }, versions: 9 }),
    ]);
  });

  it("when it is restored into an empty vault, every key comes back with the very same material, and the certificate-backed key is reported skipped again", async () => {
    const target = await emulator.addVault({ name: "format1-target" });

    const dry = parsed(await kvbackup(["restore", "--backup-set", SET_ID, "--vault", target.url, "--dry-run"]));
    const summary = parsed(await kvbackup(["restore", "--backup-set", SET_ID, "--vault", target.url]));

    expect(dry["plan"]).toMatchObject({ toRestoreCount: 5, skippedAtBackupCount: 1, toRestore: ["legacy-00000", "legacy-00001", "legacy-00002", "legacy-00003", "legacy-rsa-00000"] });
    expect(summary).toMatchObject({
      keys: { total: 6, succeeded: 5, failed: 0, skipped: 1 },
      objects: { total: 6, succeeded: 5, failed: 0, skipped: 1 },
      kinds: { secrets: { total: 0 }, certificates: { total: 0 } },
      failures: [],
      skipped: [{ kind: "key", name: "legacy-cert-00000", reason: expect.stringContaining("certificate") }],
    });
    const restoredNames = target.listKeyNames();
    expect(restoredNames).toEqual(["legacy-00000", "legacy-00001", "legacy-00002", "legacy-00003", "legacy-rsa-00000"]);
    for (const name of restoredNames) expect({ name, digests: target.materialDigests(name) }).toEqual({ name, digests: expected.materialDigests[name] });
  });
});
