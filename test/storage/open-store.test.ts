import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { BlobBackupStore } from "../../src/storage/blob-store";
import { FileBackupStore } from "../../src/storage/file-store";
import { InvalidStorageError } from "../../src/storage/errors";
import { openBackupStore } from "../../src/storage/open-store";

const AZURITE_CS =
  "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;";

describe("openBackupStore", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvbackup-open-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("when given a folder (absolute, ./, ../, file: URL or existing directory), it opens a file store there", () => {
    const cases: Array<[string, string]> = [
      [dir, dir],
      [pathToFileURL(dir).href, dir],
      ["./some/backups", path.resolve("some/backups")],
      ["../backups", path.resolve("../backups")],
    ];
    for (const [storage, root] of cases) {
      const store = openBackupStore({ storage, container: "ignored" });
      expect(store).toBeInstanceOf(FileBackupStore);
      expect((store as FileBackupStore).root).toBe(root);
    }
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      fs.mkdirSync(path.join(dir, "existing"), { recursive: true });
      expect((openBackupStore({ storage: "existing", container: "c" }) as FileBackupStore).root).toBe(
        fs.realpathSync(path.join(dir, "existing")));
    } finally {
      process.chdir(cwd);
    }
  });

  it("when given a connection string or an http(s) URL, it opens a blob store whose description has no secret", () => {
    const fromCs = openBackupStore({ storage: AZURITE_CS, container: "kvbackup" });
    expect(fromCs).toBeInstanceOf(BlobBackupStore);
    expect(fromCs.description).toBe("blob:http://127.0.0.1:10000/devstoreaccount1/kvbackup");
    expect(openBackupStore({ storage: "UseDevelopmentStorage=true", container: "kvbackup" })).toBeInstanceOf(BlobBackupStore);
    const sasCs = "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=1&sig=SECRET";
    expect(openBackupStore({ storage: sasCs, container: "kvbackup" }).description).toBe("blob:https://acct.blob.core.windows.net/kvbackup");
    const fromUrl = openBackupStore({ storage: "https://acct.blob.core.windows.net/?sv=1&sig=SECRET", container: "kvbackup" });
    expect(fromUrl).toBeInstanceOf(BlobBackupStore);
    expect(fromUrl.description).toBe("blob:https://acct.blob.core.windows.net/kvbackup");
  });

  it("when given anything else, it throws InvalidStorageError with one line that does not echo secrets", () => {
    for (const storage of ["", "   ", "backups-not-existing", "ftp://host/x", "AccountKey=TOPSECRET;Foo=bar", "file://remote-host/share"]) {
      let error: unknown;
      try {
        openBackupStore({ storage, container: "kvbackup" });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(InvalidStorageError);
      const message = (error as Error).message;
      expect(message).not.toContain("\n");
      expect(message).not.toContain("TOPSECRET");
    }
    expect(() => openBackupStore({ storage: AZURITE_CS, container: "Bad_Name" })).toThrow(/invalid container name/);
  });
});
