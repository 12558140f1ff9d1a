import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as fsp from "node:fs/promises";
import * as path from "node:path";
import { promisify } from "node:util";
import ignore from "ignore";
import picomatch from "picomatch";

/**
 * The deploy package of the Functions app, built the way azd and Core Tools deploy a Node app: the
 * project's files less what `.funcignore` excludes (prebuilt dist/, no sources, tests or tooling), then
 * `npm ci --omit=dev` in it, so it holds the production dependencies only. Declaration files and source
 * maps of the dependencies are removed (nothing reads them at run time). Then every `main` file is loaded
 * in a fresh Node process from the package, where no development tree can be reached.
 *
 *   npm run package [-- --out <dir>] [--json]      default out: .deploy (what azure.yaml deploys)
 */

export interface DeployPackageOptions {
  /** The project root: .funcignore, package.json and package-lock.json are read from here. */
  readonly root: string;
  /** Where the compiled JavaScript is (default `<root>/dist`); copied as `dist/`. */
  readonly distDir?: string;
  /** The package folder; replaced when it holds an earlier package, refused when it holds anything else. */
  readonly out: string;
  readonly log?: (line: string) => void;
}

export interface DeployPackageReport {
  readonly out: string;
  readonly bytes: number;
  readonly files: number;
  readonly nodeModulesBytes: number;
  readonly distBytes: number;
  /** Bytes of dependency declaration files and source maps removed after the install. */
  readonly prunedBytes: number;
  readonly installMs: number;
  /** Top-level packages in node_modules (scoped ones as `@scope/name`). */
  readonly installedPackages: readonly string[];
}

export interface LoadReport {
  /** The files the package.json `main` glob names, relative to the package. */
  readonly mainFiles: readonly string[];
  /** Time to load all of them in one process, as the Functions worker does at start. */
  readonly loadMs: number;
}

/** Files Node never reads when it runs a dependency. */
const PRUNABLE = /\.(d\.[cm]?ts|map)$/;
/** What marks a folder as a package this script made, so replacing it can never delete someone's files. */
const MARKER = ".kvbackup-deploy-package";

export async function buildDeployPackage(options: DeployPackageOptions): Promise<DeployPackageReport> {
  const root = path.resolve(options.root);
  const out = path.resolve(options.out);
  const distDir = path.resolve(options.distDir ?? path.join(root, "dist"));
  const log = options.log ?? (() => undefined);
  if (!existsSync(path.join(distDir, "src", "functions"))) throw new Error(`${distDir} holds no compiled functions: run npm run build`);
  await clearOut(out);

  const rules = ignore().add(readFileSync(path.join(root, ".funcignore"), "utf8"));
  // node_modules is installed fresh below; dist/ comes from distDir; the package never contains itself.
  const skip = (relative: string) => relative === "node_modules" || relative === "dist" || relative === ".funcignore" || path.join(root, relative) === out;
  let copied = 0;
  copied += await copyFiltered(root, out, "", rules, skip);
  copied += await copyFiltered(distDir, path.join(out, "dist"), "dist/", rules, () => false);
  await fsp.writeFile(path.join(out, MARKER), "made by npm run package; replaced by the next run\n");
  log(`copied ${copied} files`);

  const began = Date.now();
  // As a deployment would: the package's own lock file, no dev dependencies, its install scripts run.
  await run("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], out);
  const installMs = Date.now() - began;
  const prunedBytes = await prune(path.join(out, "node_modules"));

  const total = await sizeOf(out);
  return {
    out,
    bytes: total.bytes,
    files: total.files,
    nodeModulesBytes: (await sizeOf(path.join(out, "node_modules"))).bytes,
    distBytes: (await sizeOf(path.join(out, "dist"))).bytes,
    prunedBytes,
    installMs,
    installedPackages: await topLevelPackages(path.join(out, "node_modules")),
  };
}

/**
 * The package.json `main` glob resolved as the Functions worker resolves it (one folder, no recursion),
 * loaded one after another in a fresh process started in the package folder, without NODE_PATH.
 */
export async function loadMainFiles(packageDir: string): Promise<LoadReport> {
  const dir = path.resolve(packageDir);
  const main = (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { main?: string }).main;
  if (!main) throw new Error("package.json has no main");
  const folder = path.posix.dirname(main);
  const matches = picomatch(path.posix.basename(main));
  const mainFiles = (await fsp.readdir(path.join(dir, folder))).filter((name) => matches(name)).sort().map((name) => `${folder}/${name}`);
  if (mainFiles.length === 0) throw new Error(`main ${main} matches no file`);
  const probe = `
    const started = process.hrtime.bigint();
    for (const file of ${JSON.stringify(mainFiles)}) require(require("node:path").resolve(file));
    process.stdout.write("\\nKVBACKUP_LOAD " + JSON.stringify({ ms: Number(process.hrtime.bigint() - started) / 1e6 }) + "\\n");
  `;
  const env = { ...process.env };
  delete env.NODE_PATH;
  delete env.NODE_OPTIONS;
  const { stdout } = await run(process.execPath, ["-e", probe], dir, env);
  const line = stdout.split("\n").find((l) => l.startsWith("KVBACKUP_LOAD "));
  if (!line) throw new Error(`loading the main files printed no result:\n${stdout.slice(-2000)}`);
  return { mainFiles, loadMs: (JSON.parse(line.slice("KVBACKUP_LOAD ".length)) as { ms: number }).ms };
}

async function clearOut(out: string): Promise<void> {
  let entries: string[];
  try {
    entries = await fsp.readdir(out);
  } catch {
    return;
  }
  if (entries.length > 0 && !entries.includes(MARKER)) {
    throw new Error(`${out} exists and is not a package made by this script: choose another --out`);
  }
  await fsp.rm(out, { recursive: true, force: true });
}

async function copyFiltered(
  from: string,
  to: string,
  prefix: string,
  rules: ReturnType<typeof ignore>,
  skip: (relative: string) => boolean,
): Promise<number> {
  let copied = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
      const absolute = path.join(dir, entry.name);
      const relative = prefix + path.relative(from, absolute).split(path.sep).join("/");
      if (skip(relative)) continue;
      if (entry.isDirectory()) {
        if (rules.ignores(`${relative}/`)) continue;
        await walk(absolute);
      } else if (entry.isFile() && !rules.ignores(relative)) {
        const target = path.join(to, path.relative(from, absolute));
        await fsp.mkdir(path.dirname(target), { recursive: true });
        await fsp.copyFile(absolute, target);
        await fsp.chmod(target, (await fsp.stat(absolute)).mode & 0o777);
        copied++;
      }
    }
  };
  await walk(from);
  return copied;
}

