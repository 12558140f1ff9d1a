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
