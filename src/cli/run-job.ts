import type { OrchestrationStatus } from "../local/durable-host";
import type { JobHandle, LocalRuntime } from "../local/runtime";
import { ExitCode, errorResponse } from "../error-responses";
import { unfinishedJobLine, type JobGuard } from "./exit-guard";
import { resumeCommand } from "./resume-command";
import type { Io } from "./main";

/**
 * How every job command (backup, restore, hsm-backup, hsm-restore) runs its job on a local runtime to the
 * end: progress while it runs, then its summary, or its failure (exit 1). The runtime is closed whatever
 * happens. Exit 0 only with the output of a job that completed: a job that did not reach its end (the host
 * gave up waiting, or the process is ending) is exit 1 with the command that resumes it.
 */
export interface JobCommand<T> {
  readonly io: Io;
  /** The command line, for the command that resumes the job. */
  readonly argv: readonly string[];
  readonly guard?: JobGuard;
  setExit(code: number): void;
  readonly json: boolean;
  readonly stateDir: string;
  readonly runtime: LocalRuntime;
  readonly jobId: string;
  readonly start: (runtime: LocalRuntime) => Promise<JobHandle<T>>;
  /** Shows the job's progress while it runs; returns what stops it (called before the summary). */
  readonly watch: (runtime: LocalRuntime, jobId: string) => () => void;
  /** Prints the output of a job that completed; returns the exit code. */
  readonly completed: (output: T) => number;
  /** Fields the --json document of a failed job adds (after `status`). */
  readonly failedDetails?: (status: OrchestrationStatus) => Record<string, unknown>;
}

export async function runJob<T>(job: JobCommand<T>): Promise<void> {
  const { io, runtime, jobId, json } = job;
  const resume = resumeCommand(job.argv, jobId, job.stateDir);
  const release = job.guard?.jobStarted({ jobId, resumeCommand: resume, state: () => runtime.status(jobId)?.runtimeStatus, json });
  try {
    let outcome: Awaited<JobHandle<T>["result"]>;
    try {
      const handle = await job.start(runtime);
      const stop = job.watch(runtime, jobId);
      try {
        outcome = await handle.result;
      } finally {
        stop();
      }
    } catch (error) {
      const state = runtime.status(jobId)?.runtimeStatus;
      // Refused before it ran (bad input, a job id given again with other arguments): not a job to resume.
      if (state === undefined || isTerminal(state) || errorResponse(error).exitCode === ExitCode.badInput) throw error;
      job.setExit(ExitCode.failed);
      const why = `${(error instanceof Error ? error.message : String(error)).split("\n")[0]}; the job is still ${state}`;
      if (json) io.stdout.write(JSON.stringify({ jobId, status: "Unfinished", error: why, resumeCommand: resume }) + "\n");
      io.stderr.write(`${unfinishedJobLine("kvbackup", jobId, why, resume)}\n`);
      return;
    }
    const { status, output } = outcome;
    if (!output) {
      job.setExit(ExitCode.failed);
      // The failure's own message: an orchestrator's (JobFailureCodes) or that of the activity that ended the job.
      const reason = (status.failureDetails?.errorMessage ?? `job ended ${status.runtimeStatus}`).split("\n")[0]!;
      if (json) io.stdout.write(JSON.stringify({ jobId, status: "Failed", ...job.failedDetails?.(status), error: reason }) + "\n");
      io.stderr.write(`kvbackup: job ${jobId} failed: ${reason}\n`);
      return;
    }
    job.setExit(job.completed(output));
  } finally {
    release?.();
    await runtime.close();
  }
}

function isTerminal(state: string): boolean {
  return state === "Completed" || state === "Failed" || state === "Terminated";
}
