import { ExitCode, UsageError, errorResponse } from "../../src/error-responses";
import { DurableHostError } from "../../src/local/durable-host";
import { JobArgumentsMismatchError } from "../../src/local/job-arguments";
import {
  AmbiguousBackupSetError,
  BackupSetIncompleteError,
  BackupSetNotFoundError,
  DamagedBackupDocumentError,
  InvalidBackupSetIdError,
  InvalidStorageError,
} from "../../src/storage/errors";

/** The one table both triggers answer errors by: the CLI's exit code and the HTTP API's status and reason. */
describe("error responses", () => {
  it.each([
    ["a usage error", new UsageError("--vault: is not a URL"), 400],
    ["storage that names nothing usable", new InvalidStorageError("no storage given"), 400],
    ["an invalid backup set id", new InvalidBackupSetIdError("x"), 400],
    ["a missing backup set", new BackupSetNotFoundError("20200101T000000Z-a"), 404],
    ["a set id held by several vaults", new AmbiguousBackupSetError("20200101T000000Z-a", ["v1", "v2"]), 400],
    ["a set without manifest", new BackupSetIncompleteError("20200101T000000Z-a"), 409],
    ["a damaged manifest", new DamagedBackupDocumentError("v/s/manifest.json", "not valid JSON"), 409],
    ["a job id given again with other arguments", new JobArgumentsMismatchError("job1", ["vaultUrl"]), 409],
    ["a job id whose state is another job's", new DurableHostError("StateMismatch", "instance 'job1' belongs to another orchestrator"), 409],
  ])("when the error is %s, the CLI exits 2 and the HTTP API answers the status given", (_what, error, httpStatus) => {
    const response = errorResponse(error);
    expect(response).toMatchObject({ exitCode: ExitCode.badInput, httpStatus, message: error.message.split("\n")[0] });
    expect(response.reason.length).toBeGreaterThan(0);
  });

  it("when a backup set is not found, the HTTP reason speaks of the request's field, the CLI line of the set", () => {
    const response = errorResponse(new BackupSetNotFoundError("20200101T000000Z-a"));
    expect(response.reason).toBe("no such backup set in the store");
    expect(response.message).toBe('no backup set "20200101T000000Z-a" in the store');
  });

  it("when the error is of no listed kind (a service's failure, a host that gave up waiting), it is exit 1 and HTTP 500", () => {
    expect(errorResponse(Object.assign(new Error("socket hang up\nat ..."), { code: "ECONNRESET" }))).toEqual({
      exitCode: ExitCode.failed,
      httpStatus: 500,
      message: "socket hang up",
      reason: "socket hang up",
    });
    expect(errorResponse(new DurableHostError("Timeout", "gave up waiting")).exitCode).toBe(ExitCode.failed);
    expect(errorResponse("plain text").message).toBe("plain text");
  });
});
