import type { InvocationContext } from "@azure/functions";
import type { ActivityInput, ActivityName, ActivityOutput } from "../../src/contracts";
import type { ActivityFunction } from "../../src/local/durable-host";

/**
 * Stand-ins for kvbackup's activities on the in-process host, each typed by its activity's contract
 * (src/contracts.ts): a stub that takes another input or returns less than its activity's output does not
 * compile, so the orchestrators are tested against the shapes the real activities produce.
 */
export type StubActivities = {
  readonly [N in ActivityName]?: (input: ActivityInput<N>, context: InvocationContext) => Promise<ActivityOutput<N>>;
};

/** The stubs as the host takes them (by name, input as delivered). */
export function stubActivities(stubs: StubActivities): Record<string, ActivityFunction> {
  return stubs as Record<string, ActivityFunction>;
}
