/**
 * Names between two states in a target vault. Key Vault answers a delete, a recover and a purge before it
 * has finished them; meanwhile a restore of the name answers 409 although nobody holds it for good:
 * - a delete under way: "… is currently being deleted." (reported), and the deleted key is not readable yet;
 * - a recover under way: "… is currently being recovered and cannot be re-created; retry later." (reported,
 *   inner code ObjectIsBeingRecovered);
 * - a purge under way: a plain 409 while get and get-deleted both answer 404 (reported for keys and secrets,
 *   for seconds; the SDK's samples retry a restore after a purge for this reason).
 * Such a name is waited for, with bounded backoff, and never reported as a conflict. Once it has settled the
 * caller's conflict policy decides as for any other name (a finished delete leaves a soft-deleted key, a
 * finished recover a live one).
 */
import { DEFAULT_SETTLING_POLICY, type SettlingPolicy } from "../retry-policies";
import type { ObjectConflictError } from "./errors";

export type SettlingState = "deleting" | "recovering" | "purging";

/** Who the vault shows holding a name: a live key, a soft-deleted key, or neither. */
export type NameHolder = "active" | "deleted" | "none";


/**
 * Whether a 409 answered to a write of a name means "not yet" rather than "taken". `holder` is what the vault
 * shows for the name right after the 409 (undefined when it was not looked up: the answer already said).
 */
export function settlingState(conflict: ObjectConflictError, holder: NameHolder | undefined): SettlingState | undefined {
  const inProgress = conflict.inProgress;
  if (inProgress === "delete") return "deleting";
  if (inProgress === "recover") return "recovering";
  // Nobody holds the name, yet it is taken: a purge that has not finished.
  return holder === "none" ? "purging" : undefined;
}

/** What waiting for one name took. */
export interface SettleWaits {
  /** The last state the name was waited for in. */
  readonly state: SettlingState;
  readonly waits: number;
  readonly waitedMs: number;
}

/** The waits for one name: exponential backoff with jitter, bounded in total. */
export class NameSettling {
  private waits = 0;
  private waitedMs = 0;
  private state: SettlingState | undefined;

  constructor(
    private readonly sleep: (ms: number) => Promise<void>,
    private readonly policy: SettlingPolicy = DEFAULT_SETTLING_POLICY,
    private readonly random: () => number = Math.random,
  ) {}

  /** Waits before the next attempt; false (without waiting) once the budget is spent. */
  async wait(state: SettlingState): Promise<boolean> {
    this.state = state;
    const left = this.policy.maxWaitMs - this.waitedMs;
    if (left <= 0) return false;
    const backoff = Math.min(this.policy.maxDelayMs, this.policy.firstDelayMs * 2 ** this.waits);
    const delay = Math.max(1, Math.min(left, Math.round(backoff * (0.8 + 0.4 * this.random()))));
    this.waits++;
    this.waitedMs += delay;
    await this.sleep(delay);
    return true;
  }

  /** Undefined when the name never had to be waited for. */
  get summary(): SettleWaits | undefined {
    return this.state && this.waits > 0 ? { state: this.state, waits: this.waits, waitedMs: this.waitedMs } : undefined;
  }

  /** The reason to report when the name did not settle in time: a failure to retry later, not a conflict. */
  gaveUp(lastAnswer: string): string {
    const what = this.state === "deleting" ? "deleted" : this.state === "recovering" ? "recovered" : "purged";
    return `the name was still being ${what} in the target vault after ${(this.waitedMs / 1000).toFixed(1)} s (last answer ${lastAnswer}); retry the restore later`;
  }
}
