/**
 * Behaviour knobs of a listener: the service's sliding-window throttle, and seeded randomness
 * for fault injection so tests that inject faults see the same sequence every run.
 */
import type { EmulatorKnobs, FaultKnobs, KnobsPatch } from "./types";

/** The service's software-key limit: 4,000 operations per vault per 10 s. */
export const DEFAULT_THROTTLE = 4000;
export const THROTTLE_WINDOW_MS = 10_000;

export const DEFAULT_FAULTS: FaultKnobs = { error503Rate: 0, dropRate: 0, retryAfterSeconds: 1 };

/**
 * Soft delete, recover and purge are asynchronous on Key Vault (the SDK's delete and recover are pollers;
 * a purged name is reported to answer 409 to restores for seconds). A few hundred milliseconds by default,
 * so that every client path that waits is exercised while tests stay fast.
 */
export const DEFAULT_SOFT_DELETE_MS = 300;
export const DEFAULT_PURGE_MS = 300;
/** A self-signed certificate takes the service a few seconds; here, by default, long enough to be polled. */
export const DEFAULT_CERTIFICATE_CREATE_MS = 300;

export function defaultKnobs(): EmulatorKnobs {
  return {
    latencyMs: 0,
    throttle: DEFAULT_THROTTLE,
    faults: DEFAULT_FAULTS,
    softDeleteMs: DEFAULT_SOFT_DELETE_MS,
    purgeMs: DEFAULT_PURGE_MS,
    certificateCreateMs: DEFAULT_CERTIFICATE_CREATE_MS,
  };
}

/** Merges and validates; throws a plain Error naming the bad field. */
export function applyKnobs(base: EmulatorKnobs, patch: KnobsPatch | undefined): EmulatorKnobs {
  if (!patch) return base;
  const next: EmulatorKnobs = {
    latencyMs: patch.latencyMs ?? base.latencyMs,
    throttle: patch.throttle ?? base.throttle,
    faults: { ...base.faults, ...stripUndefined(patch.faults ?? {}) },
    softDeleteMs: patch.softDeleteMs ?? base.softDeleteMs,
    purgeMs: patch.purgeMs ?? base.purgeMs,
    certificateCreateMs: patch.certificateCreateMs ?? base.certificateCreateMs,
  };
  for (const f of ["latencyMs", "softDeleteMs", "purgeMs", "certificateCreateMs"] as const) {
    if (!Number.isFinite(next[f]) || next[f] < 0) throw new Error(`${f} must be >= 0, got ${next[f]}`);
  }
  if (!(next.throttle >= 0)) throw new Error(`throttle must be >= 0 (0 = unlimited), got ${next.throttle}`);
  for (const f of ["error503Rate", "dropRate"] as const) {
    const v = next.faults[f];
    if (!(v >= 0 && v <= 1)) throw new Error(`faults.${f} must be within 0..1, got ${v}`);
  }
  if (!(next.faults.retryAfterSeconds >= 0)) throw new Error("faults.retryAfterSeconds must be >= 0");
  return next;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Admission times of the last window, oldest first, in a growable queue. A request is admitted
 * while fewer than `limit` admissions lie within the window; rejected ones are not recorded,
 * because the service does not count 429s against the budget.
 */
export class SlidingWindow {
  private times: number[] = [];
  private head = 0;

  constructor(private readonly windowMs = THROTTLE_WINDOW_MS) {}

  /** 0 when admitted, else the milliseconds until a slot frees. `limit` 0 means unlimited. */
  tryAcquire(limit: number, now: number): number {
    const cutoff = now - this.windowMs;
    while (this.head < this.times.length && this.times[this.head]! <= cutoff) this.head++;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.head = 0;
    }
    const inWindow = this.times.length - this.head;
    if (limit > 0 && inWindow >= limit) {
      // The slot that frees first is the one `limit` admissions back from the newest.
      return this.times[this.times.length - limit]! + this.windowMs - now;
    }
    if (limit > 0) this.times.push(now);
    return 0;
  }

  reset(): void {
    this.times = [];
    this.head = 0;
  }
}

/** mulberry32: tiny, fast, good enough for fault injection; Math.random when unseeded. */
export function makeRandom(seed: number | undefined): () => number {
  if (seed === undefined) return Math.random;
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
