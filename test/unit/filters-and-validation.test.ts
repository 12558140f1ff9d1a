import { createObjectFilter, InvalidGlobError } from "../../src/filters";
import { endpointProblem } from "../../src/validation";

describe("name filters", () => {
  it("when no include is given, every key matches except the excluded ones", () => {
    const accept = createObjectFilter([], ["tmp-*"]);
    expect(accept("key", "prod-key")).toBe(true);
    expect(accept("key", "tmp-1")).toBe(false);
    expect(accept("secret", "tmp-1")).toBe(false);
  });

  it("when globs differ in case from key names, they still match (names are case-insensitive)", () => {
    const accept = createObjectFilter(["PROD-*"], []);
    expect(accept("key", "prod-signing")).toBe(true);
    expect(accept("key", "dev-signing")).toBe(false);
  });

  it("when a glob holds a path trick, it is refused", () => {
    expect(() => createObjectFilter(["../*"], [])).toThrow(InvalidGlobError);
    expect(() => createObjectFilter([], ["a/b"])).toThrow(InvalidGlobError);
    expect(() => createObjectFilter(["vault:x"], [])).toThrow(InvalidGlobError);
  });

  it("when a glob names a kind, it matches objects of that kind only; without one, objects of every kind", () => {
    const accept = createObjectFilter(["secret:db-*", "certificate:web-?", "shared-*"], ["key:shared-old"]);
    expect(accept("secret", "db-password")).toBe(true);
    expect(accept("key", "db-password")).toBe(false);
    expect(accept("certificate", "web-1")).toBe(true);
    expect(accept("certificate", "web-10")).toBe(false);
    expect(accept("key", "shared-new")).toBe(true);
    expect(accept("secret", "shared-old")).toBe(true);
    expect(accept("key", "shared-old")).toBe(false);
  });

  it("when a kind is written in the plural or in capitals, it is the same kind", () => {
    const accept = createObjectFilter(["Secrets:db-*"], []);
    expect(accept("secret", "db-1")).toBe(true);
    expect(accept("key", "db-1")).toBe(false);
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
