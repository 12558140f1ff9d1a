import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileBackupStore } from "../../src/storage/file-store";
import { OTHER_VAULT, VAULT, writeSet } from "../functions/fixtures";
import { compiledCli, type CompiledCli } from "../reliability/helpers";
import { spawnCli } from "../support/reliability-kit";

/** `kvbackup status` as a script or a monitor runs it: a plain child process, --json on stdout. */
let cli: CompiledCli;
let dir: string;

beforeAll(async () => {
  cli = await compiledCli();
  dir = mkdtempSync(join(tmpdir(), "kvbackup-status-"));
  const store = new FileBackupStore(join(dir, "store"));
  await store.ensureReady();
  const recent = new Date(Date.now() - 5 * 3600_000).toISOString();
  await writeSet(store, VAULT, "2026-03-01T02:00:00.000Z", "older", "complete");
  await writeSet(store, VAULT, recent, "recent", "complete");
  await writeSet(store, VAULT, new Date(Date.now() - 3600_000).toISOString(), "running", "incomplete");
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function status(...args: string[]) {
  return spawnCli(cli.launcher, ["status", ...args], cli.env).done;
}

describe("kvbackup status", () => {
  it("when vaults are named, it prints each one's newest complete set, its age and counts, and its newest set, exit 0", async () => {
    const result = await status("--vault", VAULT, "--vault", OTHER_VAULT, "--storage", join(dir, "store"), "--json");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout);
    const [vault, other] = body.targets;
    expect(vault.target).toBe(VAULT);
    expect(vault.lastComplete).toMatchObject({ id: expect.stringMatching(/-recent$/), keys: { total: 2, succeeded: 2, failed: 0, skipped: 0 } });
    expect(vault.lastComplete.ageHours).toBeGreaterThanOrEqual(5);
    expect(vault.lastComplete.ageHours).toBeLessThan(6);
    expect(vault.newestSet).toMatchObject({ jobId: "running", state: "incomplete" });
    expect(vault.newestJob).toBeNull();
    expect(other).toEqual({ target: OTHER_VAULT, kind: "vault", lastComplete: null, newestSet: null, newestJob: null });

    const table = await status("--vault", VAULT, "--storage", join(dir, "store"));
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/prod-keys\.vault\.azure\.net\s+\S+-recent\s+5\.\d h\s+2\s+incomplete/);
  });

  it("when the vault is not a vault URL or the storage is missing, it prints one line and exits 2", async () => {
    const bad = await status("--vault", "http://x.vault.azure.net", "--storage", join(dir, "store"));
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split("\n")).toEqual([expect.stringContaining("--vault")]);
    const noStorage = await status("--vault", VAULT);
    expect(noStorage.code).toBe(2);
    expect(noStorage.stderr).toContain("--storage is required");
  });
});
