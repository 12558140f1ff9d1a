import { z } from "zod";

/**
 * Every structured log line kvbackup writes, in one place: the HTTP API, the timer, the activities and
 * the orchestrations (job ends) log records of these shapes only, each as one JSON line
 * `{"source":"kvbackup","event":…,…}` that Application Insights keeps as a trace's message.
 *
 * The KQL of infra/monitoring (workbook and alerts) reads these fields, and the test suite checks every
 * field a query names against this list, and every line the app writes against these schemas. Add a field
 * here before logging it. Nothing secret ever goes into one (no token, SAS, key material).
 */

const jobType = z.enum(["vault-backup", "vault-restore", "hsm-backup", "hsm-restore"]);
const trigger = z.enum(["http", "schedule"]);
const count = z.number().int().nonnegative();
const objectKind = z.enum(["certificate", "key", "secret"]);

export const LOG_EVENTS = {
  /** A job was started (HTTP API or timer). */
  "job.started": z.strictObject({
    trigger,
    jobId: z.string(),
    type: jobType,
    target: z.string(),
    /** Time to check and start the orchestration. */
    durationMs: z.number(),
    /** Timer: the schedule slot (ISO) the job belongs to. */
    slot: z.string().optional(),
    /** Vault backups: whether each object's versions are listed. */
    versionDetails: z.boolean().optional(),
    /** Vault backups (and restores that name some): the kinds of objects. */
    kinds: z.array(objectKind).optional(),
    /** Counts of include/exclude globs. */
    include: count.optional(),
    exclude: count.optional(),
    backupSetId: z.string().optional(),
    dryRun: z.boolean().optional(),
    onConflict: z.enum(["skip", "fail"]).optional(),
    /** HSM restores: one key only. */
    selective: z.boolean().optional(),
  }),
  /** HTTP: a start refused because another job holds the target. */
  "job.refused": z.strictObject({ reason: z.literal("target-busy"), trigger, type: jobType, target: z.string(), runningJobId: z.string() }),
  /** Timer: a target not started in this slot. */
  "job.skipped": z.strictObject({
    trigger,
    jobId: z.string(),
    type: jobType,
    target: z.string(),
    slot: z.string(),
    reason: z.enum(["already-started-for-this-slot", "target-busy"]),
    runningJobId: z.string().optional(),
  }),
  /** Timer: a job could not be started. */
  "job.error": z.strictObject({ trigger, jobId: z.string(), type: jobType, target: z.string(), slot: z.string(), error: z.string() }),
  "job.canceled": z.strictObject({ trigger, jobId: z.string(), type: jobType.optional(), previousStatus: z.string() }),
  /**
   * An orchestration ended (written once, by the orchestration itself, when it completes or fails):
   * complete (every key, or the HSM job succeeded), partial (some keys failed), failed (the job failed as a whole).
   */
  "job.ended": z.strictObject({
    jobId: z.string(),
    type: jobType,
    /** Vault or HSM URL; null when a restore failed before its target was known. */
    target: z.string().nullable(),
    state: z.enum(["complete", "partial", "failed"]),
    startedAt: z.string(),
    endedAt: z.string(),
    durationMs: z.number(),
    keysTotal: count.optional(),
    keysSucceeded: count.optional(),
    keysFailed: count.optional(),
    keysSkipped: count.optional(),
    /** Vault jobs: every object (keys, secrets and certificates). */
    objectsTotal: count.optional(),
    objectsSucceeded: count.optional(),
    objectsFailed: count.optional(),
    objectsSkipped: count.optional(),
    versions: count.optional(),
    bytes: count.optional(),
    backupSetId: z.string().optional(),
    dryRun: z.boolean().optional(),
    /** HSM jobs: the service's job id and final status. */
    hsmJobId: z.string().optional(),
    hsmStatus: z.string().optional(),
    folderUrl: z.string().optional(),
    /** Failed jobs: the first line of the failure. */
    error: z.string().optional(),
  }),
  /**
   * Timer, once per allowed target and run: the newest complete backup (vault: backup set; HSM: full
   * backup job) and its age, so an alert can tell a target whose backups stopped.
   */
  "target.status": z.strictObject({
    target: z.string(),
    kind: z.enum(["vault", "hsm"]),
    slot: z.string(),
    /** ISO end time of the newest complete backup; null when there is none. */
    lastCompleteAt: z.string().nullable(),
    lastCompleteAgeHours: z.number().nullable(),
    lastCompleteSetId: z.string().nullable(),
    lastCompleteKeys: count.nullable(),
    /** complete / partial / incomplete (vault sets) or the Durable runtime status (HSM jobs) of the newest one. */
    newestState: z.string().nullable(),
    newestJobId: z.string().nullable(),
  }),
  "retention.decision": z.strictObject({
    vault: z.string(),
    dryRun: z.boolean(),
    backupSetId: z.string(),
    vaultFolder: z.string(),
    state: z.enum(["complete", "partial", "incomplete"]),
    startedAt: z.string(),
    ageDays: z.number().nullable(),
    action: z.enum(["keep", "delete"]),
    reason: z.string(),
  }),
  "retention.summary": z.strictObject({
    vault: z.string(),
    dryRun: z.boolean(),
    sets: count,
    toDelete: count,
    deletedSets: count,
    deletedObjects: count,
    durationMs: z.number(),
  }),
  "retention.error": z.strictObject({ vault: z.string(), error: z.string() }),
  /** Timer: the target statuses could not be read (the run itself went on). */
  "status.error": z.strictObject({ error: z.string() }),
  /** Timer: one per run, at its end (the "timer ran" signal). */
  "schedule.run": z.strictObject({ slot: z.string(), slotId: z.string(), started: count, skipped: count, failed: count, durationMs: z.number() }),
  /** Activities. */
  /** Backup: the inventory was taken. objects: to back up (keys: of them, the keys); skipped; withCertificate: a certificate's keys and secrets. */
  inventory: z.strictObject({
    jobId: z.string(),
    backupSetId: z.string(),
    vaultUrl: z.string(),
    objects: count.optional(),
    keys: count,
    skipped: count,
    withCertificate: count.optional(),
  }),
  /** An object failed (the field `key` names it, whatever its kind; `kind` says which, absent for keys of older lines). */
  keyFailed: z.strictObject({ jobId: z.string(), vaultUrl: z.string(), kind: objectKind.optional(), key: z.string(), reason: z.string() }),
  /** Restore: a name was still being deleted, recovered or purged in the target, and was waited for. */
  restoreWaitedForName: z.strictObject({
    jobId: z.string(),
    vaultUrl: z.string(),
    kind: objectKind.optional(),
    key: z.string(),
    state: z.enum(["deleting", "recovering", "purging"]),
    waits: count,
    waitedMs: z.number(),
    outcome: z.enum(["restored", "alreadyInTarget", "skipped", "failed"]),
  }),
  hsmBackupStarted: z.strictObject({ jobId: z.string(), hsmUrl: z.string(), hsmJobId: z.string(), storageAccess: z.string() }),
  hsmRestoreStarted: z.strictObject({
    jobId: z.string(),
    hsmUrl: z.string(),
    hsmJobId: z.string(),
    operation: z.string(),
    keyName: z.string().optional(),
  }),
  /** Errors outside a job: an HTTP handler's unexpected failure, settings that do not load. */
  "http.error": z.strictObject({ handler: z.string(), error: z.string() }),
  "config.error": z.strictObject({ error: z.string() }),
} as const;

