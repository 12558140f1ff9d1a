import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { promisify } from "node:util";

const ROOT = resolve(__dirname, "../..");
const SOURCE_FOLDERS = ["src", "activities", "orchestrators"];

export interface CompiledCli {
  /** The script to run with node: `node <launcher> backup …`. */
  readonly launcher: string;
  /** Environment the launcher needs (NODE_PATH for a build outside the repository). */
  readonly env: NodeJS.ProcessEnv;
  /** "dist" when the repository's build was up to date, else where the test built it. */
  readonly from: string;
}

/**
 * The compiled kvbackup command. When dist/ is at least as new as every source file, bin/kvbackup.js is
 * used as it is; otherwise the sources are compiled once (incrementally, so a second run is quick) into a
 * folder of the temp directory, leaving dist/ alone for whoever else builds it.
 */
export async function compiledCli(): Promise<CompiledCli> {
  if (isFresh(join(ROOT, "dist"))) return { launcher: join(ROOT, "bin", "kvbackup.js"), env: {}, from: "dist" };
  const outDir = join(tmpdir(), `kvbackup-reliability-build-${createHash("sha256").update(ROOT).digest("hex").slice(0, 12)}`);
  const launcher = join(outDir, "bin", "kvbackup.js");
  const env = { NODE_PATH: join(ROOT, "node_modules") };
  if (!(existsSync(launcher) && isFresh(outDir))) {
    mkdirSync(outDir, { recursive: true });
    const tsc = require.resolve("typescript/bin/tsc");
    try {
      await promisify(execFile)(
        process.execPath,
        [tsc, "-p", join(ROOT, "tsconfig.json"), "--outDir", outDir, "--incremental", "--tsBuildInfoFile", join(outDir, ".tsbuildinfo"), "--sourceMap", "false"],
        { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
      );
    } catch (error) {
      // Type errors still emit JavaScript (noEmitOnError is off); only a missing output is fatal.
      if (!existsSync(join(outDir, "src", "cli", "entry.js"))) throw error;
    }
  }
  // bin/kvbackup.js itself, pointed at this build: the command runs exactly as installed.
  mkdirSync(join(outDir, "bin"), { recursive: true });
  writeFileSync(launcher, readFileSync(join(ROOT, "bin", "kvbackup.js"), "utf8").replace(/\.\.\/dist\//g, "../"));
  return { launcher, env, from: outDir };
}

/** True when every source file has a compiled file in outDir at least as new as itself. */
function isFresh(outDir: string): boolean {
  for (const folder of SOURCE_FOLDERS) {
    for (const file of walk(join(ROOT, folder))) {
      if (!file.endsWith(".ts") || file.endsWith(".d.ts")) continue;
      const compiled = join(outDir, relative(ROOT, file)).replace(/\.ts$/, ".js");
      if (!existsSync(compiled) || statSync(compiled).mtimeMs < statSync(file).mtimeMs) return false;
    }
  }
  return true;
}

function* walk(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(path);
    else if (entry.isFile()) yield path;
  }
}

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Every file under a folder (relative path → size), or an empty map when the folder does not exist. */
export function folderContents(dir: string): Map<string, number> {
  const contents = new Map<string, number>();
  if (!existsSync(dir)) return contents;
  for (const file of walk(dir)) contents.set(relative(dir, file), statSync(file).size);
  return contents;
}
