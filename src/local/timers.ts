/** setTimeout's ceiling; longer timers re-arm. */
const MAX_TIMEOUT_MS = 2_147_483_647;

interface Timer {
  fireAtMs: number;
  fire: () => void;
  handle?: NodeJS.Timeout;
}

/**
 * The host's time: orchestration timers and the "now" written into history.
 *
 * "real": timers fire when their time has come. "virtual": time stands still while anything else is
 * pending; once nothing is (isBusy() false), it jumps to the earliest timer and fires every timer due.
 * Ten one-hour timers then take milliseconds, and orchestrator time still advances by ten hours.
 */
export class TimerClock {
  private readonly timers = new Map<string, Timer>();
  private virtualNowMs = Date.now();
  private idleCheckQueued = false;
  private closed = false;

  constructor(
    readonly mode: "real" | "virtual",
    private readonly isBusy: () => boolean,
  ) {}

  now(): Date {
    return this.mode === "virtual" ? new Date(this.virtualNowMs) : new Date();
  }

  /** Calls fire() once at fireAtMs (real) or when the virtual clock reaches it, unless cancelled first. */
  arm(key: string, fireAtMs: number, fire: () => void): void {
    if (this.closed) return;
    const timer: Timer = { fireAtMs, fire };
    this.timers.set(key, timer);
    if (this.mode === "real") this.startRealTimer(key, timer);
    else this.checkIdleSoon();
  }

  cancel(key: string): void {
    const timer = this.timers.get(key);
    if (timer?.handle) clearTimeout(timer.handle);
    this.timers.delete(key);
  }

  /**
   * Virtual clock: call whenever the host may have become idle (an activity or episode ended). The check
   * runs on the next turn of the event loop, so that work queued meanwhile counts as busy.
   */
  checkIdleSoon(): void {
    if (this.mode !== "virtual" || this.idleCheckQueued || this.closed) return;
    this.idleCheckQueued = true;
    setImmediate(() => {
      this.idleCheckQueued = false;
      this.advanceIfIdle();
    });
  }

  /** Drops every timer; none fires after this. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) if (timer.handle) clearTimeout(timer.handle);
    this.timers.clear();
  }

  private startRealTimer(key: string, timer: Timer): void {
    const wait = Math.max(0, timer.fireAtMs - Date.now());
    timer.handle = setTimeout(() => {
      if (Date.now() < timer.fireAtMs) this.startRealTimer(key, timer);
      else this.fire(key);
    }, Math.min(wait, MAX_TIMEOUT_MS));
  }

  private fire(key: string): void {
    const timer = this.timers.get(key);
    if (!timer) return;
    this.timers.delete(key);
    timer.fire();
  }

  private advanceIfIdle(): void {
    if (this.closed || this.isBusy()) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const timer of this.timers.values()) earliest = Math.min(earliest, timer.fireAtMs);
    if (!Number.isFinite(earliest)) return;
    this.virtualNowMs = Math.max(this.virtualNowMs, earliest);
    for (const [key, timer] of [...this.timers]) if (timer.fireAtMs <= this.virtualNowMs) this.fire(key);
  }
}
