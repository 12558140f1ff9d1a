import * as df from "durable-functions";
import { loadConfig } from "../config";
import { servicesFromConfig } from "../composition";
import { logLine } from "../monitoring/log-events";
import { fail } from "./http/respond";
import { HTTP_FUNCTIONS, createHttpHandlers, type HttpHandlers } from "./http/handlers";

/**
 * Binds the HTTP API (src/functions/http/handlers.ts) to its routes. Settings are read on the first
 * request rather than at import, so a misconfigured app still starts and answers with one clear error
 * (every problem is in the log) instead of failing to load its functions.
 */
let handlers: HttpHandlers | undefined;

function loadHandlers(): HttpHandlers {
  if (!handlers) {
    const config = loadConfig();
    handlers = createHttpHandlers({ config, store: servicesFromConfig(config).store });
  }
  return handlers;
}

for (const spec of HTTP_FUNCTIONS) {
  df.app.client.http(spec.name, {
    route: spec.route,
    methods: [...spec.methods],
    authLevel: spec.authLevel,
    handler: async (request, client, context) => {
      let loaded: HttpHandlers;
      try {
        loaded = loadHandlers();
      } catch (error) {
        context.error(logLine({ event: "config.error", error: error instanceof Error ? error.message : String(error) }));
        return fail(500, undefined, "the app is not configured correctly: see its logs");
      }
      return loaded[spec.handler](request, client, context);
    },
  });
}
