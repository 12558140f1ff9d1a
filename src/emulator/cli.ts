/**
 * `kvbackup emulator`: runs the emulator in the foreground. Prints one JSON line when ready
 * (what a script needs to point a client at it) and stops cleanly on SIGINT/SIGTERM.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { DEFAULT_CERTIFICATE_CREATE_MS, DEFAULT_PURGE_MS, DEFAULT_SOFT_DELETE_MS, startEmulator } from "./index";
import type { EmulatorOptions, VaultSku } from "./types";

export interface EmulatorCliIo {
  /** Receives the ready line (without newline handling: the line ends with "\n"). */
  readonly stdout?: (text: string) => void;
  readonly stderr?: (text: string) => void;
  /** Stops the emulator like a signal would (for in-process callers and tests). */
  readonly signal?: AbortSignal;
}

/** Exit codes: 0 after a clean stop, 1 when the emulator could not start, 2 for bad flags. */
export async function runEmulatorCli(argv: readonly string[], io: EmulatorCliIo = {}): Promise<number> {
  const out = io.stdout ?? ((t: string) => void process.stdout.write(t));
  const err = io.stderr ?? ((t: string) => void process.stderr.write(t));

  let errText = "";
  const program = new Command("kvbackup emulator")
    .description("Run a local Azure Key Vault emulator over HTTPS until SIGINT/SIGTERM.")
    .option("--port <n>", "port on 127.0.0.1 (0 = a free port)", intIn(0, 65535), 0)
    .option("--keys <n>", "keys to seed into an empty vault", intIn(0, 10_000_000), 0)
    .option("--secrets <n>", "secrets to seed into an empty vault (several content types)", intIn(0, 10_000_000), 0)
    .option("--certificates <n>", "self-signed certificates to seed into an empty vault, with their keys and secrets", intIn(0, 1_000_000), 0)
    .option("--versions <n>", "versions per seeded key, secret and certificate", intIn(1, 10_000), 1)
    .option("--throttle <ops>", "operations per 10 s before 429 (0 = unlimited)", intIn(0, 100_000_000))
    .option("--latency-ms <ms>", "delay added to every answer", intIn(0, 600_000))
    .option("--soft-delete-ms <ms>", `how long a soft delete or a recover takes (default ${DEFAULT_SOFT_DELETE_MS}; 0 = at once)`, intIn(0, 3_600_000))
    .option("--purge-ms <ms>", `how long a purge takes: the name answers 409 to restores meanwhile (default ${DEFAULT_PURGE_MS}; 0 = at once)`, intIn(0, 3_600_000))
    .option(
      "--certificate-create-ms <ms>",
      `how long the Self issuer takes to complete a certificate create (default ${DEFAULT_CERTIFICATE_CREATE_MS}; 0 = at once)`,
      intIn(0, 3_600_000),
    )
    .addOption(new Option("--sku <tier>", "vault tier: standard refuses HSM-protected key types").choices(["standard", "premium"]).default("premium"))
    .option("--state-dir <dir>", "keep the certificate and the vault state here")
    .option("--error503-rate <r>", "share of requests answered 503 (0..1)", fraction)
    .option("--drop-rate <r>", "share of connections dropped without answer (0..1)", fraction)
    .option("--seed <n>", "seed for reproducible fault injection", intIn(0, 2 ** 31 - 1))
    .option("--hsm", "also run a Managed HSM (keys API plus full backup/restore) on its own port")
    .option("--hsm-port <n>", "the HSM's port on 127.0.0.1 (0 = a free port)", intIn(0, 65535))
    .option("--hsm-job-ms <ms>", "how long an HSM backup/restore job runs", intIn(0, 3_600_000))
    .addOption(
      new Option("--hsm-storage <connection-string>", "storage the HSM's managed identity may use (e.g. Azurite's connection string)").env(
        "KVBACKUP_EMULATOR_HSM_STORAGE",
      ),
    )
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (t) => void (errText += t) });

  let opts: {
    port: number;
    keys: number;
    secrets: number;
    certificates: number;
    versions: number;
    throttle?: number;
    latencyMs?: number;
    softDeleteMs?: number;
    purgeMs?: number;
    certificateCreateMs?: number;
    sku: VaultSku;
    stateDir?: string;
    error503Rate?: number;
    dropRate?: number;
    seed?: number;
    hsm?: boolean;
    hsmPort?: number;
    hsmJobMs?: number;
    hsmStorage?: string;
  };
  try {
    program.parse([...argv], { from: "user" });
    opts = program.opts();
  } catch (e) {
    if (e instanceof CommanderError && (e.code === "commander.helpDisplayed" || e.code === "commander.help")) return 0;
    const line = (errText || (e as Error).message).split("\n").find((l) => l.trim() !== "") ?? "invalid arguments";
    err(`kvbackup emulator: ${line.replace(/^error:\s*/, "")}\n`);
    return 2;
  }

  const options: EmulatorOptions = {
    port: opts.port,
    keys: opts.keys,
    secrets: opts.secrets,
    certificates: opts.certificates,
    versions: opts.versions,
    ...(opts.throttle !== undefined ? { throttle: opts.throttle } : {}),
    ...(opts.latencyMs !== undefined ? { latencyMs: opts.latencyMs } : {}),
    ...(opts.softDeleteMs !== undefined ? { softDeleteMs: opts.softDeleteMs } : {}),
    ...(opts.purgeMs !== undefined ? { purgeMs: opts.purgeMs } : {}),
    ...(opts.certificateCreateMs !== undefined ? { certificateCreateMs: opts.certificateCreateMs } : {}),
    sku: opts.sku,
    ...(opts.stateDir !== undefined ? { stateDir: opts.stateDir } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    faults: {
      ...(opts.error503Rate !== undefined ? { error503Rate: opts.error503Rate } : {}),
      ...(opts.dropRate !== undefined ? { dropRate: opts.dropRate } : {}),
    },
    ...(opts.hsm
      ? {
          hsm: {
            ...(opts.hsmPort !== undefined ? { port: opts.hsmPort } : {}),
            ...(opts.hsmJobMs !== undefined ? { jobDurationMs: opts.hsmJobMs } : {}),
            ...(opts.hsmStorage ? { storageConnectionString: opts.hsmStorage } : {}),
          },
        }
      : {}),
  };

  let emulator;
  try {
    emulator = await startEmulator(options);
  } catch (e) {
    err(`kvbackup emulator: could not start: ${(e as Error).message}\n`);
    return 1;
  }

  const stopRequested = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      io.signal?.removeEventListener("abort", onSignal);
      resolve();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    if (io.signal?.aborted) onSignal();
    else io.signal?.addEventListener("abort", onSignal);
  });

  out(
    `${JSON.stringify({ vaultUrl: emulator.vaultUrl, caCertPath: emulator.caCertPath, ...(emulator.hsmUrl ? { hsmUrl: emulator.hsmUrl } : {}) })}\n`,
  );
  await stopRequested;
  await emulator.stop();
  return 0;
}

function intIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

function fraction(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError("Expected a number from 0 to 1.");
  return n;
}
