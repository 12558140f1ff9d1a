import {
  CertificateManagedError,
  ObjectConflictError,
  ObjectNotFoundError,
  KeyVaultThrottledError,
  KeyVaultUnavailableError,
  describeFailure,
  isRetryable,
  toKeyVaultError,
} from "../../src/keyvault/errors";
import { RateLimiter } from "../../src/util/rate-limiter";

describe("Key Vault error mapping", () => {
  const rest = (statusCode: number, code: string, message: string) => Object.assign(new Error(message), { statusCode, code });

  it("when the service answers 409, it is a conflict and not retried", () => {
    const error = toKeyVaultError(rest(409, "Conflict", "Key k is currently in a deleted but recoverable state"));
    expect(error).toBeInstanceOf(ObjectConflictError);
    expect((error as ObjectConflictError).softDeleted).toBe(true);
    expect(isRetryable(error)).toBe(false);
  });

  it("when a certificate-backed key's backup is refused, it maps to its own error", () => {
    const error = toKeyVaultError(rest(403, "Forbidden", 'Operation "backup" is not allowed on this Key, since it is associated with a certificate.'));
    expect(error).toBeInstanceOf(CertificateManagedError);
  });

  it("when the service throttles or fails, it is retryable; a missing key is not", () => {
    expect(toKeyVaultError(rest(429, "Throttled", "slow down"))).toBeInstanceOf(KeyVaultThrottledError);
    expect(toKeyVaultError(rest(503, "ServiceUnavailable", "busy"))).toBeInstanceOf(KeyVaultUnavailableError);
    expect(isRetryable(rest(503, "x", "y"))).toBe(true);
    expect(toKeyVaultError(rest(404, "KeyNotFound", "gone"))).toBeInstanceOf(ObjectNotFoundError);
    expect(isRetryable(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }))).toBe(true);
  });

  it("when a failure is described, it reads code: message on one line", () => {
    expect(describeFailure(rest(400, "BadParameter", "bad blob\nstack"))).toBe("BadParameter: bad blob");
  });
});

describe("rate limiter", () => {
  it("when more is asked than the budget, the excess waits for the window to move on", async () => {
    let now = 0;
    const limiter = new RateLimiter(3, 1000, () => now);
    await Promise.all([limiter.acquire(), limiter.acquire(), limiter.acquire()]);
    let fourth = false;
    const pending = limiter.acquire().then(() => (fourth = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(fourth).toBe(false);
    now = 1001;
    await pending;
    expect(fourth).toBe(true);
  });
});
