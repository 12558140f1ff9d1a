import cliProgress from "cli-progress";
import type { JobProgress } from "../contracts";

/** A progress bar on a terminal; a plain line every few seconds otherwise (CI logs, pipes). */
export interface ProgressReporter {
  update(progress: JobProgress | undefined): void;
  stop(): void;
}

export function createProgressReporter(label: string, stream: { write(text: string): unknown; isTTY?: boolean } = process.stderr, quiet = false): ProgressReporter {
  if (quiet) return { update() {}, stop() {} };
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        stream: stream as NodeJS.WriteStream,
        format: `${label} [{bar}] {percentage}% | {value}/{total} objects | {failed} failed | {phase}`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        if (!p) return;
        const c = counts(p);
        if (!started) {
          bar.start(Math.max(c.total, 1), 0, { failed: 0, phase: p.phase });
          started = true;
        }
        bar.setTotal(Math.max(c.total, 1));
        bar.update(c.total - c.pending, { failed: c.failed, phase: p.phase });
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = "";
  let lastAt = 0;
  return {
    update(p) {
      if (!p) return;
      const c = counts(p);
      const line = `${label}: ${p.phase} ${c.total - c.pending}/${c.total} objects, ${c.failed} failed`;
      const now = Date.now();
      if (line !== last && (now - lastAt > 2_000 || p.phase === "done")) {
        stream.write(`${line}\n`);
        last = line;
        lastAt = now;
      }
    },
    stop() {},
  };
}

/** Every object of the job (a status written before objects were counted has keys only). */
function counts(p: JobProgress): { total: number; pending: number; failed: number } {
  const recorded = p as Partial<JobProgress>;
  if (recorded.objectsTotal === undefined) return { total: p.keysTotal, pending: p.keysPending, failed: p.keysFailed };
  return { total: p.objectsTotal, pending: p.objectsPending, failed: p.objectsFailed };
}
