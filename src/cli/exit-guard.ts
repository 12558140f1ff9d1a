import { writeSync } from "node:fs";

/**
 * A process that runs a job may only end on its own once the job has ended. Node ends a process with
 * exit code 0 as soon as nothing holds its event loop, even with promises still waiting: an unreferenced
 * timer, a socket, a promise that nothing will settle. kvbackup once did exactly that (its pacing timer
 * was unreferenced), so a nightly `kvbackup backup … && echo ok` printed ok for a backup that had stopped.
 *
 * The guard is the last word, whatever the cause: while a command or its job is unfinished, a process
 * about to end (an empty event loop, an exit() from anywhere, SIGINT or SIGTERM) ends with exit code 1 (a
 * signal: 128 + its number) and one line on stderr naming the job and the command that resumes it.
 */
export interface UnfinishedJob {
  readonly jobId: string;
  /** The command that resumes it: the same arguments with --job-id and --state-dir. */
  readonly resumeCommand: string;
  /** The job's state as the host sees it (e.g. "Running"), for the line. */
  readonly state?: () => string | undefined;
  /** The command was asked for --json: stdout then gets a document saying the job did not finish, too. */
  readonly json?: boolean;
}

/** What main() and the HSM commands tell the guard. */
export interface JobGuard {
  /** A job has started (or is about to): until the returned function is called, the process must not end. */
  jobStarted(job: UnfinishedJob): () => void;
}

/** The parts of `process` the guard uses (a test passes its own). */
export interface GuardedProcess {
  on(event: "beforeExit" | "exit" | "SIGINT" | "SIGTERM", listener: (...args: unknown[]) => void): unknown;
  off(event: "beforeExit" | "exit" | "SIGINT" | "SIGTERM", listener: (...args: unknown[]) => void): unknown;
  exit(code: number): never | void;
  exitCode?: number | string | null | undefined;
}

const SIGNAL_EXIT: Record<"SIGINT" | "SIGTERM", number> = { SIGINT: 130, SIGTERM: 143 };

/** The one line said about a job that did not finish. */
export function unfinishedJobLine(prefix: string, jobId: string, why: string, resumeCommand: string): string {
  return `${prefix}: job ${jobId} did not finish (${why}); resume it with: ${resumeCommand}`;
}

export class ExitGuard implements JobGuard {
  private commandRunning = false;
  private job: UnfinishedJob | undefined;
  private reported = false;

  constructor(
    private readonly proc: GuardedProcess = process,
    /** Synchronous: the `exit` event allows nothing else. */
    private readonly writeLine: (line: string) => void = (line) => {
      try {
        writeSync(2, `${line}\n`);
      } catch {
        // stderr is gone: the exit code still says it.
      }
    },
    private readonly prefix = "kvbackup",
    /** Synchronous as well: the JSON document of a --json command. */
    private readonly writeStdout: (text: string) => void = (text) => {
      try {
        writeSync(1, text);
      } catch {
        // stdout is gone: the exit code still says it.
      }
    },
  ) {}

  /** Call when the command starts; until commandFinished, the process must not end on its own. */
  commandStarted(): void {
    if (this.commandRunning) return;
    this.commandRunning = true;
    this.reported = false;
    this.proc.on("beforeExit", this.onBeforeExit);
    this.proc.on("exit", this.onExit);
  }

  /** The command has its answer (and has set the exit code): the process may end. */
  commandFinished(): void {
    if (!this.commandRunning) return;
    this.commandRunning = false;
    this.releaseJob();
    this.proc.off("beforeExit", this.onBeforeExit);
    this.proc.off("exit", this.onExit);
  }

  jobStarted(job: UnfinishedJob): () => void {
    this.commandStarted();
    this.releaseJob();
    this.job = job;
    this.proc.on("SIGINT", this.onSigint);
    this.proc.on("SIGTERM", this.onSigterm);
    return () => {
      if (this.job === job) this.releaseJob();
    };
  }

  private releaseJob(): void {
    if (!this.job) return;
    this.job = undefined;
    this.proc.off("SIGINT", this.onSigint);
    this.proc.off("SIGTERM", this.onSigterm);
  }

  private report(why: string): void {
    if (this.reported) return;
    this.reported = true;
    const job = this.job;
    if (job) {
      const state = job.state?.();
      const line = unfinishedJobLine(this.prefix, job.jobId, `${why}, the job still ${state ?? "unfinished"}`, job.resumeCommand);
      if (job.json) this.writeStdout(JSON.stringify({ jobId: job.jobId, status: "Unfinished", runtimeStatus: state ?? null, error: line, resumeCommand: job.resumeCommand }) + "\n");
      this.writeLine(line);
    } else {
      this.writeLine(`${this.prefix}: the command did not finish (${why}); nothing reports it done`);
    }
  }

  private readonly onBeforeExit = (): void => {
    if (!this.commandRunning) return;
    this.report("the process had nothing left to wait on");
    this.proc.exit(1);
  };

  private readonly onExit = (): void => {
    if (!this.commandRunning) return;
    this.report("the process was told to exit");
    this.proc.exitCode = 1;
  };

  private readonly onSigint = (): void => this.onSignal("SIGINT");
  private readonly onSigterm = (): void => this.onSignal("SIGTERM");

  private onSignal(signal: "SIGINT" | "SIGTERM"): void {
    if (!this.job) return;
    this.report(`interrupted by ${signal}`);
    // Stops every listener's further say, including onExit's: the code is the signal's.
    this.commandRunning = false;
    this.proc.exit(SIGNAL_EXIT[signal]);
  }
}
