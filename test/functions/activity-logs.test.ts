import { join } from "node:path";
import { InvocationContext } from "@azure/functions";
import { ActivityNames, type TakeInventoryInput } from "../../src/contracts";
import { startEmulator } from "../../src/emulator";
import type { RunningEmulator } from "../../src/emulator/types";
import { tempDir } from "../reliability/helpers";

/**
 * The activities registered with the Functions host share their clients and caches across invocations,
 * but each invocation's log lines go to that invocation's own context (Application Insights attributes a
 * line to the invocation whose logger wrote it).
 */
describe("the activities registered with the Functions host", () => {
  let emulator: RunningEmulator;
  let dirs: { path: string; remove: () => void };
  const saved = { ...process.env };

  beforeAll(async () => {
    dirs = tempDir("kvbackup-activity-logs-");
    emulator = await startEmulator({ seed: 9, latencyMs: 0 });
    process.env["KVBACKUP_STORAGE"] = join(dirs.path, "store");
    process.env["KVBACKUP_EMULATOR_CA"] = emulator.caCertPath;
  });
  afterAll(async () => {
    process.env = saved;
    await emulator?.stop();
    dirs?.remove();
  });

  function context(invocationId: string): { context: InvocationContext; lines: string[] } {
    const lines: string[] = [];
    return { context: new InvocationContext({ functionName: ActivityNames.takeInventory, invocationId, logHandler: (_level, ...args) => lines.push(args.map(String).join(" ")) }), lines };
  }

  it("when two invocations run, each one's log lines go to its own context and none to the other's", async () => {
    // Prepare: the handlers as registered (df.app.activity goes through app.generic), from a fresh module registry.
    const registered = new Map<string, (input: unknown, context: InvocationContext) => Promise<unknown>>();
    jest.isolateModules(() => {
      const functions = require("@azure/functions") as typeof import("@azure/functions");
      jest.spyOn(functions.app, "generic").mockImplementation(((name: string, options: { handler: (input: unknown, context: InvocationContext) => Promise<unknown> }) => {
        registered.set(name, options.handler);
      }) as never);
      require("../../src/functions/durable");
    });
    const handler = registered.get(ActivityNames.takeInventory)!;
    const first = await emulator.addVault({ name: "logs-a" });
    const second = await emulator.addVault({ name: "logs-b" });
    await first.seedKeys({ count: 3, prefix: "a" });
    await second.seedKeys({ count: 5, prefix: "b" });
    const input = (jobId: string, vaultUrl: string): TakeInventoryInput => ({
      jobId, vaultUrl, kinds: ["key"], include: [], exclude: [], startedAt: "2026-12-01T00:00:00.000Z", batchSize: 100, versionDetails: true,
    });
    const a = context("invocation-a");
    const b = context("invocation-b");

    // Act: the first invocation builds the shared handlers; the second runs at the same time
    await Promise.all([handler(input("job-a", first.url), a.context), handler(input("job-b", second.url), b.context)]);
    const c = context("invocation-c");
    await handler(input("job-c", first.url), c.context);

    // Assess
    const records = (lines: string[]) => lines.map((l) => JSON.parse(l) as { event: string; jobId: string; keys?: number });
    expect(records(a.lines)).toEqual([expect.objectContaining({ event: "inventory", jobId: "job-a", keys: 3 })]);
    expect(records(b.lines)).toEqual([expect.objectContaining({ event: "inventory", jobId: "job-b", keys: 5 })]);
    expect(records(c.lines)).toEqual([expect.objectContaining({ event: "inventory", jobId: "job-c", keys: 3 })]);
  });
});
