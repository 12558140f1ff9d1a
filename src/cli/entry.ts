import { ExitGuard } from "./exit-guard";
import { main } from "./main";

/**
 * What bin/kvbackup.js runs: main() with the process's streams, and the exit guard watching over it, so
 * that the process ends with the command's own exit code, and never with 0 while a job is unfinished.
 */
export async function run(argv: string[] = process.argv): Promise<void> {
  const guard = new ExitGuard();
  guard.commandStarted();
  try {
    process.exitCode = await main(argv, { stdout: process.stdout, stderr: process.stderr }, { guard });
  } catch (error) {
    process.stderr.write(`kvbackup: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}\n`);
    process.exitCode = 1;
  } finally {
    guard.commandFinished();
  }
}
