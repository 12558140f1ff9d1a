import { KeyStore, type StoredKey } from "../../src/emulator/key-store";

const key = (name: string): StoredKey => ({
  name,
  managed: false,
  versions: [{ id: "0".repeat(32), kty: "EC", material: { kty: "EC", crv: "P-256", x: "x", y: "y", d: "d" }, keyOps: ["sign"], attributes: { enabled: true, created: 1, updated: 1 } }],
});

describe("emulator key store transitions", () => {
  let now: number;
  let store: KeyStore;
  beforeEach(() => {
    now = 1_000_000;
    store = new KeyStore(() => now);
  });

  it("when a delete takes time, the key is in neither view until its time has come, then deleted", () => {
    store.insertLive(key("k"));
    store.softDelete("k", 1, 2, 300);

    expect(store.getLive("k")).toBeUndefined();
    expect(store.getDeleted("k")).toBeUndefined();
    expect(store.transitOf("K")).toBe("deleting");
    expect(store.settlesIn("k")).toBe(300);
    now += 299;
    expect(store.deletedNames()).toEqual([]);
    now += 1;
    expect(store.deletedNames()).toEqual(["k"]);
    expect(store.transitOf("k")).toBeUndefined();
  });

  it("when a recover and a purge take time, the name ends live and gone respectively", () => {
    store.insertDeleted(key("back"));
    store.insertDeleted(key("gone"));
    store.recover("back", 100);
    store.purge("gone", 200);
    expect([store.transitOf("back"), store.transitOf("gone")]).toEqual(["recovering", "purging"]);
    expect(store.liveCount).toBe(0);

    now += 100;
    expect(store.liveNames()).toEqual(["back"]);
    expect(store.transitOf("gone")).toBe("purging");
    now += 100;
    expect(store.transitOf("gone")).toBeUndefined();
    expect(store.deletedNames()).toEqual([]);
  });

  it("when the state is written mid-transition, each key is written as the state it ends in", () => {
    store.insertLive(key("deleting"));
    store.insertDeleted(key("recovering"));
    store.insertDeleted(key("purging"));
    store.softDelete("deleting", 1, 2, 500);
    store.recover("recovering", 500);
    store.purge("purging", 500);

    const written = store.toJSON();

    expect(written.keys.map((k) => k.name)).toEqual(["recovering"]);
    expect(written.deleted.map((k) => k.name)).toEqual(["deleting"]);
    const reloaded = new KeyStore(() => now);
    reloaded.load(written);
    expect([reloaded.liveNames(), reloaded.deletedNames(), reloaded.transitOf("purging")]).toEqual([["recovering"], ["deleting"], undefined]);
  });

  it("when transitions take no time, they are done at once, as before", () => {
    store.insertLive(key("k"));
    store.softDelete("k", 1, 2);
    expect(store.deletedNames()).toEqual(["k"]);
    store.purge("k");
    expect([store.deletedNames(), store.transitOf("k")]).toEqual([[], undefined]);
  });
});
