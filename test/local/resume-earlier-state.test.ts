import { copyFileSync } from "node:fs";
import { join } from "node:path";
import * as df from "durable-functions";
import { LocalDurableHost } from "../../src/local/durable-host";
import { stateFilePath } from "../../src/local/instance-store";
import { tempDir } from "./helpers";

const HOUR = 3_600_000;

/**
 * The orchestrator that wrote fixtures/job-written-by-v1.json (with the host before its split into
 * modules): step ran; flaky failed once and waits out its 60 s retry; slow was in flight; the hour timer
 * was pending. Do not change this function: the stored history must replay to the same decisions.
 */
function* stepRetryAndWait(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const first: number = yield context.df.callActivity("step", 1);
  context.df.setCustomStatus({ phase: "waiting", first });
  const retry = new df.RetryOptions(60_000, 3);
  const results: unknown[] = yield context.df.Task.all([
    context.df.callActivityWithRetry("flaky", retry, "k"),
    context.df.callActivity("slow", first),
    context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + HOUR)),
  ]);
  context.df.setCustomStatus({ phase: "done", first });
  return { first, flaky: results[0], slow: results[1] };
}

describe("LocalDurableHost resume of a state file written by an earlier version", () => {
  it("when a state dir holds a job stored by the earlier host, it resumes it: pending retry, activity and timer", async () => {
    // Prepare
    const dir = tempDir("kvbackup-resume-v1-");
    const id = "job-written-by-v1";
    copyFileSync(join(__dirname, "fixtures", `${id}.json`), stateFilePath(dir.path, id));
    const calls: string[] = [];
    const host = new LocalDurableHost({
      orchestrators: { stepRetryAndWait },
      activities: {
        step: (n: number) => (calls.push("step"), n * 10),
        flaky: (key: string) => (calls.push("flaky"), `ok ${key}`),
        slow: (n: number) => (calls.push("slow"), `slow ${n}`),
      },
      clock: "virtual",
      stateDir: dir.path,
    });

    try {
      // Act
      const before = host.getStatus(id);
      await host.startNew("stepRetryAndWait", { instanceId: id });
      const status = await host.waitForCompletion(id, { timeoutMs: 5000 });
      await host.close();

      // Assess
      expect(before).toMatchObject({ runtimeStatus: "Running", customStatus: { phase: "waiting", first: 10 }, input: { vaultUrl: "https://kv.example", note: "fixture" } });
      expect(status.runtimeStatus).toBe("Completed");
      expect(status.output).toEqual({ first: 10, flaky: "ok k", slow: "slow 10" });
      expect(status.customStatus).toEqual({ phase: "done", first: 10 });
      // step was recorded complete; slow was in flight (runs again); flaky's second attempt follows its retry wait.
      expect(calls.sort()).toEqual(["flaky", "slow"]);
      expect(status.metrics.activitiesScheduled).toBe(4);
    } finally {
      await host.close();
      dir.remove();
    }
  });
});
