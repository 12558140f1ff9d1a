import { CancellableSleeps } from "../../src/util/cancellable-sleeps";

describe("CancellableSleeps", () => {
  it("when cancelAll is called, running and later sleeps end at once", async () => {
    const sleeps = new CancellableSleeps();
    const started = Date.now();
    const running = sleeps.sleep(60_000);

    sleeps.cancelAll();
    await running;
    await sleeps.sleep(60_000);

    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it("when not cancelled, a sleep waits its time, and zero or less does not wait", async () => {
    const sleeps = new CancellableSleeps();
    const started = Date.now();

    await sleeps.sleep(0);
    await sleeps.sleep(-5);
    const instant = Date.now() - started;
    await sleeps.sleep(50);

    expect(instant).toBeLessThan(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });
});
