import type * as df from "durable-functions";
import type { BackupSummary, HsmJobSummary, RestoreSummary } from "../contracts";
import type { JobType } from "../jobs/views";
import { redactUrl } from "../util/redact-url";
import { logLine, type LogRecord } from "./log-events";

type JobEnded = Extract<LogRecord, { event: "job.ended" }>;
type Orchestrator = (context: df.OrchestrationContext) => Generator<df.Task, unknown, unknown>;

/**
 * The orchestrator with one `job.ended` log line when it completes or fails: how a job ended is known
 * only inside its orchestration, and the failure alert and the workbook need it.
 *
 * Deterministic like the orchestrator it wraps: its times come from the orchestration clock and it
 * decides nothing. The line is written only when the ending is not a replay (the Durable pattern for
 * logging from orchestrators), so it appears once per job; a host crash between that episode and its
 * checkpoint can repeat it, never drop it.
 */
export function withJobEndLog(type: JobType, orchestrator: Orchestrator): Orchestrator {
  return function* (context: df.OrchestrationContext) {
    // Before the first yield this is the time the orchestration started, in every replay.
    const startedAt = context.df.currentUtcDateTime;
    const input = (context.df.getInput() ?? {}) as { vaultUrl?: string; targetVaultUrl?: string; hsmUrl?: string; backupSetId?: string };
    let output: unknown;
    try {
      output = yield* orchestrator(context);
    } catch (error) {
      if (!context.df.isReplaying) {
        const message = error instanceof Error ? error.message : String(error);
        context.log(logLine(ended(context, type, startedAt, input.vaultUrl ?? input.targetVaultUrl ?? input.hsmUrl ?? null, "failed", { error: sanitize(message) })));
      }
      throw error;
    }
    if (!context.df.isReplaying) context.log(logLine(describeOutput(context, type, startedAt, input, output)));
    return output;
  };
}

function describeOutput(
  context: df.OrchestrationContext,
  type: JobType,
  startedAt: Date,
  input: { vaultUrl?: string; targetVaultUrl?: string; hsmUrl?: string },
  output: unknown,
): JobEnded {
  if (type === "vault-backup") {
    const s = output as BackupSummary;
    return ended(context, type, startedAt, s.vaultUrl, s.state === "complete" ? "complete" : "partial", {
      ...keyCounts(s.keys), ...objectCounts(s.objects), versions: s.versions, bytes: s.bytes, backupSetId: s.backupSetId,
    });
  }
  if (type === "vault-restore") {
    const s = output as RestoreSummary;
    return ended(context, type, startedAt, s.targetVaultUrl, s.objects.failed > 0 ? "partial" : "complete", {
      ...keyCounts(s.keys), ...objectCounts(s.objects), backupSetId: s.backupSetId, dryRun: s.dryRun,
    });
  }
  const s = output as HsmJobSummary;
  return ended(context, type, startedAt, s.hsmUrl ?? input.hsmUrl ?? null, s.status === "Succeeded" ? "complete" : "failed", {
    hsmJobId: s.jobId, hsmStatus: s.status, ...(s.folderUrl ? { folderUrl: redactUrl(s.folderUrl) } : {}),
  });
}

function ended(
  context: df.OrchestrationContext,
  type: JobType,
  startedAt: Date,
  target: string | null,
  state: JobEnded["state"],
  details: Omit<Partial<JobEnded>, "event">,
): JobEnded {
  const endedAt = context.df.currentUtcDateTime;
  return {
    event: "job.ended",
    jobId: context.df.instanceId,
    type,
    target,
    state,
    startedAt: startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    durationMs: endedAt.getTime() - startedAt.getTime(),
    ...details,
  };
}

function objectCounts(objects: { total: number; succeeded: number; failed: number; skipped: number }) {
  return { objectsTotal: objects.total, objectsSucceeded: objects.succeeded, objectsFailed: objects.failed, objectsSkipped: objects.skipped };
}

function keyCounts(keys: { total: number; succeeded: number; failed: number; skipped: number }) {
  return { keysTotal: keys.total, keysSucceeded: keys.succeeded, keysFailed: keys.failed, keysSkipped: keys.skipped };
}

/** The first line, bounded, with any URL's query (a SAS) removed. */
function sanitize(message: string): string {
  return message.split("\n")[0]!.slice(0, 500).replace(/https?:\/\/[^\s"'<>]+/g, (url) => redactUrl(url));
}
