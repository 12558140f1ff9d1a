#!/usr/bin/env node
"use strict";
// A backup keeps little (about 35 MB of heap after a full GC, at 10,000 keys as at 50,000), but V8 by
// default lets the heap grow to several times that between collections, so the peak RSS depended on when
// collections fell. Growing it by at most 30 % per step keeps the peak near the working set, at no
// measurable cost in speed (docs/performance.md). It only changes when V8 collects, never how much it may use.
require("node:v8").setFlagsFromString("--heap-growing-percent=30");
// The exit code is the command's answer, and never 0 while its job is unfinished (src/cli/exit-guard.ts).
void require("../dist/src/cli/entry.js").run(process.argv);
