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
        format: `${label} [{bar}] {percentage}% | {value}/{total} keys | {failed} failed | {phase}`,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(p) {
        if (!p) return;
        if (!started) {
          bar.start(Math.max(p.keysTotal, 1), 0, { failed: 0, phase: p.phase });
          started = true;
        }
        bar.setTotal(Math.max(p.keysTotal, 1));
        bar.update(p.keysTotal - p.keysPending, { failed: p.keysFailed, phase: p.phase });
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
      const line = `${label}: ${p.phase} ${p.keysTotal - p.keysPending}/${p.keysTotal} keys, ${p.keysFailed} failed`;
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
