import { RateLimiter } from "../../src/util/rate-limiter";
import { pacingBudget } from "../../src/keyvault/clients";
import { PACING_SAFETY_FACTOR } from "../../src/tuning";

/** Lets pending promise callbacks and zero-delay work run. */
const settle = () => new Promise((r) => setImmediate(r));

describe("pacing slots", () => {
  it("when a slot is in flight, it counts against the budget until a window after its release", async () => {
    let now = 0;
    const limiter = new RateLimiter(2, 1000, () => now);
    const first = await limiter.acquireSlot();
    const second = await limiter.acquireSlot();
    let third = false;
    const pending = limiter.acquireSlot().then((release) => {
      third = true;
      return release;
    });
    // Long past the window of the grants: both are still in flight, so nothing may go.
    now = 5000;
    await settle();
    expect(third).toBe(false);
    first();
    second();
    expect(limiter.used).toBe(2);
    // The vault may have counted them as late as their answer: still a whole window to wait.
    now = 5999;
    expect(limiter.used).toBe(2);
    now = 6000;
    expect(limiter.used).toBe(0);
    const release = await pending;
    expect(third).toBe(true);
    release();
  });

  it("when a release is called twice, the slot is given back once", async () => {
    let now = 0;
    const limiter = new RateLimiter(3, 1000, () => now);
    const release = await limiter.acquireSlot();
    release();
    release();
    expect(limiter.used).toBe(1);
    now = 1000;
    expect(limiter.used).toBe(0);
  });

  it("when waiting callers are woken, they go in arrival order", async () => {
    let now = 0;
    const limiter = new RateLimiter(1, 100, () => now);
    (await limiter.acquireSlot())();
    const order: number[] = [];
    const a = limiter.acquire().then(() => order.push(1));
    const b = limiter.acquire().then(() => order.push(2));
    now = 250;
    await a;
    now = 500;
    await b;
    expect(order).toEqual([1, 2]);
  });
});

describe("pacing budget", () => {
  it("when no budget is configured, nothing is paced", () => {
    expect(pacingBudget(0)).toBe(0);
    expect(pacingBudget(undefined)).toBe(0);
  });

  it("when a budget is configured, the client paces at its safety share of it, at least one", () => {
    expect(pacingBudget(4000)).toBe(Math.floor(4000 * PACING_SAFETY_FACTOR));
    expect(pacingBudget(1)).toBe(1);
  });
});
