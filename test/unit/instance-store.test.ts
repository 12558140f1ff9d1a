import { readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as df from "durable-functions";
import { LocalDurableHost } from "../../src/local/durable-host";
import { STALE_TEMP_FILE_MS, removeStaleTempFiles, stateFilePath } from "../../src/local/instance-store";
import { tempDir } from "../local/helpers";

function* twoSteps(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const a = (yield context.df.callActivity("step", 1)) as number;
  const b = (yield context.df.callActivity("step", 2)) as number;
  return a + b;
}

/** A temp file as writeStoredInstance names it, written `ageMs` ago. */
function leaveTempFile(dir: string, instanceId: string, counter: number, content: string, ageMs: number): string {
  const path = `${stateFilePath(dir, instanceId)}.424242.${counter}.tmp`;
  writeFileSync(path, content);
  const at = new Date(Date.now() - ageMs);
  utimesSync(path, at, at);
  return path.slice(dir.length + 1);
}

describe("instance store temp files", () => {
  it("when a stray temp file is left by a killed process, it is ignored/cleaned", async () => {
    // Prepare: a killed writer's half-written temp file, a temp file a live writer is about to rename, and a file not ours.
    const dir = tempDir("kvbackup-store-tmp-");
    try {
      leaveTempFile(dir.path, "job-1", 1, '{"format":"kvbackup-local-du', 10 * 60_000);
      const inFlight = leaveTempFile(dir.path, "job-1", 2, "{}", 0);
      const notOurs = join(dir.path, "notes.tmp");
      writeFileSync(notOurs, "kept");
      const old = new Date(Date.now() - 10 * 60_000);
      utimesSync(notOurs, old, old);
      const host = new LocalDurableHost({ orchestrators: { twoSteps }, activities: { step: (n: number) => n * 10 }, stateDir: dir.path });

      // Act
      try {
        await host.startNew("twoSteps", { instanceId: "job-1" });
        const status = await host.waitForCompletion("job-1", { timeoutMs: 5000 });

        // Assess: the stray was not taken for state, and only it was removed.
        expect(status.runtimeStatus).toBe("Completed");
        expect(status.output).toBe(30);
      } finally {
        await host.close();
      }
      expect(readdirSync(dir.path).sort()).toEqual(["job-1.json", inFlight, "notes.tmp"].sort());
    } finally {
      dir.remove();
    }
  });

  it("when temp files are swept, only ones older than the limit go, and a missing directory is no error", () => {
    const dir = tempDir("kvbackup-store-sweep-");
    try {
      const stale = leaveTempFile(dir.path, "a", 1, "x", STALE_TEMP_FILE_MS + 5_000);
      const young = leaveTempFile(dir.path, "b", 2, "x", STALE_TEMP_FILE_MS - 5_000);

      expect(removeStaleTempFiles(dir.path)).toBe(1);
      expect(readdirSync(dir.path)).toEqual([young]);
      expect(readdirSync(dir.path)).not.toContain(stale);
      expect(removeStaleTempFiles(join(dir.path, "missing"))).toBe(0);
    } finally {
      dir.remove();
    }
  });
});
