import { resolve } from "node:path";

/**
 * The command line that resumes a job: the arguments it was started with (a resumed job must be given the
 * same ones), with its --job-id and --state-dir, quoted for a POSIX shell. A --storage value that carries
 * a secret (an account key, a SAS) is not repeated: the line would put it in whatever log stderr goes to.
 * Relative paths (a folder store, the emulator's certificate) are made absolute, so that the line resumes
 * the same job from any working directory instead of meeting another store.
 */
export function resumeCommand(argv: readonly string[], jobId: string, stateDir: string): string {
  const args = argv.slice(2);
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--job-id" || arg === "--state-dir") {
      i++;
      continue;
    }
    if (arg.startsWith("--job-id=") || arg.startsWith("--state-dir=")) continue;
    if (arg === "--storage" && i + 1 < args.length) {
      kept.push(arg, storageArgument(args[++i]!));
      continue;
    }
    if (arg.startsWith("--storage=")) {
      kept.push(`--storage=${storageArgument(arg.slice("--storage=".length))}`);
      continue;
    }
    if (arg === "--emulator-ca" && i + 1 < args.length) {
      kept.push(arg, resolve(args[++i]!));
      continue;
    }
    if (arg.startsWith("--emulator-ca=")) {
      kept.push(`--emulator-ca=${resolve(arg.slice("--emulator-ca=".length))}`);
      continue;
    }
    kept.push(arg);
  }
  return ["kvbackup", ...kept, "--job-id", jobId, "--state-dir", resolve(stateDir)].map(shellQuote).join(" ");
}

const SECRET_IN_STORAGE = /(AccountKey|SharedAccessSignature)\s*=|[?&]sig=/i;

function storageArgument(storage: string): string {
  if (SECRET_IN_STORAGE.test(storage)) return "<the same --storage as before>";
  // A URL (https:, file:) or a connection string (key=value;…) is kept as given; anything else is a folder.
  const isPath = !/^[a-z][a-z0-9+.-]*:/i.test(storage) && !storage.includes("=");
  return isPath ? resolve(storage) : storage;
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
