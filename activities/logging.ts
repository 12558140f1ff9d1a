import type { LogRecord, RecordLogger } from "../src/monitoring/log-events";

/**
 * One structured record per notable event (inventory taken, key failed, HSM job started). Each becomes a
 * single log line, so Application Insights keeps its fields; the shapes are in src/monitoring/log-events.ts.
 * Never put a secret in one.
 */
export type ActivityLogRecord = LogRecord;

export type ActivityLogger = RecordLogger;

/**
 * What the host hands one activity invocation besides its input. The logger writes to that invocation's
 * log (in Azure, its own InvocationContext), so each line is attributed to the call that wrote it.
 */
export interface ActivityInvocation {
  /** (Not `log`: the local host hands activities an InvocationContext, whose log method is something else.) */
  readonly logger?: ActivityLogger;
}
