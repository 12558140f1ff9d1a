import { KeyStore, type StoredKey } from "../../src/emulator/key-store";
import { VaultState } from "../../src/emulator/vault-state";

const key = (name: string): StoredKey => ({
  name,
  managed: false,
  versions: [{ id: "0".repeat(32), kty: "EC", material: { kty: "EC", crv: "P-256", x: "x", y: "y", d: "d" }, keyOps: ["sign"], attributes: { enabled: true, created: 1, updated: 1 } }],
});

const secret = (name: string, managed = false) => ({
  name,
  managed,
  versions: [{ id: "1".repeat(32), value: `value of ${name}`, contentType: "text/plain", attributes: { enabled: true, created: 1, updated: 1 } }],
});

describe("emulator vault state file", () => {
  it("when a keys-only state file of an earlier emulator is loaded, its keys come back and there are no secrets or certificates", () => {
    const old = new KeyStore();
    old.insertLive(key("kept"));
    old.insertDeleted(key("gone"));

    const state = new VaultState();
    state.load(JSON.parse(JSON.stringify(old.toJSON())));

    expect([state.keys.liveNames(), state.keys.deletedNames(), state.secrets.liveCount, state.certificates.liveCount]).toEqual([["kept"], ["gone"], 0, 0]);
  });

  it("when written mid-transition, each secret is written as the state it ends in, and a reload brings back every kind", () => {
    let now = 1_000;
    const state = new VaultState(() => now);
    state.keys.insertLive(key("k"));
    state.secrets.insertLive(secret("s-live"));
    state.secrets.insertLive(secret("s-deleting"));
    state.secrets.insertDeleted(secret("s-purging"));
    state.secrets.softDelete("s-deleting", 1, 2, 500);
    state.secrets.purge("s-purging", 500);

    const written = JSON.parse(JSON.stringify(state.toJSON())) as unknown;
    const reloaded = new VaultState(() => now);
    reloaded.load(written);

    expect(reloaded.secrets.liveNames()).toEqual(["s-live"]);
    expect(reloaded.secrets.deletedNames()).toEqual(["s-deleting"]);
    expect(reloaded.secrets.transitOf("s-purging")).toBeUndefined();
    expect(reloaded.keys.liveNames()).toEqual(["k"]);
    now += 500;
    expect(state.secrets.deletedNames()).toEqual(["s-deleting"]);
  });

  it("when the document is of another format, it refuses to load it", () => {
    expect(() => new VaultState().load({ format: "something-else" })).toThrow(/not an emulator state file/);
  });
});
