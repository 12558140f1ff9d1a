import * as df from "durable-functions";
import {
  ActivityNames,
  JOB_FAILURE_PREFIXES,
  JobFailureCodes,
  type ActivityRetryPolicy,
  type GetHsmJobStatusInput,
  type HsmBackupInput,
  type HsmJobStatus,
  type HsmJobSummary,
  type HsmPollingPolicy,
  type HsmProgress,
  type HsmRestoreInput,
  type StartHsmBackupInput,
  type StartHsmRestoreInput,
} from "../src/contracts";
import { DEFAULT_HSM_ACTIVITY_RETRY } from "../src/retry-policies";
import { JobFailedError } from "./job-failed";
import { callActivity } from "./retry";

/**
 * Managed HSM full backup, full restore and selective key restore: the service runs the job; the
 * orchestrator starts it in an activity and then polls its status between durable timers (the monitor
 * pattern), so nothing sleeps inside an activity and a host restart loses nothing.
 */

/** A floor on the wait, so a zero interval with no Retry-After cannot turn polling into a busy loop. */
const MIN_POLL_INTERVAL_MS = 100;

export function* hsmBackupOrchestrator(context: df.OrchestrationContext): Generator<df.Task, HsmJobSummary, unknown> {
  const input = context.df.getInput<HsmBackupInput>();
  const retry = input.retry ?? DEFAULT_HSM_ACTIVITY_RETRY;
  const startedAtMs = context.df.currentUtcDateTime.getTime();
  context.df.setCustomStatus(progress("backup", "starting", 0));

  const start: StartHsmBackupInput = { hsmUrl: input.hsmUrl, containerUrl: input.containerUrl, jobId: context.df.instanceId };
  const started = yield* callActivity(context, ActivityNames.startHsmBackup, start, retry);
  const { status, polls } = yield* pollUntilDone(context, input.hsmUrl, started, input.polling, retry, startedAtMs);
  return summary(input.hsmUrl, status, polls, { folderUrl: status.folderUrl ?? started.folderUrl });
}

export function* hsmRestoreOrchestrator(context: df.OrchestrationContext): Generator<df.Task, HsmJobSummary, unknown> {
  const input = context.df.getInput<HsmRestoreInput>();
  const retry = input.retry ?? DEFAULT_HSM_ACTIVITY_RETRY;
  const startedAtMs = context.df.currentUtcDateTime.getTime();
  const operation: HsmJobStatus["operation"] = input.keyName === undefined ? "restore" : "selectiveRestore";
  context.df.setCustomStatus(progress(operation, "starting", 0));

  const start: StartHsmRestoreInput = {
    hsmUrl: input.hsmUrl,
    folderUrl: input.folderUrl,
    ...(input.keyName !== undefined ? { keyName: input.keyName } : {}),
    jobId: context.df.instanceId,
  };
  const started = yield* callActivity(context, ActivityNames.startHsmRestore, start, retry);
  const { status, polls } = yield* pollUntilDone(context, input.hsmUrl, started, input.polling, retry, startedAtMs);
  return summary(input.hsmUrl, status, polls, { folderUrl: input.folderUrl, keyName: input.keyName });
}

/**
 * Waits on a durable timer, reads the job's status, and repeats until the job ends. The wait starts at
 * initialIntervalMs and grows by backoffCoefficient up to maxIntervalMs, but is never shorter than the
 * service's Retry-After. The last wait is cut at the deadline so the final look happens right then.
 */
function* pollUntilDone(
  context: df.OrchestrationContext,
  hsmUrl: string,
  started: HsmJobStatus,
  policy: HsmPollingPolicy,
  retry: ActivityRetryPolicy,
  startedAtMs: number,
): Generator<df.Task, { status: HsmJobStatus; polls: number }, unknown> {
  const deadlineMs = startedAtMs + policy.timeoutMs;
  let status = started;
  let polls = 0;
  let intervalMs = Math.max(MIN_POLL_INTERVAL_MS, policy.initialIntervalMs);
  while (status.status === "InProgress") {
    const nowMs = context.df.currentUtcDateTime.getTime();
    if (nowMs >= deadlineMs) {
      context.df.setCustomStatus(progress(status.operation, "done", polls, status));
      throw new JobFailedError(
        JobFailureCodes.hsmJobTimedOut,
        `${JOB_FAILURE_PREFIXES.HsmJobTimedOut}: ${status.operation} job ${status.jobId} on ${hsmUrl} was still InProgress after ` +
          `${Math.round(policy.timeoutMs / 1000)} s (${polls} status checks); it may still finish on the HSM`,
      );
    }
    const serverWaitMs = (status.retryAfterSeconds ?? 0) * 1000;
    const fireAtMs = Math.min(nowMs + Math.max(intervalMs, serverWaitMs), deadlineMs);
    context.df.setCustomStatus(progress(status.operation, "polling", polls, status, new Date(fireAtMs).toISOString()));
    yield context.df.createTimer(new Date(fireAtMs));

    const query: GetHsmJobStatusInput = { hsmUrl, operation: status.operation, jobId: status.jobId };
    status = yield* callActivity(context, ActivityNames.getHsmJobStatus, query, retry);
    polls++;
    context.df.setCustomStatus(progress(status.operation, status.status === "InProgress" ? "polling" : "done", polls, status));
    intervalMs = Math.min(intervalMs * Math.max(1, policy.backoffCoefficient), Math.max(policy.maxIntervalMs, MIN_POLL_INTERVAL_MS));
  }
  context.df.setCustomStatus(progress(status.operation, "done", polls, status));
  if (status.status !== "Succeeded") {
    const code = status.error?.code ?? status.status;
    const message = status.error?.message ?? status.statusDetails ?? "no details from the service";
    // The orchestration ends Failed with the service's own code and message.
    throw new JobFailedError(JobFailureCodes.hsmJobFailed, `${JOB_FAILURE_PREFIXES.HsmJobFailed}: ${status.operation} job ${status.jobId} ended ${status.status}: ${code}: ${message}`);
  }
  return { status, polls };
}

function progress(
  operation: HsmJobStatus["operation"],
  phase: HsmProgress["phase"],
  polls: number,
  status?: HsmJobStatus,
  nextPollAt?: string,
): HsmProgress {
  return {
    phase,
    operation,
    polls,
    ...(status ? { hsmJobId: status.jobId, status: status.status } : {}),
    ...(status?.statusDetails !== undefined ? { statusDetails: status.statusDetails } : {}),
    ...(nextPollAt !== undefined ? { nextPollAt } : {}),
  };
}

function summary(
  hsmUrl: string,
  status: HsmJobStatus,
  polls: number,
  extra: { folderUrl?: string; keyName?: string },
): HsmJobSummary {
  return {
    hsmUrl,
    operation: status.operation,
    jobId: status.jobId,
    status: status.status,
    ...(extra.folderUrl !== undefined ? { folderUrl: extra.folderUrl } : {}),
    ...(extra.keyName !== undefined ? { keyName: extra.keyName } : {}),
    ...(status.startTime !== undefined ? { startTime: status.startTime } : {}),
    ...(status.endTime !== undefined ? { endTime: status.endTime } : {}),
    polls,
  };
}
