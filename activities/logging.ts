/**
 * One structured record per notable event (job start/end, failed key). Each becomes a single log
 * line, so Application Insights indexes its fields. Never put a secret in one.
 */
export interface ActivityLogRecord {
  readonly event: string;
  readonly jobId: string;
  readonly [field: string]: unknown;
}

export type ActivityLogger = (record: ActivityLogRecord) => void;

export function jsonLineLogger(write: (line: string) => void): ActivityLogger {
  return (record) => write(JSON.stringify({ source: "kvbackup", ...record }));
}

/**
 * What the host hands one activity invocation besides its input. The logger writes to that invocation's
 * log (in Azure, its own InvocationContext), so each line is attributed to the call that wrote it.
 */
export interface ActivityInvocation {
  /** (Not `log`: the local host hands activities an InvocationContext, whose log method is something else.) */
  readonly logger?: ActivityLogger;
}
