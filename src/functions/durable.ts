import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { loadConfig } from "../config";
import { invocationLogger, servicesFromConfig } from "../composition";
import { ActivityNames, type ActivityName } from "../contracts";
import { createActivityHandlers, orchestrators, runHostedActivity, type ActivityHandlers } from "../registry";

/**
 * Registers kvbackup's orchestrators and activities with the Functions host. Thin on purpose: the
 * logic lives in orchestrators/ and activities/, which tests and the CLI run without the host.
 */
for (const [name, orchestrator] of Object.entries(orchestrators)) {
  df.app.orchestration(name, orchestrator);
}

let handlers: ActivityHandlers | undefined;

/**
 * Built on first use, so that a bad setting fails the activity with every problem named, not the import.
 * Shared by every invocation (clients, pacing and caches are per process); the logger is not: each call
 * gets its own invocation's.
 */
function activityHandlers(): ActivityHandlers {
  if (!handlers) handlers = createActivityHandlers(servicesFromConfig(loadConfig()));
  return handlers;
}

/** The handler registered for an activity: the shared activity, told about this invocation (its log). */
export function runActivity(name: ActivityName, input: unknown, context: InvocationContext): Promise<unknown> {
  return runHostedActivity(activityHandlers, name, input, { logger: invocationLogger(context) });
}

for (const name of Object.values(ActivityNames)) {
  df.app.activity(name, { handler: (input: unknown, context: InvocationContext) => runActivity(name, input, context) });
}
