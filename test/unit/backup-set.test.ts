import { BackupSetPaths, compactTimestamp, makeBackupSetId, parseBackupSetRef, vaultFolder } from "../../src/storage/backup-set";
import { InvalidBackupSetIdError } from "../../src/storage/errors";

describe("backup set layout", () => {
  it("when a job starts, its set id is the UTC timestamp and the job id", () => {
    expect(makeBackupSetId("2026-11-25T22:45:07.123Z", "job-1")).toBe("20261125T224507Z-job-1");
    expect(compactTimestamp("2026-01-02T03:04:05Z")).toBe("20260102T030405Z");
  });

  it("when a vault URL has a port, its folder keeps it after an underscore", () => {
    expect(vaultFolder("https://MyVault.vault.azure.net/")).toBe("myvault.vault.azure.net");
    expect(vaultFolder("https://127.0.0.1:8443")).toBe("127.0.0.1_8443");
  });

  it("when a reference names the vault folder too, it is split into both parts", () => {
    expect(parseBackupSetRef("127.0.0.1_8443/20261125T224507Z-abc")).toMatchObject({ vaultFolder: "127.0.0.1_8443", backupSetId: "20261125T224507Z-abc", jobId: "abc" });
    expect(parseBackupSetRef("20261125T224507Z-abc").vaultFolder).toBeUndefined();
  });

  it.each(["", "../20261125T224507Z-abc", "a/b/20261125T224507Z-abc", "20261125T224507Z-", "20261125-abc", "20261125T224507Z-a/../../x", "20261125T224507Z-abc\u0000"])(
    "when a reference is %j, it is refused",
    (ref) => {
      expect(() => parseBackupSetRef(ref)).toThrow(InvalidBackupSetIdError);
    },
  );

  it("when paths are built, they stay inside the set's folder", () => {
    const paths = new BackupSetPaths("v.vault.azure.net", "20261125T224507Z-abc");
    expect(paths.manifest).toBe("v.vault.azure.net/20261125T224507Z-abc/manifest.json");
    expect(paths.blob("key", "k-1")).toBe("v.vault.azure.net/20261125T224507Z-abc/keys/k-1.keybackup");
    expect(paths.batch(7)).toBe("v.vault.azure.net/20261125T224507Z-abc/batches/000007.json");
  });
});
