import { differingJobArguments } from "../../src/local/job-arguments";

const backup = { vaultUrl: "https://prod.vault.azure.net", include: ["a-*", "b-*"], exclude: [], tuning: { batchSize: 100 }, retry: { maxAttempts: 5 } };

describe("differingJobArguments", () => {
  it("when the same job is asked for again, nothing differs, whatever the tuning", () => {
    expect(differingJobArguments(backup, { ...backup, tuning: { batchSize: 200 }, retry: { maxAttempts: 9 } })).toEqual([]);
  });

  it("when globs come in another order, or the vault URL in other case or with a slash, it is the same job", () => {
    expect(differingJobArguments(backup, { ...backup, vaultUrl: "https://PROD.vault.azure.net/", include: ["b-*", "a-*"] })).toEqual([]);
  });

  it("when a stored backup has no versionDetails, it means true", () => {
    expect(differingJobArguments(backup, { ...backup, versionDetails: true })).toEqual([]);
    expect(differingJobArguments(backup, { ...backup, versionDetails: false })).toEqual(["versionDetails"]);
  });

  it("when what the job does differs, each differing field is named", () => {
    expect(differingJobArguments(backup, { ...backup, vaultUrl: "https://other.vault.azure.net", exclude: ["tmp-*"] })).toEqual(["exclude", "vaultUrl"]);
    const restore = { backupSetId: "x/20260101T000000Z-j", include: [], exclude: [], dryRun: true, onConflict: "skip" };
    expect(differingJobArguments(restore, { ...restore, dryRun: false, targetVaultUrl: "https://t.vault.azure.net" })).toEqual(["dryRun", "targetVaultUrl"]);
  });

  it("when an HSM job differs only in its polling, it is the same job; another folder is not", () => {
    const hsm = { hsmUrl: "https://h.managedhsm.azure.net", folderUrl: "https://a.blob.core.windows.net/c/mhsm-h-20260101000000", polling: { initialIntervalMs: 1000 } };
    expect(differingJobArguments(hsm, { ...hsm, polling: { initialIntervalMs: 5000 } })).toEqual([]);
    expect(differingJobArguments(hsm, { ...hsm, folderUrl: "https://a.blob.core.windows.net/c/mhsm-h-20260202000000" })).toEqual(["folderUrl"]);
  });
});
