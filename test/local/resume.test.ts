import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as df from "durable-functions";
import { LocalDurableHost } from "../../src/local/durable-host";
import { stateFilePath, type StoredInstance } from "../../src/local/instance-store";
import { gate, statusWhere, tempDir } from "./helpers";

function* tenSteps(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const results: number[] = [];
  for (let step = 0; step < 10; step++) {
    results.push((yield context.df.callActivity("step", step)) as number);
    context.df.setCustomStatus({ stepsDone: step + 1 });
  }
  return results;
}

function* fanOut(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
  const n = context.df.getInput<number>();
  const results: number[] = yield context.df.Task.all(Array.from({ length: n }, (_, i) => context.df.callActivity("item", i)));
  return results.reduce((a, b) => a + b, 0);
}

describe("LocalDurableHost resume from stateDir", () => {
  it("when the process stops mid-job, it resumes the same instance id in a new host without re-running finished activities", async () => {
    // Prepare: the first host blocks in step 5 and is closed there, as a crash would leave it.
    const dir = tempDir("kvbackup-resume-");
    const runs = new Map<number, number>();
    const stepFiveStarted = gate();
    const stepFiveRelease = gate();
    const firstHostStep = async (step: number) => {
      runs.set(step, (runs.get(step) ?? 0) + 1);
      if (step === 5) {
        stepFiveStarted.open();
        await stepFiveRelease.promise;
      }
      return step * 10;
    };
    const secondHostStep = (step: number) => {
      runs.set(step, (runs.get(step) ?? 0) + 1);
      return step * 10;
    };
    const first = new LocalDurableHost({ orchestrators: { tenSteps }, activities: { step: firstHostStep }, stateDir: dir.path });

    try {
      // Act
      await first.startNew("tenSteps", { instanceId: "job-42" });
      await stepFiveStarted.promise;
      const closing = first.close();
      stepFiveRelease.open();
      await closing;
      const stored = first.getStatus("job-42");

      const second = new LocalDurableHost({ orchestrators: { tenSteps }, activities: { step: secondHostStep }, stateDir: dir.path });
      const resumedId = await second.startNew("tenSteps", { instanceId: "job-42" });
      const status = await second.waitForCompletion(resumedId, { timeoutMs: 5000 });
      const again = second.startNew("tenSteps", { instanceId: "job-42" });
      await expect(again).rejects.toMatchObject({ code: "InstanceFinished" });
      await second.close();

      // Assess
      expect(stored?.runtimeStatus).toBe("Running");
      expect(stored?.customStatus).toEqual({ stepsDone: 5 });
      expect(status.runtimeStatus).toBe("Completed");
      expect(status.output).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
      // Steps 0-4 were in the stored history; step 5 was in flight (at-least-once: it runs again).
      expect([...runs.entries()].sort((a, b) => a[0] - b[0])).toEqual([
        [0, 1], [1, 1], [2, 1], [3, 1], [4, 1], [5, 2], [6, 1], [7, 1], [8, 1], [9, 1],
      ]);
      const third = new LocalDurableHost({ orchestrators: { tenSteps }, activities: { step: secondHostStep }, stateDir: dir.path });
      await expect(third.startNew("tenSteps", { instanceId: "job-42" })).rejects.toMatchObject({ code: "InstanceFinished" });
      expect(third.getStatus("job-42")?.output).toEqual(status.output);
      await third.close();
    } finally {
      dir.remove();
    }
  });

  it("when a stored fan-out has some completions recorded, it runs only the missing activities", async () => {
    // Prepare: run a fan-out of 20 to completion, then cut its stored history back to 8 completions.
    const dir = tempDir("kvbackup-resume-fan-");
    const runs: number[] = [];
    const activities = { item: (i: number) => (runs.push(i), i) };
    try {
      const first = new LocalDurableHost({ orchestrators: { fanOut }, activities, stateDir: dir.path });
      const seen: StoredInstance[] = [];
      first.onStatusChange((s) => {
        if (s.runtimeStatus === "Running" && s.metrics.episodes === 1) {
          seen.push(JSON.parse(readFileSync(stateFilePath(dir.path, "fan-1"), "utf8")) as StoredInstance);
        }
      });
      await first.startNew("fanOut", { instanceId: "fan-1", input: 20 });
      await first.waitForCompletion("fan-1");
      await first.close();
      const afterFirstEpisode = seen[0]!;
      const history = JSON.parse(readFileSync(stateFilePath(dir.path, "fan-1"), "utf8")).history as StoredInstance["history"];
      const completions = history.filter((e) => e.EventType === 5).slice(0, 8);
      const crafted: StoredInstance = {
        ...afterFirstEpisode,
        history: [...afterFirstEpisode.history, { ...history.find((e) => e.EventType === 12 && e !== history[0])!, IsPlayed: true }, ...completions],
        pending: afterFirstEpisode.pending.filter(([id]) => !completions.some((c) => c.TaskScheduledId === id)),
      };
      writeFileSync(stateFilePath(dir.path, "fan-1"), JSON.stringify(crafted));
      runs.length = 0;

      // Act
      const second = new LocalDurableHost({ orchestrators: { fanOut }, activities, stateDir: dir.path });
      await second.startNew("fanOut", { instanceId: "fan-1" });
      const status = await second.waitForCompletion("fan-1", { timeoutMs: 5000 });
      await second.close();

      // Assess
      expect(status.output).toBe(190);
      const done = new Set(completions.map((c) => c.TaskScheduledId));
      expect(runs.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i).filter((i) => !done.has(i)));
    } finally {
      dir.remove();
    }
  });

  it("when the stored history no longer matches the orchestrator code, it refuses to resume and leaves the file alone", async () => {
    const dir = tempDir("kvbackup-resume-bad-");
    const hold = gate();
    try {
      const first = new LocalDurableHost({ orchestrators: { tenSteps }, activities: { step: () => hold.promise }, stateDir: dir.path });
      await first.startNew("tenSteps", { instanceId: "job-x" });
      await statusWhere(first, "job-x", (s) => s.metrics.episodes === 1);
      const closing = first.close();
      hold.open();
      await closing;
      const before = readFileSync(stateFilePath(dir.path, "job-x"), "utf8");

      // The same name now runs different code: it schedules a timer first.
      function* changed(context: df.OrchestrationContext): Generator<df.Task, unknown, any> {
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
        yield context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 1000));
        return null;
      }
      const second = new LocalDurableHost({ orchestrators: { tenSteps: changed }, activities: {}, stateDir: dir.path });
      await expect(second.startNew("tenSteps", { instanceId: "job-x" })).rejects.toMatchObject({ code: "StateMismatch" });
      await second.close();
      expect(readFileSync(stateFilePath(dir.path, "job-x"), "utf8")).toBe(before);
      expect(readdirSync(dir.path)).toEqual(["job-x.json"]);
    } finally {
      dir.remove();
    }
  });
});
