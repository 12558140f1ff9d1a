import { mapWithConcurrency } from "../../src/util/pool";

describe("mapWithConcurrency", () => {
  it("when every call succeeds, it returns the results in input order with at most `concurrency` running", async () => {
    let running = 0;
    let most = 0;
    const results = await mapWithConcurrency([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, n));
      running--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(most).toBe(2);
  });

  it("when a call fails, it starts no further item, waits for the calls already running, and throws the first failure", async () => {
    // Prepare: item 1 fails at once while item 0 is still running
    const started: number[] = [];
    const finished: number[] = [];
    let releaseSlow!: () => void;
    const slow = new Promise<void>((r) => (releaseSlow = r));

    // Act
    const outcome = mapWithConcurrency([0, 1, 2, 3, 4, 5, 6, 7], 2, async (n) => {
      started.push(n);
      if (n === 1) throw new Error("item 1 failed");
      if (n === 0) await slow;
      finished.push(n);
      return n;
    });
    let settled = false;
    void outcome.then(() => (settled = true), () => (settled = true));
    await new Promise((r) => setTimeout(r, 20));
    const settledBeforeSlowEnded = settled;
    releaseSlow();

    // Assess
    await expect(outcome).rejects.toThrow("item 1 failed");
    expect(settledBeforeSlowEnded).toBe(false);
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([0]);
  });
});