export type LogEventName = keyof typeof LOG_EVENTS;

/** A record of one event, as the code passes it to a logger (without `source`). */
export type LogRecord = { [E in LogEventName]: { readonly event: E } & z.input<(typeof LOG_EVENTS)[E]> }[LogEventName];

/** The fields each event's line can carry (besides `source` and `event`). */
export function logEventFields(event: LogEventName): readonly string[] {
  return Object.keys(LOG_EVENTS[event].shape);
}

export const LOG_SOURCE = "kvbackup";

/** Where records go: activities, the timer and the HTTP API each get one. */
export type RecordLogger = (record: LogRecord) => void;

/** A logger that writes each record as its one line. */
export function lineLogger(write: (line: string) => void): RecordLogger {
  return (record) => write(logLine(record));
}

/** The one line a record becomes. */
export function logLine(record: LogRecord): string {
  return JSON.stringify({ source: LOG_SOURCE, ...record });
}

/** Checks a written line against its event's schema; the reason when it does not match, else undefined. */
export function logLineProblem(line: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return "not JSON";
  }
  const { source, event, ...fields } = (parsed ?? {}) as Record<string, unknown>;
  if (source !== LOG_SOURCE) return `source is ${JSON.stringify(source)}`;
  if (typeof event !== "string" || !(event in LOG_EVENTS)) return `unknown event ${JSON.stringify(event)}`;
  const result = LOG_EVENTS[event as LogEventName].safeParse(fields);
  return result.success ? undefined : `${event}: ${result.error.issues.map((i) => `${i.path.join(".") || "(record)"} ${i.message}`).join("; ")}`;
}
