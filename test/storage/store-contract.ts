import { randomBytes } from "node:crypto";
import { BackupObjectNotFoundError, InvalidObjectPathError } from "../../src/storage/errors";
import { type BackupStore, type StoredObjectInfo } from "../../src/storage/backup-store";

/** Behaviour every BackupStore must share; each store's test file runs it against a fresh store. */
export function describeBackupStoreContract(getStore: () => BackupStore): void {
  let store: BackupStore;
  let base: string;
  let counter = 0;
  beforeEach(() => {
    store = getStore();
    // Each test works under its own folder, so tests do not see each other's objects.
    base = `contract-${Date.now().toString(36)}-${counter++}`;
  });

  it("when an object is written once, it is created and reads back byte for byte", async () => {
    const data = randomBytes(12_000);
    await expect(store.writeOnce(`${base}/keys/k1.keybackup`, data)).resolves.toEqual({ outcome: "created" });
    expect((await store.read(`${base}/keys/k1.keybackup`)).equals(data)).toBe(true);
    expect(await store.exists(`${base}/keys/k1.keybackup`)).toBe(true);
    await expect(store.writeOnce(`${base}/empty.bin`, Buffer.alloc(0))).resolves.toEqual({ outcome: "created" });
    expect((await store.read(`${base}/empty.bin`)).length).toBe(0);
  });

  it("when a second writeOnce targets the same path, it returns exists with the original bytes and leaves the original untouched", async () => {
    const original = Buffer.from("original bytes");
    const path = `${base}/keys/k1.keybackup`;
    await store.writeOnce(path, original);
    const second = await store.writeOnce(path, Buffer.from("different bytes, longer than the first"));
    expect(second.outcome).toBe("exists");
    expect(second.outcome === "exists" && second.existing.equals(original)).toBe(true);
    expect((await store.read(path)).equals(original)).toBe(true);
  });

  it("when many writers race for the same path, exactly one creates it and the others see its bytes", async () => {
    const path = `${base}/manifest.json`;
    const payloads = Array.from({ length: 8 }, (_, i) => Buffer.from(`{"writer":${i},"pad":"${"x".repeat(2000 + i)}"}`));
    const results = await Promise.all(payloads.map((p) => store.writeOnce(path, p)));
    const winners = results.flatMap((r, i) => (r.outcome === "created" ? [i] : []));
    expect(winners).toHaveLength(1);
    const stored = await store.read(path);
    expect(stored.equals(payloads[winners[0]!]!)).toBe(true);
    // Every loser was handed the winner's bytes.
    expect(results.filter((r) => r.outcome === "exists" && !r.existing.equals(stored))).toEqual([]);
  });

  it("when an object of a few megabytes is written, it reads back intact", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    await store.writeOnce(`${base}/manifest.json`, data);
    expect((await store.read(`${base}/manifest.json`)).equals(data)).toBe(true);
  });

  it("when reading a missing object, it throws BackupObjectNotFoundError and exists is false", async () => {
    await expect(store.read(`${base}/nope.bin`)).rejects.toBeInstanceOf(BackupObjectNotFoundError);
    await expect(store.read(`${base}/nope.bin`)).rejects.toMatchObject({ path: `${base}/nope.bin` });
    expect(await store.exists(`${base}/nope.bin`)).toBe(false);
  });

  it("when listing a prefix, it returns every object below it recursively and nothing else", async () => {
    await seed(store, base);
    const all = await collect(store.list(`${base}/`));
    expect(all.map((o) => o.path).sort()).toEqual(
      [`${base}/v1/s1/inventory.json`, `${base}/v1/s1/keys/a.bin`, `${base}/v1/s1/keys/b.bin`, `${base}/v1/s2/inventory.json`, `${base}/v2/s3/keys/c.bin`].sort(),
    );
    const a = all.find((o) => o.path.endsWith("keys/a.bin"))!;
    expect(a.size).toBe(3);
    expect(a.lastModified).toBeInstanceOf(Date);
    expect(Math.abs(a.lastModified.getTime() - Date.now())).toBeLessThan(5 * 60_000);
    expect((await collect(store.list(`${base}/v1/s1/keys/`))).map((o) => o.path).sort()).toEqual([`${base}/v1/s1/keys/a.bin`, `${base}/v1/s1/keys/b.bin`]);
    // A prefix need not end at a folder boundary.
    expect((await collect(store.list(`${base}/v1/s`))).length).toBe(4);
    expect(await collect(store.list(`${base}/nothing-here/`))).toEqual([]);
  });

  it("when listing folders, it returns only the immediate child folder names", async () => {
    await seed(store, base);
    expect(await store.listFolders(`${base}/`)).toEqual(["v1", "v2"]);
    expect(await store.listFolders(`${base}/v1/`)).toEqual(["s1", "s2"]);
    expect(await store.listFolders(`${base}/v1/s1/`)).toEqual(["keys"]);
    expect(await store.listFolders(`${base}/v1/s1/keys/`)).toEqual([]);
    expect(await store.listFolders(`${base}/missing/`)).toEqual([]);
    expect(await store.listFolders("")).toContain(base);
  });

  it("when deleting a prefix, it removes exactly the objects below it and returns their count", async () => {
    await seed(store, base);
    expect(await store.deletePrefix(`${base}/v1/s1/`)).toBe(3);
    expect(await store.listFolders(`${base}/v1/`)).toEqual(["s2"]);
    expect((await collect(store.list(`${base}/`))).length).toBe(2);
    expect(await store.exists(`${base}/v1/s2/inventory.json`)).toBe(true);
    expect(await store.deletePrefix(`${base}/v1/s1/`)).toBe(0);
    expect(await store.deletePrefix(`${base}/`)).toBe(2);
    expect(await store.listFolders("")).not.toContain(base);
    await expect(store.deletePrefix("")).rejects.toThrow(/empty prefix/);
  });

  it("when a path tries to escape or is malformed, it is rejected and nothing is written", async () => {
    const tricks = ["../escape.bin", `${base}/../../escape.bin`, "/abs.bin", `${base}\\win.bin`, `${base}/nul\0.bin`,
      `${base}//double.bin`, `./${base}/dot.bin`, "C:/drive.bin", "", `${base}/.x.bin.tmp-0a1b`, `${base}/`];
    for (const trick of tricks) {
      await expect(store.writeOnce(trick, Buffer.from("x"))).rejects.toBeInstanceOf(InvalidObjectPathError);
      await expect(store.read(trick)).rejects.toBeInstanceOf(InvalidObjectPathError);
    }
    await expect(collect(store.list("../"))).rejects.toBeInstanceOf(InvalidObjectPathError);
    await expect(store.listFolders(`${base}`)).rejects.toBeInstanceOf(InvalidObjectPathError);
    await expect(store.deletePrefix("/")).rejects.toBeInstanceOf(InvalidObjectPathError);
    expect(await collect(store.list(`${base}`))).toEqual([]);
  });
}

