#!/usr/bin/env node
"use strict";
// `npm run build` and `npm ci` (prepare) compile the TypeScript sources into dist/. The same package.json
// also travels in the deploy package (prebuilt dist/, no sources, no tsconfig.json, no dev dependencies),
// where a remote build runs `npm install` and `npm run build` again, and where `npm ci --omit=dev` has no
// TypeScript: there is nothing to compile there, so this says so and succeeds instead of failing the
// install. Plain JavaScript on purpose: it must run before anything is built.
//
//   node bin/build.js                build; fails when TypeScript is missing from a source tree
//   node bin/build.js --if-possible  (prepare) also skips, with a note, when TypeScript is not installed
const { existsSync, rmSync } = require("node:fs");
const { join } = require("node:path");
const { spawnSync } = require("node:child_process");

const root = join(__dirname, "..");
const ifPossible = process.argv.includes("--if-possible");

if (!existsSync(join(root, "tsconfig.json"))) {
  console.log("kvbackup: prebuilt package (no tsconfig.json): nothing to compile");
  process.exit(0);
}
let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc", { paths: [root] });
} catch {
  const message = "kvbackup: TypeScript is not installed (an install without dev dependencies)";
  if (ifPossible) {
    console.log(`${message}: dist/ is not compiled; run \`npm ci\` for a development tree`);
    process.exit(0);
  }
  console.error(`${message}: run \`npm ci\` first`);
  process.exit(1);
}
// A fresh dist/ each time: output of a source that was moved or deleted must never linger and be shipped.
rmSync(join(root, "dist"), { recursive: true, force: true });
const result = spawnSync(process.execPath, [tsc, "-p", join(root, "tsconfig.json")], { stdio: "inherit", cwd: root });
process.exit(result.status ?? 1);
