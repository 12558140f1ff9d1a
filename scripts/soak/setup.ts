/** The soak's options, the record of one cycle, and how a cycle is printed. */
import type { CliResult } from "../../test/support/reliability-kit";
import { wholeNumberProblem } from "../../src/validation";

export const CONTAINER = "soak";
export const TUNING = { batchSize: 50, batchesInFlight: 6, keyConcurrency: 16 };
/**
 * The vault budget of the storm cycles, per key of the cycle: a backup (two operations a key) needs about
 * two and a half windows of it, and the client paces itself to three times as much.
 */
export const STORM_THROTTLE_PER_KEY = 0.8;
export const CYCLE_KINDS = ["storm", "503s", "drops", "stalls", "azurite-outage", "kill-backup", "kill-restore", "lost-answers", "everything"] as const;
export type CycleKind = (typeof CYCLE_KINDS)[number];

export interface Options {
  cycles: number;
  minKeys: number;
  maxKeys: number;
  seed: number;
  outageSeconds: number;
  json: boolean;
}

export interface CycleResult {
  index: number;
  kind: CycleKind;
  keys: number;
  versions: number;
  seconds: number;
  jobs: number;
  resumedJobs: number;
  backupFailed: number;
  restoreFailed: number;
  restoreSkipped: number;
  keysLost: number;
  blobsOverwritten: number;
  faults: FaultCounts;
  problems: string[];
}

export interface FaultCounts {
  throttled429: number;
  unavailable503: number;
  droppedBeforeVault: number;
  droppedByProxy: number;
  stalls: number;
  azuriteOutages: number;
  azuriteOutageSeconds: number;
  cliKills: number;
  answersLost: number;
}

export const NO_FAULTS = (): FaultCounts => ({
  throttled429: 0,
  unavailable503: 0,
  droppedBeforeVault: 0,
  droppedByProxy: 0,
  stalls: 0,
  azuriteOutages: 0,
  azuriteOutageSeconds: 0,
  cliKills: 0,
  answersLost: 0,
});

export function parseArgs(argv: string[]): Options {
  const options: Options = { cycles: 24, minKeys: 200, maxKeys: 500, seed: 2026, outageSeconds: 20, json: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--json") {
      options.json = true;
      continue;
    }
    const text = argv[++i] ?? "";
    if (wholeNumberProblem(text, 0, Number.MAX_SAFE_INTEGER) !== undefined) throw new Error(`${flag} needs a whole number`);
    const value = Number(text);
    if (flag === "--cycles") options.cycles = value;
    else if (flag === "--min-keys") options.minKeys = value;
    else if (flag === "--max-keys") options.maxKeys = value;
    else if (flag === "--seed") options.seed = value;
    else if (flag === "--outage-seconds") options.outageSeconds = value;
    else throw new Error(`unknown option ${flag}`);
  }
  if (options.maxKeys < options.minKeys || options.minKeys < 1) throw new Error("--min-keys must be at least 1 and at most --max-keys");
  return options;
}

export function describe(result: CliResult): string {
  return `exit ${result.code ?? result.signal}: ${(result.stderr || result.stdout).trim().split("\n").slice(-2).join(" | ").slice(0, 300)}`;
}

export function printCycle(r: CycleResult, json: boolean): void {
  if (json) return;
  const f = r.faults;
  const injected = [
    f.throttled429 && `429×${f.throttled429}`,
    f.unavailable503 && `503×${f.unavailable503}`,
    f.droppedBeforeVault && `cut-before×${f.droppedBeforeVault}`,
    f.droppedByProxy && `proxy-cut×${f.droppedByProxy}`,
    f.stalls && `stall×${f.stalls}`,
    f.azuriteOutages && `azurite-down ${f.azuriteOutageSeconds.toFixed(0)} s`,
    f.cliKills && `SIGKILL×${f.cliKills}`,
    f.answersLost && `lost-answer×${f.answersLost}`,
  ].filter(Boolean).join(" ");
  process.stdout.write(
    `cycle ${String(r.index).padStart(2)} ${r.kind.padEnd(14)} ${String(r.keys).padStart(3)} keys × ${r.versions}  ` +
      `${r.seconds.toFixed(1).padStart(5)} s  failed ${r.backupFailed}/${r.restoreFailed}  lost ${r.keysLost}  overwritten ${r.blobsOverwritten}  ${injected}\n`,
  );
  for (const p of r.problems.slice(0, 10)) process.stdout.write(`    ! ${p}\n`);
}
