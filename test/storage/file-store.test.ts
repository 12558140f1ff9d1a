import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { InvalidStorageError } from "../../src/storage/errors";
import { FileBackupStore } from "../../src/storage/file-store";
import { collect, describeBackupStoreContract, describeMissingStoreContract } from "./store-contract";

let root: string;
let store: FileBackupStore;

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "kvbackup-filestore-"));
  store = new FileBackupStore(path.join(root, "backups"));
  await store.ensureReady();
  await store.ensureReady();
});

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function allFiles(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));
}

describe("FileBackupStore", () => {
  describeBackupStoreContract(() => store);

  describe("when the folder was never created", () => {
    let n = 0;
    describeMissingStoreContract(() => new FileBackupStore(path.join(root, `never-created-${n++}`)));
  });

  it("when writes finish (created or exists), no temp file is left behind", async () => {
    await store.writeOnce("tmpcheck/a.bin", Buffer.from("a"));
    await store.writeOnce("tmpcheck/a.bin", Buffer.from("b"));
    await Promise.all(Array.from({ length: 5 }, (_, i) => store.writeOnce("tmpcheck/b.bin", Buffer.from(String(i)))));
    expect(allFiles(path.join(store.root, "tmpcheck")).sort()).toEqual(["a.bin", "b.bin"]);
  });

  it("when a crash left a temp file, it is neither listed nor counted as a folder, and deletePrefix clears it", async () => {
    fs.mkdirSync(path.join(store.root, "crashed", "set", "keys"), { recursive: true });
    fs.writeFileSync(path.join(store.root, "crashed", "set", "keys", ".k.bin.tmp-deadbeef"), "half");
    expect(await collect(store.list("crashed/"))).toEqual([]);
    expect(await store.listFolders("")).not.toContain("crashed");
    expect(await store.exists("crashed/set/keys/k.bin")).toBe(false);
    expect(await store.deletePrefix("crashed/")).toBe(0);
    expect(fs.existsSync(path.join(store.root, "crashed"))).toBe(false);
  });

  it("when an object is written, its file is readable by the owner only", async () => {
    await store.writeOnce("mode/k.bin", Buffer.from("secret-ish"));
    // Windows has no POSIX modes: there the check holds trivially.
    const mode = process.platform === "win32" ? 0o600 : fs.statSync(path.join(store.root, "mode", "k.bin")).mode & 0o777;
    expect(mode).toBe(0o600);
  });

  it("when the folder holds a symbolic link to elsewhere, list does not follow it", async () => {
    const outside = path.join(root, "outside");
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, "other.bin"), "x");
    fs.mkdirSync(path.join(store.root, "links"), { recursive: true });
    fs.writeFileSync(path.join(store.root, "links", "real.bin"), "r");
    fs.symlinkSync(outside, path.join(store.root, "links", "out"));
    expect((await collect(store.list("links/"))).map((o) => o.path)).toEqual(["links/real.bin"]);
  });

  it("when the root is not absolute, it throws InvalidStorageError", () => {
    expect(() => new FileBackupStore("relative/backups")).toThrow(InvalidStorageError);
    expect(store.description).toBe(`file:${store.root}`);
  });

  it("when the object path goes through an existing file, read reports not found", async () => {
    await store.writeOnce("through/file.bin", Buffer.from("f"));
    await expect(store.read("through/file.bin/inner.bin")).rejects.toMatchObject({ name: "BackupObjectNotFoundError" });
    expect(await store.exists("through")).toBe(false);
  });
});
