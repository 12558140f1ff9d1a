/** What the bench reads of processes: peak RSS, CPU time, a preload that reports from inside the CLI. */
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { VaultStats } from "../../src/emulator/types";
import { CLOCK_TICKS, RSS_MARKER } from "./options";

export function writeRssHook(dir: string): string {
  const file = path.join(dir, "peak-rss-hook.js");
  writeFileSync(
    file,
    [
      '"use strict";',
      'const fs = require("node:fs");',
      'const { PerformanceObserver, constants, monitorEventLoopDelay } = require("node:perf_hooks");',
      "let retained = 0;",
      "// Heap in use right after each full garbage collection: what the process really keeps.",
      "const observer = new PerformanceObserver((list) => {",
      "  for (const e of list.getEntries()) if (e.detail && e.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) retained = Math.max(retained, process.memoryUsage().heapUsed);",
      "});",
      'observer.observe({ entryTypes: ["gc"] });',
      "const loop = monitorEventLoopDelay({ resolution: 10 });",
      "loop.enable();",
      'process.on("exit", () => {',
      "  let kb = 0;",
      '  try { kb = Number(/VmHWM:\\s+(\\d+)/.exec(fs.readFileSync("/proc/self/status", "utf8"))[1]); } catch { kb = process.resourceUsage().maxRSS; }',
      "  const cpu = process.cpuUsage();",
      "  const ms = (ns) => (ns / 1e6).toFixed(1);",
      `  try { fs.writeSync(2, "\\n${RSS_MARKER}" + kb + " peakKb=" + kb + " cpuMs=" + Math.round((cpu.user + cpu.system) / 1000) + " retainedKb=" + Math.round(retained / 1024) + " loopP50Ms=" + ms(loop.percentile(50)) + " loopP99Ms=" + ms(loop.percentile(99)) + " loopMaxMs=" + ms(loop.max) + "\\n"); } catch {}`,
      "});",
      "",
    ].join("\n"),
  );
  return file;
}



export function sumOps(stats: VaultStats): number {
  return Object.values(stats.operations).reduce((a, b) => a + b, 0);
}

/** Resets this process's VmHWM to its current RSS (Linux), so each run reports its own peak. */
export function resetPeakRss(): void {
  try {
    writeFileSync("/proc/self/clear_refs", "5");
  } catch {
    // Not Linux, or not allowed: the sampler still sees the run's peak, the VmHWM may be an earlier one.
  }
}

export function readPeakRssKb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (ms) of this process's children other than `exclude` (and the CLI child): Azurite, in practice. */
export function otherChildrenCpuMs(exclude: number | undefined): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((d) => /^\d+$/.test(d));
  } catch {
    return NaN;
  }
  for (const d of entries) {
    const pid = Number(d);
    if (pid === exclude) continue;
    try {
      const fields = readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1]!.split(" ");
      if (Number(fields[1]) !== process.pid) continue;
      const cmdline = readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (!/azurite/i.test(cmdline)) continue;
      total += ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

export function readCpuTicks(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/** Polls RSS (bytes) every 100 ms; stop() returns the highest sample in KB. */
export function startRssSampler(sample: () => number): { stop(): number } {
  let peak = sample();
  const timer = setInterval(() => (peak = Math.max(peak, sample())), 100);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, sample()) / 1024;
    },
  };
}

// ------------------------------------------------------------------------------------------------ report
