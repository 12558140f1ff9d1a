import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { startEmulator } from "../src/emulator";
import type { RunningEmulator } from "../src/emulator/types";
import { startAzurite, type RunningAzurite } from "../src/local/azurite";

/**
 * `npm run start:local`: what `func start` needs on a machine with no Azure account, in the foreground
 * until Ctrl+C. Azurite's blob, queue and table services (the Functions host keeps its keys and timer
 * locks there, the Durable task hub its queues, history and instances), the Key Vault emulator with a
 * seeded vault, and a local.settings.json in the current folder that points the app at both.
 *
 *   npm run start:local [-- --blob-port 10000 --queue-port 10001 --table-port 10002 --vault-port 8443
 *                           --keys 20 --versions 2 --data-dir .kvbackup-local --json]
 *
 * Data (Azurite's, the emulator's vault and certificate) stays in --data-dir, so the task hub, the host's
 * keys and the backup sets survive a restart. A local.settings.json that this script did not write is
 * left as it is: the one it would write goes next to the data instead.
 */

export const GENERATED_MARK = "written by npm run start:local; it is rewritten at every start (edit local.settings.sample.json instead)";

export interface LocalSettingsInput {
  /** Values of local.settings.sample.json: every setting, documented there. */
  readonly sample: Record<string, string>;
  readonly storageConnectionString: string;
  readonly vaultUrl: string;
  readonly caCertPath: string;
}

/** The local.settings.json document: the sample's values, pointed at the local Azurite and emulator. */
export function localSettings(input: LocalSettingsInput): { IsEncrypted: false; Values: Record<string, string>; _generatedBy: string } {
  return {
    IsEncrypted: false,
    Values: {
      ...input.sample,
      FUNCTIONS_WORKER_RUNTIME: "node",
      AzureWebJobsStorage: input.storageConnectionString,
      KVBACKUP_STORAGE: input.storageConnectionString,
      KVBACKUP_ALLOWED_VAULTS: input.vaultUrl,
      // HSMs need a container the emulated HSM can write to; the local setup backs up the vault only.
      KVBACKUP_ALLOWED_HSMS: "",
      KVBACKUP_HSM_BACKUP_CONTAINER_URL: "",
      KVBACKUP_EMULATOR_CA: input.caCertPath,
    },
    _generatedBy: GENERATED_MARK,
  };
}

interface Options {
  blobPort: number;
  queuePort: number;
  tablePort: number;
  vaultPort: number;
  keys: number;
  versions: number;
  dataDir: string;
  json: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { blobPort: 10000, queuePort: 10001, tablePort: 10002, vaultPort: 8443, keys: 20, versions: 2, dataDir: ".kvbackup-local", json: false };
  const numeric: Record<string, keyof Options> = {
    "--blob-port": "blobPort", "--queue-port": "queuePort", "--table-port": "tablePort", "--vault-port": "vaultPort", "--keys": "keys", "--versions": "versions",
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === "--json") options.json = true;
    else if (flag === "--data-dir" && argv[i + 1]) options.dataDir = argv[++i]!;
    else if (numeric[flag] && /^\d{1,7}$/.test(argv[i + 1] ?? "")) (options[numeric[flag]!] as number) = Number(argv[++i]);
    else throw new Error(`unknown or incomplete argument ${JSON.stringify(flag)} (see the comment at the top of scripts/start-local.ts)`);
  }
  return options;
}

async function main(argv: string[]): Promise<number> {
  const options = parseArgs(argv);
  const project = process.cwd();
  const samplePath = path.join(project, "local.settings.sample.json");
  if (!existsSync(samplePath)) throw new Error(`run it from the project folder: ${samplePath} not found`);
  const sample = (JSON.parse(readFileSync(samplePath, "utf8")) as { Values: Record<string, string> }).Values;
  const dataDir = path.resolve(project, options.dataDir);

  let azurite: RunningAzurite | undefined;
  let emulator: RunningEmulator | undefined;
  const stop = async () => {
    await emulator?.stop();
    await azurite?.stop();
  };
  try {
    azurite = await startAzurite({
      services: "all", port: options.blobPort, queuePort: options.queuePort, tablePort: options.tablePort, location: path.join(dataDir, "azurite"),
    });
    emulator = await startEmulator({ port: options.vaultPort, keys: options.keys, versions: options.versions, stateDir: path.join(dataDir, "emulator") });
  } catch (error) {
    await stop();
    throw error;
  }

  const settings = localSettings({ sample, storageConnectionString: azurite.connectionString, vaultUrl: emulator.vaultUrl, caCertPath: emulator.caCertPath });
  const target = path.join(project, "local.settings.json");
  const ours = !existsSync(target) || readFileSync(target, "utf8").includes(GENERATED_MARK);
  const settingsPath = ours ? target : path.join(dataDir, "local.settings.json");
  writeFileSync(settingsPath, JSON.stringify(settings, null, 2) + "\n");

  // Listening before saying "ready": whoever starts this may signal it the moment it reads that line.
  const stopRequested = new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
  const ready = {
    settingsPath,
    blobEndpoint: azurite.blobEndpoint,
    queueEndpoint: azurite.queueEndpoint,
    tableEndpoint: azurite.tableEndpoint,
    vaultUrl: emulator.vaultUrl,
    caCertPath: emulator.caCertPath,
  };
  if (options.json) {
    process.stdout.write(JSON.stringify(ready) + "\n");
  } else {
    process.stdout.write(
      [
        `Azurite      blob ${azurite.blobEndpoint}  queue ${azurite.queueEndpoint}  table ${azurite.tableEndpoint}`,
        `Key Vault    ${emulator.vaultUrl} (emulator; certificate ${path.relative(project, emulator.caCertPath)})`,
        ours
          ? `Settings     wrote ${path.relative(project, settingsPath)}`
          : `Settings     local.settings.json was not written by this script and is left as it is; the local one is ${path.relative(project, settingsPath)}`,
        "",
        "Now, in another terminal:   func start",
        `Then:   curl -X POST http://localhost:7071/api/backups -H 'content-type: application/json' -d '{"vault":"${emulator.vaultUrl}"}'`,
        "Stop with Ctrl+C.",
      ].join("\n") + "\n",
    );
  }

  await stopRequested;
  await stop();
  if (!options.json) process.stdout.write("stopped\n");
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`start:local: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
