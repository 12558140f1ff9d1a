import { SlidingWindow, applyKnobs, defaultKnobs, makeRandom } from "../../src/emulator/knobs";

describe("emulator throttle window", () => {
  it("when the budget is used up, it tells how long until the oldest admission leaves the window", () => {
    const w = new SlidingWindow(10_000);
    expect(w.tryAcquire(3, 0)).toBe(0);
    expect(w.tryAcquire(3, 1_000)).toBe(0);
    expect(w.tryAcquire(3, 2_000)).toBe(0);
    expect(w.tryAcquire(3, 2_500)).toBe(7_500);
    // Rejections are not recorded: the same answer a moment later.
    expect(w.tryAcquire(3, 3_000)).toBe(7_000);
    expect(w.tryAcquire(3, 10_000)).toBe(0);
    expect(w.tryAcquire(3, 10_001)).toBe(999);
  });

  it("when the budget is lowered at run time, it waits until enough admissions have left", () => {
    const w = new SlidingWindow(10_000);
    for (let t = 0; t < 10; t++) expect(w.tryAcquire(100, t * 100)).toBe(0);
    // 10 in the window, limit now 2: the 9th oldest (t=800) has to leave first.
    expect(w.tryAcquire(2, 1_000)).toBe(800 + 10_000 - 1_000);
    expect(w.tryAcquire(0, 1_000)).toBe(0);
  });

  it("when knobs are patched, it merges faults field by field and rejects bad values", () => {
    const k = applyKnobs(defaultKnobs(), { faults: { dropRate: 0.5 } });
    expect(k.faults).toEqual({ error503Rate: 0, dropRate: 0.5, retryAfterSeconds: 1 });
    expect(() => applyKnobs(k, { faults: { error503Rate: 1.5 } })).toThrow(/error503Rate/);
    expect(() => applyKnobs(k, { latencyMs: -1 })).toThrow(/latencyMs/);
  });

  it("when delete and purge times are patched, they are kept apart from the rest and negative ones are refused", () => {
    const k = applyKnobs(defaultKnobs(), { purgeMs: 0 });
    expect({ softDeleteMs: k.softDeleteMs, purgeMs: k.purgeMs }).toEqual({ softDeleteMs: defaultKnobs().softDeleteMs, purgeMs: 0 });
    expect(defaultKnobs().softDeleteMs).toBeGreaterThan(0);
    expect(() => applyKnobs(k, { softDeleteMs: -1 })).toThrow(/softDeleteMs/);
    expect(() => applyKnobs(k, { purgeMs: Number.NaN })).toThrow(/purgeMs/);
  });

  it("when seeded, it draws the same sequence every time", () => {
    const a = makeRandom(42);
    const b = makeRandom(42);
    const seqA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});
