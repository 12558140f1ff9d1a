/**
 * Timed waits that a shutdown can cut short: a service stopping must not sit out every emulated delay.
 * After cancelAll, every wait (running or new) ends at once.
 */
export class CancellableSleeps {
  private readonly wakers = new Map<NodeJS.Timeout, () => void>();
  private cancelled = false;

  sleep(ms: number): Promise<void> {
    if (ms <= 0 || this.cancelled) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakers.delete(timer);
        resolve();
      }, ms);
      this.wakers.set(timer, resolve);
    });
  }

  cancelAll(): void {
    this.cancelled = true;
    for (const [timer, wake] of this.wakers) {
      clearTimeout(timer);
      wake();
    }
    this.wakers.clear();
  }
}
