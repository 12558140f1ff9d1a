/** What a bench run measures, and what every part of the bench is handed. */
import type { JobTuning } from "../../src/contracts";
import { BenchOptions, StorageKind } from "./options";
import { EmulatorProcess } from "./emulator-process";

export interface RunResult {
  name: string;
  kind: "backup" | "restore" | "restore-over" | "sequential" | "cli-backup";
  /** Backups only: whether each key's versions were listed for the manifest (two vault operations per key, or one). */
  versionDetails?: boolean;
  keys: number;
  versions: number;
  latencyMs: number;
  /** Emulator throttle, operations per 10 s; 0 = none. */
  throttle: number;
  /** kvbackup's configured budget (it paces at pacedOpsPer10s, a little below). */
  maxOpsPer10s: number | null;
  pacedOpsPer10s: number | null;
  tuning: JobTuning | null;
  wallMs: number;
  keysPerSecond: number;
  /** Admitted operations counted by the emulator (429s and auth challenges are not operations). */
  vaultOps: number;
  vaultOpsByOperation: Record<string, number>;
  /** vaultOps ÷ the allowed rate: the least time the vault lets this job take. */
  boundMs: number | null;
  wallOverBound: number | null;
  throttled429: number;
  retries: number | null;
  failures: number;
  keysSucceeded: number;
  peakRssMb: number;
  /** CLI runs: the most heap in use right after a full garbage collection (what the process keeps; RSS adds what V8 lets grow before collecting). */
  retainedHeapMb?: number;
  history: { events: number; episodes: number; replayMs: number; replayShare: number; activities: number } | null;
  /** Size of the job's state file (history and status) when it ended, in KB; null for runs without a job. */
  stateKb?: number | null;
  /** CPU of the product (the CLI process; this process for the baseline loop), of the emulator process and of Azurite. */
  cpu: { processShare: number; emulatorShare: number | null; storageShare: number | null };
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
  pacingWaitMsPerCall: number | null;
  clientThrottled: number | null;
}

export interface Context {
  readonly options: BenchOptions;
  readonly emulator: EmulatorProcess;
  readonly stamp: string;
  readonly tmp: string;
  /** Stores not closed yet (a run that throws leaves its store here; main closes them). */
  readonly openStorages: Set<RunStorage>;
  readonly log: (line: string) => void;
  /** The preload every CLI run gets (peak RSS, CPU, event-loop delay at exit). */
  readonly hook: string;
  /** Job state files of the CLI runs. */
  readonly stateDir: string;
}

export interface RunStorage {
  readonly kind: StorageKind;
  /** For openBackupStore / --storage: a folder path or a connection string. */
  readonly target: string;
  /** Writes one blob the way the SDK samples do (the baseline loop). */
  put(name: string, data: Buffer): Promise<void>;
  close(): Promise<void>;
}
