import { Command, Option } from "commander";
import { vaultStatusFromStore, type TargetStatus } from "../jobs/status";
import { createServices } from "../composition";
import { ExitCode } from "../error-responses";
import { checkEndpoint, checkStore } from "./options";
import type { Io } from "./main";

/**
 * `kvbackup status --vault … --storage …`: where each vault stands, read from the store: its newest
 * complete backup set, the set's age and counts, and the newest set of any state (the newest job as the
 * store sees it). The same objects as GET /api/status, without the task hub's job (`newestJob` is null).
 */
export function registerStatusCommand(program: Command, helpers: { readonly io: Io; setExit(code: number): void }): void {
  const { io, setExit } = helpers;
  program
    .command("status")
    .description("show each vault's newest complete backup set, its age and counts, and its newest set")
    .requiredOption("--vault <url>", "vault URL (repeatable)", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .addOption(new Option("--storage <target>", "backup store: a connection string, a blob account URL, or a folder (path or file: URL)").env("KVBACKUP_STORAGE"))
    .option("--container <name>", "blob container of the backup sets", "kvbackup")
    .option("--json", "print one JSON document on stdout")
    .action(async (opts: { vault: string[]; storage?: string; container: string; json?: boolean }) => {
      for (const vault of opts.vault) checkEndpoint("--vault", vault, "any", true);
      const store = createServices({ storage: checkStore(opts.storage, opts.container), container: opts.container }).store;
      const now = new Date();
      const targets: TargetStatus[] = [];
      for (const vault of opts.vault) targets.push(await vaultStatusFromStore(store, vault, now));
      if (opts.json) {
        io.stdout.write(JSON.stringify({ generatedAt: now.toISOString(), targets }, null, 2) + "\n");
      } else {
        io.stdout.write(formatStatus(targets));
      }
      setExit(ExitCode.ok);
    });
}

export function formatStatus(targets: readonly TargetStatus[]): string {
  const lines = [`${"TARGET".padEnd(44)} ${"LAST COMPLETE SET".padEnd(44)} ${"AGE".padStart(8)} ${"KEYS".padStart(7)}  NEWEST SET`];
  for (const t of targets) {
    const last = t.lastComplete;
    lines.push(
      `${t.target.padEnd(44)} ${(last?.id ?? "none").padEnd(44)} ${(last ? `${last.ageHours.toFixed(1)} h` : "-").padStart(8)} ` +
        `${String(last?.keys?.total ?? "-").padStart(7)}  ${t.newestSet ? `${t.newestSet.state} (${t.newestSet.backupSetId})` : "none"}`,
    );
  }
  return lines.join("\n") + "\n";
}
