import { isRetryableFailure, tagActivityFailure } from "../../activities/failures";
import { BackupSetIncompleteError, BackupSetNotFoundError } from "../../src/storage/errors";
import { HsmBusyError, InvalidHsmRequestError } from "../../activities/hsm";
import { readFailure } from "../../orchestrators/retry";
import { retryDelayMs } from "../../src/retry-policies";
import { ConfigurationError } from "../../src/config";
import { toKeyVaultError } from "../../src/keyvault/errors";
import { DamagedBackupDocumentError, InvalidBackupSetIdError } from "../../src/storage/errors";
import { BackupObjectNotFoundError } from "../../src/storage/errors";

/** The one decision of what an activity failure is worth: another attempt, or the end of it. */
describe("retryable or final", () => {
  const rest = (statusCode: number, message = "x") => Object.assign(new Error(message), { name: "RestError", statusCode });
  const net = (code: string) => Object.assign(new Error(`connect ${code}`), { code });

  it.each([
    ["429 from the vault", true, toKeyVaultError(rest(429))],
    ["503 from the vault", true, toKeyVaultError(rest(503))],
    ["500 from Blob Storage", true, rest(500)],
    ["408 from Blob Storage", true, rest(408)],
    ["a connection reset", true, net("ECONNRESET")],
    ["a refused connection", true, net("ECONNREFUSED")],
    ["a timeout", true, toKeyVaultError(net("ETIMEDOUT"))],
    ["an HSM busy with another operation", true, new HsmBusyError("busy")],
    ["an error of no known kind", true, new Error("something odd")],
    ["400 from the vault", false, toKeyVaultError(rest(400))],
    ["401 from the vault", false, toKeyVaultError(rest(401))],
    ["403 from Blob Storage", false, rest(403)],
    ["404 from Blob Storage", false, rest(404)],
    ["a backup set that is not there", false, new BackupSetNotFoundError("20200101T000000Z-x")],
    ["a set without manifest", false, new BackupSetIncompleteError("20200101T000000Z-x")],
    ["a damaged manifest", false, new DamagedBackupDocumentError("a/manifest.json", "not JSON")],
    ["an invalid set id", false, new InvalidBackupSetIdError("../x")],
    ["a missing document", false, new BackupObjectNotFoundError("a/b.json")],
    ["an invalid HSM request", false, new InvalidHsmRequestError("keyName is not valid")],
    ["a bad setting", false, new ConfigurationError(["KVBACKUP_STORAGE: is required"])],
  ] as const)("when an activity throws %s, it is retryable: %s", (_what, retryable, error) => {
    expect(isRetryableFailure(error)).toBe(retryable);
  });

  it("when a failure is tagged, it keeps its message, its name and its cause, and the orchestrator reads the verdict back", () => {
    const original = new BackupSetNotFoundError("20200101T000000Z-x");
    const tagged = tagActivityFailure(original);
    expect(tagged.name).toBe("BackupSetNotFoundError");
    expect(tagged.cause).toBe(original);
    // What the orchestrator gets from the host: reason, then details.
    expect(readFailure(new Error(`${tagged.message} \n {"name":"BackupSetNotFoundError"}`))).toEqual({ retryable: false, reason: original.message });
  });

  it("when the host wraps the activity's message in words of its own, the verdict is still found", () => {
    const tagged = tagActivityFailure(toKeyVaultError(rest(503, "busy")));
    const wrapped = new Error(`Activity function 'backupObjectBatch' failed: Result: Failure\nException: ${tagged.message}\nStack: at x`);
    expect(readFailure(wrapped)).toEqual({ retryable: true, reason: "busy" });
  });

  it("when a failure carries no tag (the activity never ran), it is retryable and its first line is the reason", () => {
    expect(readFailure(new Error("the host lost the worker \n {}"))).toEqual({ retryable: true, reason: "the host lost the worker" });
  });

  it("when attempts fail, the waits grow by the coefficient up to the ceiling", () => {
    const policy = { firstRetryIntervalMs: 2_000, maxAttempts: 5, backoffCoefficient: 2, maxRetryIntervalMs: 10_000 };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(policy, n))).toEqual([2_000, 4_000, 8_000, 10_000]);
  });
});
