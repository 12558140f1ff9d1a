import { PromiseCache } from "../../src/util/promise-cache";

describe("promise cache", () => {
  it("when two callers ask for the same key, they share one load", async () => {
    const cache = PromiseCache.bounded<string, number>(4);
    let loads = 0;
    const load = async () => ++loads;
    const [a, b] = await Promise.all([cache.get("k", load), cache.get("k", load)]);
    expect([a, b, loads]).toEqual([1, 1, 1]);
  });

  it("when a load fails, the failure is not kept: the next call loads again", async () => {
    const cache = PromiseCache.bounded<string, string>(4);
    await expect(cache.get("k", async () => Promise.reject(new Error("store down")))).rejects.toThrow("store down");
    await expect(cache.get("k", async () => "read")).resolves.toBe("read");
  });

  it("when more keys than the limit are loaded, the oldest is dropped and loaded again when asked", async () => {
    const cache = PromiseCache.bounded<string, string>(2);
    const loads: string[] = [];
    const load = (key: string) => async () => {
      loads.push(key);
      return key;
    };
    for (const key of ["a", "b", "c", "b", "a"]) await cache.get(key, load(key));
    expect(loads).toEqual(["a", "b", "c", "a"]);
  });

  it("when keyed by object, each object has its own entry", async () => {
    const cache = PromiseCache.weak<object, number>();
    const one = {}, two = {};
    let loads = 0;
    await cache.get(one, async () => ++loads);
    await cache.get(one, async () => ++loads);
    await cache.get(two, async () => ++loads);
    expect(loads).toBe(2);
  });
});
