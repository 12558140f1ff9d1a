import { ObjectConflictError, toKeyVaultError } from "../../src/keyvault/errors";
import { DEFAULT_SETTLING_POLICY } from "../../src/retry-policies";
import { NameSettling, settlingState } from "../../src/keyvault/settling";

const conflict = (message: string, inner?: string): ObjectConflictError => {
  const error = toKeyVaultError(
    Object.assign(new Error(message), { statusCode: 409, code: "Conflict", ...(inner ? { details: { error: { code: "Conflict", message, innererror: { code: inner } } } } : {}) }),
  );
  if (!(error instanceof ObjectConflictError)) throw new Error("expected a ObjectConflictError");
  return error;
};

describe("names between two states in a target vault", () => {
  it("when the service says a delete or a recover is running, the 409 is read as 'not yet', not as a conflict", () => {
    expect(settlingState(conflict("Key is currently being deleted."), undefined)).toBe("deleting");
    expect(settlingState(conflict("Key k is currently being recovered and cannot be re-created; retry later."), undefined)).toBe("recovering");
    expect(settlingState(conflict("Conflict", "ObjectIsBeingRecovered"), undefined)).toBe("recovering");
    expect(conflict("Key is currently being deleted.").softDeleted).toBe(false);
  });

  it("when a plain 409 comes while nobody holds the name, it is a purge not yet finished; when somebody does, a conflict", () => {
    const plain = conflict("There was a conflict while restoring key 'k'.");
    expect(settlingState(plain, "none")).toBe("purging");
    expect(settlingState(plain, "active")).toBeUndefined();
    expect(settlingState(conflict("Key k is currently in a deleted but recoverable state, and its name cannot be reused"), "deleted")).toBeUndefined();
  });

  it("when a name keeps settling, the waits double up to the cap and stop at the total budget", async () => {
    // Prepare: no jitter (random 0.5 is the middle of ±20 %), sleeps recorded instead of taken
    const slept: number[] = [];
    const settling = new NameSettling(async (ms) => void slept.push(ms), DEFAULT_SETTLING_POLICY, () => 0.5);

    // Act
    let waits = 0;
    while (await settling.wait("purging")) waits++;

    // Assess
    expect(slept.slice(0, 6)).toEqual([500, 1_000, 2_000, 4_000, 8_000, 8_000]);
    expect(slept.reduce((a, b) => a + b, 0)).toBe(DEFAULT_SETTLING_POLICY.maxWaitMs);
    expect(waits).toBe(slept.length);
    expect(settling.summary).toEqual({ state: "purging", waits, waitedMs: 30_000 });
    expect(settling.gaveUp("Conflict: x")).toMatch(/^the name was still being purged in the target vault after 30\.0 s \(last answer Conflict: x\); retry the restore later$/);
  });

  it("when a name never had to be waited for, there is nothing to report", () => {
    expect(new NameSettling(async () => undefined).summary).toBeUndefined();
  });
});
