/** The bench's command line, and where its files are. */
import * as path from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import type { JobTuning } from "../../src/contracts";
import { wholeNumberOption } from "../../src/cli/options";

export const ROLE_ENV = "KVBACKUP_BENCH_ROLE";
/** dist/scripts/bench/ → the repository. */
export const REPO_ROOT = path.resolve(__dirname, "..", "..", "..");
export const CLI_BIN = path.join(REPO_ROOT, "bin", "kvbackup.js");
export const RSS_MARKER = "KVBACKUP_BENCH_PEAK_RSS_KB=";
/** USER_HZ on Linux. */
export const CLOCK_TICKS = 100;


export interface BenchOptions {
  keys: number;
  versions: number;
  latencyMs: number;
  throttles: number[];
  baselineKeys: number;
  memoryKeys: number[];
  memorySamples: number;
  /** kvbackup's pacing budget in the memory runs. */
  memoryMaxOpsPer10s: number;
  overKeys: number;
  parts: Set<Part>;
  maxOpsPer10s?: number;
  tuning: Partial<JobTuning>;
  json: boolean;
  out: string;
  quick: boolean;
  storage: StorageKind;
  strict: boolean;
}

/**
 * Where the backup sets go. `folder` (default): a fresh folder per run under the system temp dir, so the
 * store is never the bottleneck; `azurite`: a fresh Azurite per run. Azurite's in-memory metadata looks
 * blobs up by scanning every blob of the account, so each request gets slower as blobs accumulate (about
 * 330 uploads/s for the first 5,000 blobs, under 100/s past 10,000, about 40/s past 15,000 on this
 * machine): past a few thousand keys it, not the vault, sets the pace. Blob Storage in Azure does not.
 */
export type StorageKind = "folder" | "azurite";

export type Part = "throttled" | "baseline" | "over" | "memory";
export const PARTS: readonly Part[] = ["throttled", "baseline", "over", "memory"];

export function parseOptions(argv: string[]): BenchOptions {
  const program = new Command("npm run bench --")
    .description("Measure kvbackup backup and restore at Key Vault's throttle limit against the local Key Vault emulator (see docs/performance.md)")
    .option("--keys <n>", "keys in the vault for the throttled runs", wholeNumberOption("--keys", 1, 1_000_000))
    .option("--versions <n>", "versions per key", wholeNumberOption("--versions", 1, 500), 2)
    .option("--latency-ms <ms>", "latency the emulator adds to every answer in the throttled and baseline runs", wholeNumberOption("--latency-ms", 0, 10_000), 20)
    .option("--throttles <list>", "emulator throttles (operations per 10 s) for the throttled runs, comma-separated (0 = none)", wholeNumberList("--throttles", 0, 1_000_000))
    .option("--baseline-keys <n>", "keys for the sequential per-key loop (the baseline)", wholeNumberOption("--baseline-keys", 1, 1_000_000))
    .option("--memory-keys <list>", "key counts for the CLI memory runs (no latency, no throttle), comma-separated", wholeNumberList("--memory-keys", 1, 1_000_000))
    .option("--memory-samples <n>", "runs of the CLI per key count (the highest peak counts)", wholeNumberOption("--memory-samples", 1, 20), 1)
    .option(
      "--memory-max-ops-per-10s <n>",
      "kvbackup's pacing budget in the memory runs (pacing on, above what the emulator serves without latency here, so memory is measured at full speed)",
      wholeNumberOption("--memory-max-ops-per-10s", 1, 1_000_000),
      20_000,
    )
    .option("--over-keys <n>", "keys of the set restored over existing names", wholeNumberOption("--over-keys", 1, 1_000_000), 6_000)
    .addOption(new Option("--only <parts>", `run only these parts, comma-separated: ${PARTS.join(", ")}`).argParser(partList))
    .option("--max-ops-per-10s <n>", "kvbackup's pacing budget (default: each run's throttle, as an operator would set it)", wholeNumberOption("--max-ops-per-10s", 0, 1_000_000))
    .option("--batch-size <n>", "override the tuned default", wholeNumberOption("--batch-size", 1, 1000))
    .option("--batches-in-flight <n>", "override the tuned default", wholeNumberOption("--batches-in-flight", 1, 256))
    .option("--key-concurrency <n>", "override the tuned default", wholeNumberOption("--key-concurrency", 1, 256))
    .option("--quick", "a short run for iteration: 2,000 keys, baseline 200 keys, memory at 2,000 and 10,000 keys (the restore over existing names keeps --over-keys)")
    .addOption(new Option("--storage <kind>", "backup store for every run: folder (fresh temp folder per run) or azurite (fresh Azurite per run; slows down as blobs accumulate)").choices(["folder", "azurite"]).default("folder"))
    .option("--strict", "exit 1 when a target is not met (by default only failed keys or a failed run do)")
    .option("--json", "print the result document (also written to --out) on stdout instead of the table")
    .option("--out <dir>", "folder for the result JSON", path.join(REPO_ROOT, "bench", "results"));
  program.parse(argv, { from: "user" });
  const o = program.opts<{
    keys?: number;
    versions: number;
    latencyMs: number;
    throttles?: number[];
    baselineKeys?: number;
    memoryKeys?: number[];
    memorySamples: number;
    memoryMaxOpsPer10s: number;
    overKeys: number;
    only?: Set<Part>;
    maxOpsPer10s?: number;
    batchSize?: number;
    batchesInFlight?: number;
    keyConcurrency?: number;
    quick?: boolean;
    json?: boolean;
    strict?: boolean;
    out: string;
    storage: StorageKind;
  }>();
  const quick = o.quick === true;
  return {
    keys: o.keys ?? (quick ? 2_000 : 10_000),
    versions: o.versions,
    latencyMs: o.latencyMs,
    throttles: o.throttles ?? [2_000, 4_000],
    baselineKeys: o.baselineKeys ?? (quick ? 200 : 500),
    memoryKeys: o.memoryKeys ?? (quick ? [2_000, 10_000] : [10_000, 50_000]),
    memorySamples: o.memorySamples,
    memoryMaxOpsPer10s: o.memoryMaxOpsPer10s,
    overKeys: o.overKeys,
    parts: o.only ?? new Set(PARTS),
    maxOpsPer10s: o.maxOpsPer10s,
    tuning: {
      ...(o.batchSize !== undefined ? { batchSize: o.batchSize } : {}),
      ...(o.batchesInFlight !== undefined ? { batchesInFlight: o.batchesInFlight } : {}),
      ...(o.keyConcurrency !== undefined ? { keyConcurrency: o.keyConcurrency } : {}),
    },
    json: o.json === true,
    out: path.resolve(o.out),
    quick,
    storage: o.storage,
    strict: o.strict === true,
  };
}

/** A comma-separated list of whole numbers from min to max. */
export function wholeNumberList(flag: string, min: number, max: number): (value: string) => number[] {
  const one = wholeNumberOption(flag, min, max);
  return (value) => value.split(",").map((v) => one(v.trim()));
}

export function partList(value: string): Set<Part> {
  const parts = value.split(",").map((v) => v.trim());
  for (const p of parts) if (!PARTS.includes(p as Part)) throw new InvalidArgumentError(`unknown part "${p}" (use ${PARTS.join(", ")})`);
  return new Set(parts as Part[]);
}
