import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { buildDeployPackage, loadMainFiles, megabytes, type DeployPackageReport, type LoadReport } from "../../scripts/package";
import { compiledCli } from "../reliability/helpers";

/**
 * The deploy package as azd and Core Tools ship it: .funcignore applied, production dependencies
 * installed with `npm ci --omit=dev` (from the local npm cache), every `main` file loaded in a process
 * that cannot reach the development tree (the package sits in the temp directory, not in the repo).
 */
const ROOT = resolve(__dirname, "../..");
const MAX_BYTES = 150_000_000;
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

let out: string;
let report: DeployPackageReport;
let load: LoadReport;

beforeAll(async () => {
  // dist/ when it is up to date with the sources, else a build of them in the temp directory.
  const compiled = await compiledCli();
  const distDir = compiled.from === "dist" ? join(ROOT, "dist") : compiled.from;
  out = mkdtempSync(join(tmpdir(), "kvbackup-deploy-"));
  report = await buildDeployPackage({ root: ROOT, distDir, out });
  load = await loadMainFiles(out);
  process.stdout.write(
    `deploy package: ${megabytes(report.bytes)} unpacked in ${report.files} files (node_modules ${megabytes(report.nodeModulesBytes)}, ` +
      `dist ${megabytes(report.distBytes)}); npm ci --omit=dev ${(report.installMs / 1000).toFixed(1)} s; ` +
      `${load.mainFiles.length} main files loaded in ${load.loadMs.toFixed(0)} ms\n`,
  );
}, 300_000);
afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

function allFiles(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? allFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

describe("the deploy package", () => {
  it("when built, it is at most 150 MB unpacked and holds the production dependencies only", () => {
    expect(report.bytes).toBeLessThanOrEqual(MAX_BYTES);
    for (const name of Object.keys(pkg.dependencies)) expect(report.installedPackages).toContain(name);
    for (const name of Object.keys(pkg.devDependencies)) expect(report.installedPackages).not.toContain(name);
    expect(report.installedPackages).not.toContain("jest");
  });

  it("when built, it carries the compiled app and no sources, tests or test tooling", () => {
    const files = allFiles(out).filter((f) => !f.startsWith("node_modules/"));
    for (const needed of ["host.json", "package.json", "package-lock.json", "bin/build.js", "dist/src/functions/http.js", "dist/activities/vault-backup.js"]) {
      expect(files).toContain(needed);
    }
    expect(files.filter((f) => f.endsWith(".ts"))).toEqual([]);
    expect(files.filter((f) => /^(test|scripts|src|infra|docs|bench)\/|^dist\/(test|scripts)\/|tsconfig|jest\.config|eslint\.config|local\.settings/.test(f))).toEqual([]);
    expect(files.filter((f) => /reliability-kit|chaos-proxy/.test(f))).toEqual([]);
  });

  it("when every main file is loaded from the package without the development tree, all three load", () => {
    expect(load.mainFiles).toEqual(["dist/src/functions/durable.js", "dist/src/functions/http.js", "dist/src/functions/timer.js"]);
    expect(load.loadMs).toBeGreaterThan(0);
  });

  it("when a remote build runs npm ci and npm run build on it with dev tools present, both succeed and leave dist as shipped", async () => {
    // What `npm ci` (with dev dependencies) gives the package's scripts: TypeScript is resolvable, yet
    // there is no tsconfig.json and no source to compile.
    const typescript = join(out, "node_modules", "typescript");
    symlinkSync(join(ROOT, "node_modules", "typescript"), typescript, "dir");
    const shipped = statSync(join(out, "dist/src/functions/http.js")).mtimeMs;
    try {
      for (const script of ["prepare", "build"]) {
        const { stdout } = await promisify(execFile)("npm", ["run", script], { cwd: out });
        expect(stdout).toContain("prebuilt package (no tsconfig.json): nothing to compile");
      }
    } finally {
      rmSync(typescript, { force: true });
    }
    expect(statSync(join(out, "dist/src/functions/http.js")).mtimeMs).toBe(shipped);
    expect(existsSync(join(out, "tsconfig.json"))).toBe(false);
  });
});

describe("what the deployment configures", () => {
  it("when host.json is read, it sets no Durable option that only .NET apps use, and the Function App runs Node 22", () => {
    const host = JSON.parse(readFileSync(join(ROOT, "host.json"), "utf8")) as { extensions: { durableTask: Record<string, unknown> } };
    expect(Object.keys(host.extensions.durableTask).filter((k) => /^extendedSession/.test(k))).toEqual([]);
    const bicep = readFileSync(join(ROOT, "infra", "resources.bicep"), "utf8");
    expect(bicep).toMatch(/runtime: \{\s*name: 'node'\s*version: '22'\s*\}/);
    // The package container is referenced as a resource, not only by its name in a URL.
    expect(bicep).toContain("runtimeStorage::blobs::deployment.name");
  });
});

describe("bin/build.js in a source tree", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "kvbackup-build-guard-"));
    mkdirSync(join(dir, "bin"));
    copyFileSync(join(ROOT, "bin", "build.js"), join(dir, "bin", "build.js"));
    writeFileSync(join(dir, "tsconfig.json"), "{}");
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const guard = (...args: string[]) =>
    promisify(execFile)(process.execPath, [join(dir, "bin", "build.js"), ...args], { cwd: dir, env: { ...process.env, NODE_PATH: "" } }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
      (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }),
    );

  it("when TypeScript is not installed (npm ci --omit=dev), prepare succeeds with a note and build fails naming the fix", async () => {
    const prepare = await guard("--if-possible");
    expect(prepare.code).toBe(0);
    expect(prepare.stdout).toContain("TypeScript is not installed");
    const build = await guard();
    expect(build.code).toBe(1);
    expect(build.stderr).toContain("run `npm ci` first");
  });
});