/**
 * A store whose container or folder was never created (a fresh deployment, before the first backup):
 * it reads as empty, says that it is missing, and ensureReady creates it.
 */
export function describeMissingStoreContract(getMissingStore: () => BackupStore): void {
  it("when its container or folder does not exist, listing, reading and deleting treat it as empty", async () => {
    const store = getMissingStore();
    expect(await store.listFolders("")).toEqual([]);
    expect(await store.listFolders("vault.example/")).toEqual([]);
    expect(await collect(store.list(""))).toEqual([]);
    expect(await store.exists("vault.example/set/manifest.json")).toBe(false);
    await expect(store.read("vault.example/set/manifest.json")).rejects.toBeInstanceOf(BackupObjectNotFoundError);
    expect(await store.deletePrefix("vault.example/")).toBe(0);
    expect(await store.missingRoot()).toMatch(/does not exist/);
  });

  it("when ensureReady has created it, missingRoot answers undefined", async () => {
    const store = getMissingStore();
    await store.ensureReady();
    expect(await store.missingRoot()).toBeUndefined();
    expect(await store.listFolders("")).toEqual([]);
  });
}

export async function seed(store: BackupStore, base: string): Promise<void> {
  await Promise.all([
    store.writeOnce(`${base}/v1/s1/inventory.json`, Buffer.from("{}")),
    store.writeOnce(`${base}/v1/s1/keys/a.bin`, Buffer.from("aaa")),
    store.writeOnce(`${base}/v1/s1/keys/b.bin`, Buffer.from("bbbb")),
    store.writeOnce(`${base}/v1/s2/inventory.json`, Buffer.from("{}")),
    store.writeOnce(`${base}/v2/s3/keys/c.bin`, Buffer.from("c")),
  ]);
}

export async function collect(items: AsyncIterable<StoredObjectInfo>): Promise<StoredObjectInfo[]> {
  const out: StoredObjectInfo[] = [];
  for await (const item of items) out.push(item);
  return out;
}