async function prune(dir: string): Promise<number> {
  let bytes = 0;
  for (const entry of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !PRUNABLE.test(entry.name)) continue;
    const file = path.join(entry.parentPath, entry.name);
    bytes += (await fsp.stat(file)).size;
    await fsp.rm(file);
  }
  return bytes;
}

async function sizeOf(dir: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  if (!existsSync(dir)) return { bytes, files };
  for (const entry of await fsp.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    bytes += (await fsp.stat(path.join(entry.parentPath, entry.name))).size;
    files++;
  }
  return { bytes, files };
}

async function topLevelPackages(dir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith(".")) continue;
    if (entry.name.startsWith("@")) {
      for (const scoped of await fsp.readdir(path.join(dir, entry.name))) names.push(`${entry.name}/${scoped}`);
    } else {
      names.push(entry.name);
    }
  }
  return names.sort();
}

async function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<{ stdout: string }> {
  try {
    const { stdout } = await promisify(execFile)(command, args, { cwd, env, maxBuffer: 32 * 1024 * 1024 });
    return { stdout };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${command} ${args[0] === "-e" ? "-e …" : args.join(" ")} failed in ${cwd}: ${e.message}\n${(e.stderr ?? "").slice(-3000)}`, { cause: error });
  }
}

export function megabytes(bytes: number): string {
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}

async function main(argv: string[]): Promise<number> {
  const root = path.resolve(__dirname, "../..");
  const outIndex = argv.indexOf("--out");
  const out = outIndex >= 0 && argv[outIndex + 1] ? path.resolve(argv[outIndex + 1]!) : path.join(root, ".deploy");
  const report = await buildDeployPackage({ root, out, log: (line) => process.stderr.write(`${line}\n`) });
  const load = await loadMainFiles(out);
  if (argv.includes("--json")) {
    process.stdout.write(JSON.stringify({ ...report, ...load }, null, 2) + "\n");
  } else {
    process.stdout.write(
      [
        `deploy package ${path.relative(process.cwd(), out) || "."}: ${megabytes(report.bytes)} in ${report.files} files`,
        `  node_modules  ${megabytes(report.nodeModulesBytes)} (${report.installedPackages.length} packages; ${megabytes(report.prunedBytes)} of .d.ts and .map removed)`,
        `  dist          ${megabytes(report.distBytes)}`,
        `  npm ci --omit=dev  ${(report.installMs / 1000).toFixed(1)} s`,
        `  main files    ${load.mainFiles.length} (${load.mainFiles.join(", ")}) loaded in ${load.loadMs.toFixed(0)} ms`,
      ].join("\n") + "\n",
    );
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (error: unknown) => {
      process.stderr.write(`package: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
