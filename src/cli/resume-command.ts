import { resolve } from "node:path";

/**
 * The command line that resumes a job: the arguments it was started with (a resumed job must be given the
 * same ones), with its --job-id and --state-dir, quoted for a POSIX shell. A --storage value that carries
 * a secret (an account key, a SAS) is not repeated: the line would put it in whatever log stderr goes to.
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
      kept.push(arg, hidden(args[++i]!));
      continue;
    }
    if (arg.startsWith("--storage=")) {
      kept.push(`--storage=${hidden(arg.slice("--storage=".length))}`);
      continue;
    }
    kept.push(arg);
  }
  return ["kvbackup", ...kept, "--job-id", jobId, "--state-dir", resolve(stateDir)].map(shellQuote).join(" ");
}

const SECRET_IN_STORAGE = /(AccountKey|SharedAccessSignature)\s*=|[?&]sig=/i;

function hidden(storage: string): string {
  return SECRET_IN_STORAGE.test(storage) ? "<the same --storage as before>" : storage;
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}
