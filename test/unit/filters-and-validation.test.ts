import { createNameFilter, InvalidGlobError } from "../../src/filters";
import { endpointProblem } from "../../src/validation";

describe("name filters", () => {
  it("when no include is given, every key matches except the excluded ones", () => {
    const accept = createNameFilter([], ["tmp-*"]);
    expect(accept("prod-key")).toBe(true);
    expect(accept("tmp-1")).toBe(false);
  });

  it("when globs differ in case from key names, they still match (names are case-insensitive)", () => {
    const accept = createNameFilter(["PROD-*"], []);
    expect(accept("prod-signing")).toBe(true);
    expect(accept("dev-signing")).toBe(false);
  });

  it("when a glob holds a path trick, it is refused", () => {
    expect(() => createNameFilter(["../*"], [])).toThrow(InvalidGlobError);
    expect(() => createNameFilter([], ["a/b"])).toThrow(InvalidGlobError);
  });
});

describe("vault URLs", () => {
  const strict = { allowLoopback: false };
  it("when the URL is a Key Vault base URL, it is accepted", () => {
    expect(endpointProblem("https://my-vault.vault.azure.net", "vault", strict)).toBeUndefined();
    expect(endpointProblem("https://my-vault.vault.azure.net/", "vault", strict)).toBeUndefined();
    expect(endpointProblem("https://my-hsm.managedhsm.azure.net", "hsm", strict)).toBeUndefined();
  });

  it.each([
    ["http://my-vault.vault.azure.net", "https"],
    ["https://user:pw@my-vault.vault.azure.net", "user information"],
    ["https://my-vault.vault.azure.net:8443", "port"],
    ["https://169.254.169.254", "Key Vault"],
    ["https://evil.com/?x=.vault.azure.net", "path or query"],
    ["https://my-vault.vault.azure.net.evil.com", "Key Vault"],
    ["https://a.b.vault.azure.net", "Key Vault"],
    ["https://127.0.0.1:8443", "loopback"],
    ["not a url", "not a URL"],
  ])("when the URL is %s, it is refused (%s)", (url, reason) => {
    expect(endpointProblem(url, "vault", strict)).toContain(reason);
  });

  it("when the emulator is in use, a loopback URL with a port is accepted", () => {
    expect(endpointProblem("https://127.0.0.1:8443", "vault", { allowLoopback: true })).toBeUndefined();
  });
});
