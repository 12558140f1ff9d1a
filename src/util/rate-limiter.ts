/**
 * Paces operations to stay under a budget of `operations` per `windowMs` (Key Vault counts per
 * 10 seconds per vault). Going at the budget instead of bouncing off 429s keeps the job at the
 * vault's limit: a 429 costs a Retry-After of at least a second for every request that hits it.
 *
 * The vault counts a request when it arrives, which is some time after the client let it go and
 * before its answer comes back. Counting a request from the moment it was let go (as a plain sliding
 * log does) is too early: requests that left together but arrived spread out by queueing and jitter
 * are still in the vault's window when the client thinks their slots are free again, and the next
 * wave is answered 429. So a slot is taken when the request leaves, held while it is in flight, and
 * stays taken for a whole window after its answer came back ({@link acquireSlot} and the release it
 * returns). Since the vault counted it before answering, the client's count is never below the
 * vault's; the price is one round trip per window (20 ms in 10 s: 0.2 %).
 */
export class RateLimiter {
  /** Release times of finished operations, oldest first (appended in time order). */
  private released: number[] = [];
  private head = 0;
  private inFlight = 0;
  private queue: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly operations: number,
    readonly windowMs = 10_000,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(operations > 0)) throw new Error("rate limiter needs a positive budget");
  }

  /**
   * Waits for a slot and returns its release: call it once when the operation is over (answered or
   * failed). The slot counts against the budget until a window after that.
   */
  async acquireSlot(): Promise<() => void> {
    if (this.queue.length > 0 || !this.tryGrant()) {
      await new Promise<void>((resolve) => {
        this.queue.push(resolve);
        this.schedule();
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.pushReleased(this.now());
      if (this.queue.length > 0) this.schedule();
    };
  }

  /** Waits for a slot that counts from now: for operations that are over as soon as they start. */
  async acquire(): Promise<void> {
    (await this.acquireSlot())();
  }

  /** Slots taken now: in flight, plus released within the last window. */
  get used(): number {
    this.expire(this.now());
    return this.inFlight + (this.released.length - this.head);
  }

  private tryGrant(): boolean {
    if (this.used < this.operations) {
      this.inFlight++;
      return true;
    }
    return false;
  }

  private pushReleased(at: number): void {
    // The clock is monotonic; still, the log must stay sorted whatever clock was passed in.
    const last = this.released.length > this.head ? this.released[this.released.length - 1]! : at;
    this.released.push(Math.max(last, at));
  }

  private expire(now: number): void {
    while (this.head < this.released.length && this.released[this.head]! <= now - this.windowMs) this.head++;
    if (this.head > 4096 && this.head * 2 > this.released.length) {
      this.released = this.released.slice(this.head);
      this.head = 0;
    }
  }

  /** Wakes waiters when the oldest released slot leaves the window; with none released yet, a release will call again. */
  private schedule(): void {
    if (this.timer) return;
    this.expire(this.now());
    const oldest = this.released[this.head];
    if (oldest === undefined) {
      // Every slot is in flight: the next release schedules the wake-up. Grant now if something freed meanwhile.
      if (this.inFlight < this.operations) this.wake();
      return;
    }
    const wait = Math.max(1, oldest + this.windowMs - this.now());
    // Referenced (never unref'd): when pacing holds every call, this timer is the only thing the job waits
    // on, and an unreferenced one let Node end the process mid-job with exit code 0. It exists only while
    // callers wait, so it keeps nothing alive after them.
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, wait);
  }

  private wake(): void {
    while (this.queue.length > 0 && this.tryGrant()) this.queue.shift()!();
    if (this.queue.length > 0) this.schedule();
  }
}
