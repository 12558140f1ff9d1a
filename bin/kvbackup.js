#!/usr/bin/env node
"use strict";
require("../dist/src/cli/main.js").main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`kvbackup: ${err && err.message ? err.message : err}`); process.exitCode = 1; },
);
