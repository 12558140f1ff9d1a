import * as df from "durable-functions";
import type { InvocationContext } from "@azure/functions";
import { ConfigurationError, loadConfig } from "../config";
import { invocationLogger, servicesFromConfig } from "../composition";
import { ActivityNames, type ActivityName } from "../contracts";
import { createActivityHandlers, hostedActivity, orchestrators, type ActivityHandlers, type HostedActivity } from "../registry";
import { tagActivityFailure } from "../../activities/failures";
import type { ActivityLogger } from "../../activities/logging";

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
 * gets its own invocation's (see activityLogger).
 */
function activityHandlers(): ActivityHandlers {
  if (!handlers) handlers = createActivityHandlers(servicesFromConfig(loadConfig()));
  return handlers;
}

/** One JSON line per record, in the log of the invocation that wrote it (Application Insights indexes its fields). */
export function activityLogger(context: InvocationContext): ActivityLogger {
  return invocationLogger(context);
}

/** The handler registered for an activity: the shared activity, told about this invocation. */
export async function runActivity(name: ActivityName, input: unknown, context: InvocationContext): Promise<unknown> {
  let handler: HostedActivity | undefined;
  try {
    handler = hostedActivity(activityHandlers(), name);
    if (!handler) throw new ConfigurationError([`activity ${name} is not available in this deployment`]);
  } catch (error) {
    // A bad setting is final: no attempt of the activity will read other settings.
    throw tagActivityFailure(error);
  }
  return handler(input, { logger: activityLogger(context) });
}

for (const name of Object.values(ActivityNames)) {
  df.app.activity(name, { handler: (input: unknown, context: InvocationContext) => runActivity(name, input, context) });
}
