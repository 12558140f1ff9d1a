/**
 * Paces operations to stay under a budget of `operations` per `windowMs` (Key Vault counts per
 * 10 seconds per vault). Going at the budget instead of bouncing off 429s keeps the job at the
 * vault's limit: a 429 costs a Retry-After of at least a second for every request that hits it.
 *
 * A sliding log of grant times: a caller waits until the oldest grant in the window leaves it.
 */
export class RateLimiter {
  private readonly grants: number[] = [];
  private head = 0;
  private queue: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly operations: number,
    readonly windowMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(operations > 0)) throw new Error("rate limiter needs a positive budget");
  }

  acquire(): Promise<void> {
    if (this.queue.length === 0 && this.tryGrant()) return Promise.resolve();
    return new Promise((resolve) => {
      this.queue.push(resolve);
      this.schedule();
    });
  }

  private tryGrant(): boolean {
    const now = this.now();
    while (this.head < this.grants.length && this.grants[this.head]! <= now - this.windowMs) this.head++;
    if (this.head > 4096) {
      this.grants.splice(0, this.head);
      this.head = 0;
    }
    if (this.grants.length - this.head < this.operations) {
      this.grants.push(now);
      return true;
    }
    return false;
  }

  private schedule(): void {
    if (this.timer) return;
    const oldest = this.grants[this.head] ?? this.now();
    const wait = Math.max(1, oldest + this.windowMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      while (this.queue.length > 0 && this.tryGrant()) this.queue.shift()!();
      if (this.queue.length > 0) this.schedule();
    }, wait);
    this.timer.unref?.();
  }
}
