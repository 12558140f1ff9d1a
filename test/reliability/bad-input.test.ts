import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { main, type Io } from "../../src/cli/main";
import { startEmulator } from "../../src/emulator";
import type { EmulatedVault, RunningEmulator } from "../../src/emulator/types";
import { startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { blobIdentities, changedBlobs } from "../support/reliability-kit";
import { BackupSetPaths, vaultFolder } from "../../src/storage/backup-set";
import type { BackupStore } from "../../src/storage/backup-store";
import { openBackupStore } from "../../src/storage/open-store";
import { folderContents, tempDir } from "./helpers";

/**
 * Bad input to the kvbackup command: flags of the wrong type, URLs that point anywhere but a vault, path
 * tricks, backup sets that are malformed, missing, damaged or from another vault. Each is refused with one
 * clear line and exit code 2 (a damaged key blob is the exception: that key is reported failed and the
 * others are restored); none crashes, none writes to the store or the state folder, none sends a request
 * to a vault.
 */
const CONTAINER = "reliability-bad-input";

interface Run {
  code: number;
  out: string;
  err: string;
}

async function kvbackup(args: readonly string[]): Promise<Run> {
  let out = "";
  let err = "";
  const io: Io = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
  const code = await main(["node", "kvbackup", ...args], io);
  return { code, out, err };
}

describe("bad input to the kvbackup command", () => {
  let azurite: RunningAzurite;
  let emulator: RunningEmulator;
  let source: EmulatedVault;
  let store: BackupStore;
  let state: { path: string; remove: () => void };
  let files: { path: string; remove: () => void };
  let goodSet: BackupSetPaths;
  const sets: Record<string, string> = {};

  const shared = () => ["--storage", azurite.connectionString, "--container", CONTAINER, "--state-dir", state.path];
  const vaultRequests = () => [...emulator.vaults].reduce((n, v) => n + v.stats().requests, 0);

  /** Copies the good set to another folder/id, changing what `edit` changes (undefined: leave the object out). */
  async function copySet(toFolder: string, toId: string, edit: (relative: string, data: Buffer) => Buffer | undefined = (_, d) => d): Promise<BackupSetPaths> {
    const to = new BackupSetPaths(toFolder, toId);
    for await (const item of store.list(`${goodSet.root}/`)) {
      const relative = item.path.slice(goodSet.root.length + 1);
      let data: Buffer | undefined = await store.read(item.path);
      if (relative === "manifest.json" || relative === "inventory.json") {
        // The same documents, renamed to the copy's folder (as a copy made by hand would be).
        data = Buffer.from(data.toString("utf8").split(goodSet.root).join(to.root).split(goodSet.backupSetId).join(toId));
      }
      data = edit(relative, data);
      if (data) await store.writeOnce(`${to.root}/${relative}`, data);
    }
    return to;
  }
  const editManifest = (change: (m: any) => void) => (relative: string, data: Buffer) => {
    if (relative !== "manifest.json") return data;
    const manifest = JSON.parse(data.toString("utf8"));
    change(manifest);
    return Buffer.from(JSON.stringify(manifest));
  };

  beforeAll(async () => {
    state = tempDir("kvbackup-bad-input-state-");
    files = tempDir("kvbackup-bad-input-files-");
    azurite = await startAzurite();
    emulator = await startEmulator({ seed: 3, throttle: 0 });
    source = emulator.vault;
    await source.seedKeys({ count: 6, versions: 2, prefix: "good" });
    store = openBackupStore({ storage: azurite.connectionString, container: CONTAINER });
    const backup = await kvbackup(["backup", "--vault", source.url, "--emulator-ca", emulator.caCertPath, "--json", ...shared()]);
    if (backup.code !== 0) throw new Error(`the backup the tests start from failed: ${backup.err}`);
    goodSet = new BackupSetPaths(vaultFolder(source.url), JSON.parse(backup.out).backupSetId);
    const folder = goodSet.vaultFolderName;
    const other = await emulator.addVault({ name: "other" });

    // Damaged sets, each a copy of the good one.
    sets.truncatedManifest = (await copySet(folder, "20260101T000000Z-truncated", (r, d) => (r === "manifest.json" ? d.subarray(0, Math.floor(d.length / 2)) : d))).root;
    sets.notJson = (await copySet(folder, "20260101T000000Z-notjson", (r, d) => (r === "manifest.json" ? Buffer.from("\u0000\u0001 binary junk") : d))).root;
    sets.blobPathOutside = (await copySet(folder, "20260101T000000Z-pathtrick", editManifest((m) => (m.objects[0].blobPath = `${goodSet.root}/keys/${m.objects[1].name}.keybackup`)))).root;
    sets.dotDotBlobPath = (await copySet(folder, "20260101T000000Z-dotdot", editManifest((m) => (m.objects[0].blobPath = `${folder}/20260101T000000Z-dotdot/keys/../../${goodSet.backupSetId}/keys/${m.objects[0].name}.keybackup`)))).root;
    sets.keyNameTrick = (await copySet(folder, "20260101T000000Z-nametrick", editManifest((m) => (m.objects[0].name = "../../etc")))).root;
    sets.listedTwice = (await copySet(folder, "20260101T000000Z-twice", editManifest((m) => m.objects.push({ ...m.objects[0] })))).root;
    sets.wrongSetId = (await copySet(folder, "20260101T000000Z-wrongid", editManifest((m) => (m.backupSetId = goodSet.backupSetId)))).root;
    sets.httpVault = (await copySet(folder, "20260101T000000Z-httpvault", editManifest((m) => (m.vaultUrl = m.vaultUrl.replace("https:", "http:"))))).root;
    // The good set copied as it is into another vault's folder: its manifest still names the first vault.
    sets.fromAnotherVault = (await copySet(vaultFolder(other.url), goodSet.backupSetId)).root;
    // A consistent set whose vault is the metadata endpoint: placed right, refused by the URL rules.
    sets.metadataVault = (await copySet("169.254.169.254", "20260101T000000Z-metadata", editManifest((m) => (m.vaultUrl = "https://169.254.169.254")))).root;
    sets.incomplete = (await copySet(folder, "20260101T000000Z-incomplete", (r, d) => (r === "manifest.json" ? undefined : d))).root;
    sets.damagedBlob = (await copySet(folder, "20260101T000000Z-damagedblob", (r, d) => (r === "keys/good-00002.keybackup" ? d.subarray(0, d.length - 7) : d))).root;
    writeFileSync(join(files.path, "not-a-cert.pem"), "hello\n");
  }, 120_000);

  afterAll(async () => {
    await emulator?.stop();
    await azurite?.stop();
    state?.remove();
    files?.remove();
  });

  /** Runs the command and checks the promises every refusal keeps: exit 2, one line, nothing written, nothing sent. */
  async function expectRefused(args: readonly string[], mention: string | RegExp): Promise<Run> {
    const storeBefore = await blobIdentities(azurite.connectionString, CONTAINER, "");
    const stateBefore = folderContents(state.path);
    const requestsBefore = vaultRequests();

    const result = await kvbackup(args);

    expect({ code: result.code, err: result.err }).toEqual({ code: 2, err: expect.stringMatching(mention) });
    expect(result.err.startsWith("kvbackup: ")).toBe(true);
    expect(result.err.trim().split("\n")).toHaveLength(1);
    expect(result.err).not.toMatch(/\n\s+at |Error: |undefined/);
    expect(result.out).toBe("");
    expect(vaultRequests()).toBe(requestsBefore);
    expect(folderContents(state.path)).toEqual(stateBefore);
    const storeAfter = await blobIdentities(azurite.connectionString, CONTAINER, "");
    expect(changedBlobs(storeBefore, storeAfter)).toEqual([]);
    expect(storeAfter.size).toBe(storeBefore.size);
    return result;
  }

  describe("flags", () => {
    const VAULT = "https://myvault.vault.azure.net";
    it.each([
      ["plain http", ["--vault", "http://myvault.vault.azure.net"], /--vault.*https/],
      ["the metadata endpoint", ["--vault", "https://169.254.169.254"], /--vault/],
      ["the metadata endpoint over http", ["--vault", "http://169.254.169.254/metadata/identity/oauth2/token"], /--vault/],
      ["an IPv6 literal", ["--vault", "https://[fd00:ec2::254]"], /--vault/],
      ["a private IP literal", ["--vault", "https://10.1.2.3"], /--vault/],
      ["a decimal IP literal", ["--vault", "https://2852039166"], /--vault/],
      ["user information", ["--vault", "https://user:secret@myvault.vault.azure.net"], /--vault.*user information/],
      ["a port", ["--vault", "https://myvault.vault.azure.net:8443"], /--vault.*port/],
      ["a path", ["--vault", "https://myvault.vault.azure.net/keys/../../x"], /--vault.*path/],
      ["a query", ["--vault", "https://myvault.vault.azure.net?api-version=1"], /--vault.*query/],
      ["a look-alike host", ["--vault", "https://myvault.vault.azure.net.evil.example"], /--vault/],
      ["a suffix in the path", ["--vault", "https://evil.example/.vault.azure.net"], /--vault/],
      ["a nested vault host", ["--vault", "https://a.b.vault.azure.net"], /--vault/],
      ["not a URL", ["--vault", "not a url"], /--vault.*not a URL/],
      ["an empty URL", ["--vault", ""], /--vault/],
      ["a glob climbing out", ["--vault", VAULT, "--include", "../x"], /--include/],
      ["an absolute glob", ["--vault", VAULT, "--include", "/etc/*"], /--include/],
      ["a glob with a slash", ["--vault", VAULT, "--exclude", "a/b"], /--exclude/],
      ["a glob with NUL", ["--vault", VAULT, "--include", "a\u0000b"], /--include/],
      ["a word for a number", ["--vault", VAULT, "--batch-size", "abc"], /--batch-size/],
      ["zero keys per batch", ["--vault", VAULT, "--batch-size", "0"], /--batch-size/],
      ["a fraction", ["--vault", VAULT, "--batch-size", "1.5"], /--batch-size/],
      ["a negative number", ["--vault", VAULT, "--batches-in-flight", "-3"], /--batches-in-flight/],
      ["an exponent", ["--vault", VAULT, "--key-concurrency", "1e3"], /--key-concurrency/],
      ["too many calls at once", ["--vault", VAULT, "--key-concurrency", "100000"], /--key-concurrency/],
      ["hexadecimal", ["--vault", VAULT, "--max-ops-per-10s", "0x10"], /--max-ops-per-10s/],
      ["a job id climbing out", ["--vault", VAULT, "--job-id", "../../etc"], /--job-id/],
      ["a job id with a slash", ["--vault", VAULT, "--job-id", "a/b"], /--job-id/],
      ["a hidden job id", ["--vault", VAULT, "--job-id", ".hidden"], /--job-id/],
      ["an encoded job id", ["--vault", VAULT, "--job-id", "%2e%2e"], /--job-id/],
      ["a job id too long", ["--vault", VAULT, "--job-id", "j".repeat(65)], /--job-id/],
      ["a container climbing out", ["--vault", VAULT, "--container", "../x"], /--container/],
      ["a container in capitals", ["--vault", VAULT, "--container", "UPPER"], /--container/],
      ["a missing certificate", ["--vault", VAULT, "--emulator-ca", "/nonexistent/ca.pem"], /--emulator-ca/],
      ["an unknown option", ["--vault", VAULT, "--frobnicate"], /unknown option/],
      ["a kind that is not one", ["--vault", VAULT, "--kinds", "keys,passwords"], /--kinds: "passwords" is not a kind/],
      ["an empty list of kinds", ["--vault", VAULT, "--kinds", ","], /--kinds: names no kind/],
      ["secrets of a Managed HSM", ["--vault", "https://myhsm.managedhsm.azure.net", "--kinds", "keys,secrets"], /--kinds: a Managed HSM holds keys only/],
      ["a glob naming no kind there is", ["--vault", VAULT, "--include", "password:db-*"], /--include/],
    ])("when backup gets %s, it refuses with one line and exit 2", async (_label, args, mention) => {
      // The shared flags go first, so a --container or --state-dir under test wins.
      await expectRefused(["backup", ...shared(), ...(args as string[])], mention as RegExp);
    });

    it("when a job id is given again with other arguments, it refuses instead of resuming the stored job", async () => {
      const first = await kvbackup(["backup", ...shared(), "--vault", source.url, "--emulator-ca", emulator.caCertPath, "--include", "good-0000*", "--job-id", "again-1"]);
      expect(first.code).toBe(0);
      await expectRefused(
        ["backup", ...shared(), "--vault", source.url, "--emulator-ca", emulator.caCertPath, "--include", "other-*", "--no-version-details", "--job-id", "again-1"],
        /job again-1 was started with other arguments \(include, versionDetails differ\)/,
      );
      // The same arguments again: the finished job reports its result again.
      const same = await kvbackup(["backup", ...shared(), "--vault", source.url, "--emulator-ca", emulator.caCertPath, "--include", "good-0000*", "--job-id", "again-1"]);
      expect(same.code).toBe(0);
    });

    it("when the emulator's loopback URL is named without --emulator-ca, nothing is sent to it", async () => {
      await expectRefused(["backup", ...shared(), "--vault", source.url], /loopback/);
    });

    it("when --emulator-ca is not a certificate, it refuses", async () => {
      await expectRefused(["backup", ...shared(), "--vault", source.url, "--emulator-ca", join(files.path, "not-a-cert.pem")], /--emulator-ca.*not a PEM/);
    });

    it("when the storage is neither a folder, a connection string nor a blob URL, it refuses without echoing it", async () => {
      const result = await expectRefused(["backup", "--vault", VAULT, "--state-dir", state.path, "--storage", "ftp://user:pw@example.com/x"], /storage/);
      expect(result.err).not.toContain("pw@");
    });

    it.each([
      ["a path climbing out", "../../etc/passwd", /invalid backup set id/],
      ["a path inside the id", "20200101T000000Z-x/../../y", /invalid backup set id/],
      ["three segments", "a/b/c", /invalid backup set id/],
      ["an encoded dot-dot folder", "%2e%2e/20200101T000000Z-x", /invalid backup set id/],
      ["an absolute path", "/20200101T000000Z-x", /invalid backup set id/],
      ["an empty id", "", /invalid backup set id/],
      ["lower-case time", "20200101t000000z-x", /invalid backup set id/],
      ["an id of no set", "20200101T000000Z-nosuchjob", /no backup set/],
      ["a folder and id of no set", "127.0.0.1_1/20200101T000000Z-nosuchjob", /no backup set/],
    ])("when restore names %s as the backup set, it refuses", async (_label, ref, mention) => {
      await expectRefused(["restore", ...shared(), "--backup-set", ref, "--emulator-ca", emulator.caCertPath], mention);
    });

    it("when restore names a bad conflict policy or target, it refuses", async () => {
      await expectRefused(["restore", ...shared(), "--backup-set", goodSet.root, "--on-conflict", "maybe"], /on-conflict/);
      await expectRefused(["restore", ...shared(), "--backup-set", goodSet.root, "--vault", "https://169.254.169.254"], /--vault/);
      await expectRefused(["restore", ...shared(), "--backup-set", goodSet.root, "--vault", "https://myvault.vault.azure.net", "--job-id", "a b"], /--job-id/);
    });
  });

  describe("backup sets", () => {
    it.each([
      ["a truncated manifest", "truncatedManifest", /manifest\.json is damaged.*not valid JSON/],
      ["a manifest that is not JSON", "notJson", /manifest\.json is damaged/],
      ["a manifest pointing a key at another key's blob", "blobPathOutside", /blob path of key/],
      ["a manifest pointing a key outside its set with ..", "dotDotBlobPath", /blob path of key/],
      ["a manifest with a key name climbing out", "keyNameTrick", /manifest\.json is damaged/],
      ["a manifest listing a key twice", "listedTwice", /listed twice/],
      ["a manifest naming another set", "wrongSetId", /names backup set/],
      ["a manifest naming a plain-http vault", "httpVault", /not an https URL/],
      ["a manifest from another vault", "fromAnotherVault", /names vault .* but is stored in the folder of/],
      ["a set without a manifest", "incomplete", /has no manifest/],
    ])("when restore is given %s, it refuses before anything starts", async (_label, name, mention) => {
      await expectRefused(["restore", ...shared(), "--backup-set", sets[name]!, "--emulator-ca", emulator.caCertPath, "--vault", source.url], mention);
      // Without a target the set's own vault would be used: refused all the same.
      await expectRefused(["restore", ...shared(), "--backup-set", sets[name]!, "--emulator-ca", emulator.caCertPath], mention);
    });

    it("when a set is placed consistently but its vault is the metadata endpoint, a restore into that vault is refused", async () => {
      await expectRefused(["restore", ...shared(), "--backup-set", sets.metadataVault!, "--emulator-ca", emulator.caCertPath], /source vault.*169\.254\.169\.254/);
    });

    it("when a set id exists for several vaults, a bare id is refused and the vault must be named", async () => {
      await expectRefused(["restore", ...shared(), "--backup-set", goodSet.backupSetId, "--emulator-ca", emulator.caCertPath], /several vaults/);
    });

    it("when one blob of a set is truncated, that key is reported failed with the reason, the others are restored, and the store is untouched", async () => {
      // Prepare
      const target = await emulator.addVault({ name: "damaged-blob-target" });
      const storeBefore = await blobIdentities(azurite.connectionString, CONTAINER, "");

      // Act
      const result = await kvbackup(["restore", ...shared(), "--backup-set", sets.damagedBlob!, "--vault", target.url, "--emulator-ca", emulator.caCertPath, "--json"]);

      // Assess
      expect(result.code).toBe(3);
      const summary = JSON.parse(result.out);
      expect(summary.keys).toEqual({ total: 6, succeeded: 5, failed: 1, skipped: 0 });
      expect(summary.failures).toEqual([{ kind: "key", name: "good-00002", reason: expect.stringContaining("SHA-256") }]);
      expect(target.listKeyNames()).not.toContain("good-00002");
      expect(target.stats().operations["restoreKey"]).toBe(5);
      expect(changedBlobs(storeBefore, await blobIdentities(azurite.connectionString, CONTAINER, ""))).toEqual([]);
    });
  });
});
