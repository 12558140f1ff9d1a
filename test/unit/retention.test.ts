import type { BackupSetState } from "../../src/contracts";
import type { BackupStore } from "../../src/storage/backup-store";
import type { BackupSetEntry } from "../../src/storage/catalog";
import { listBackupSets } from "../../src/storage/catalog";
import { applyRetention, decideRetention } from "../../src/storage/retention";
import { tempStore, writeSet } from "../functions/fixtures";

const NOW = new Date("2026-06-30T03:00:00Z");
const DAY = 24 * 3600_000;

function entry(daysAgo: number, state: BackupSetState, id = `job${daysAgo}`): BackupSetEntry {
  const started = new Date(NOW.getTime() - daysAgo * DAY);
  const compact = started.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
  return { backupSetId: `${compact}-${id}`, vaultFolder: "prod-keys.vault.azure.net", state, startedAt: started.toISOString(), jobId: id };
}

function actions(decisions: ReturnType<typeof decideRetention>): Record<string, string> {
  return Object.fromEntries(decisions.map((d) => [d.backupSetId.split("-").slice(1).join("-"), d.action]));
}

describe("decideRetention", () => {
  it("when sets are older than the limit, it deletes them but keeps the newest complete ones", () => {
    const entries = [entry(1, "complete"), entry(40, "complete"), entry(50, "complete"), entry(60, "complete")];
    expect(actions(decideRetention(entries, { days: 30, keepMinComplete: 2 }, NOW))).toEqual({
      job1: "keep", job40: "keep", job50: "delete", job60: "delete",
    });
  });

  it("when every set is old, the newest keepMinComplete complete sets survive", () => {
    const entries = [entry(100, "complete"), entry(90, "complete"), entry(80, "complete")];
    const decisions = decideRetention(entries, { days: 30, keepMinComplete: 2 }, NOW);
    expect(actions(decisions)).toEqual({ job80: "keep", job90: "keep", job100: "delete" });
    expect(decisions.find((d) => d.backupSetId.endsWith("job80"))!.reason).toBe("newest complete set");
  });

  it("when keepMinComplete is zero, the newest complete set is still never deleted", () => {
    const entries = [entry(100, "complete"), entry(90, "complete")];
    expect(actions(decideRetention(entries, { days: 30, keepMinComplete: 0 }, NOW))).toEqual({ job90: "keep", job100: "delete" });
  });

  it("when incomplete sets are younger than the limit they are kept, and older ones are deleted", () => {
    const entries = [entry(0, "incomplete"), entry(45, "incomplete"), entry(2, "complete")];
    expect(actions(decideRetention(entries, { days: 30, keepMinComplete: 1 }, NOW))).toEqual({ job0: "keep", job45: "delete", job2: "keep" });
  });

  it("when newer partial sets exist, old complete ones still count for the minimum", () => {
    const entries = [entry(1, "partial"), entry(35, "partial"), entry(40, "complete"), entry(50, "complete")];
    expect(actions(decideRetention(entries, { days: 30, keepMinComplete: 1 }, NOW))).toEqual({
      job1: "keep", job35: "delete", job40: "keep", job50: "delete",
    });
  });

  it("when there are fewer complete sets than the minimum, the newest partial ones are kept in their place", () => {
    const entries = [entry(40, "partial"), entry(50, "partial"), entry(60, "partial"), entry(70, "incomplete")];
    expect(actions(decideRetention(entries, { days: 30, keepMinComplete: 2 }, NOW))).toEqual({
      job40: "keep", job50: "keep", job60: "delete", job70: "delete",
    });
  });

  it("when a set is exactly at the limit or younger, it is kept", () => {
    const entries = [entry(30, "complete"), entry(30.0001, "complete"), entry(0, "complete")];
    const decisions = decideRetention(entries, { days: 30, keepMinComplete: 1 }, NOW);
    expect(decisions.map((d) => d.action)).toEqual(["keep", "keep", "delete"]);
    expect(decisions.map((d) => d.ageDays)).toEqual([0, 30, 30]);
  });

  it("when the catalog is empty, there is nothing to decide", () => {
    expect(decideRetention([], { days: 30, keepMinComplete: 3 }, NOW)).toEqual([]);
  });
});

describe("applyRetention", () => {
  const VAULT = "https://prod-keys.vault.azure.net";

  async function seeded() {
    const { store, cleanup } = await tempStore();
    const ids: Record<string, string> = {};
    for (const [days, state] of [[1, "complete"], [10, "partial"], [40, "complete"], [50, "complete"], [45, "incomplete"], [0, "incomplete"]] as const) {
      ids[`${state}${days}`] = await writeSet(store, VAULT, new Date(NOW.getTime() - days * DAY).toISOString(), `job-${days}`, state);
    }
    // Another vault's sets are never touched by this vault's retention.
    await writeSet(store, "https://dr-keys.vault.azure.net", new Date(NOW.getTime() - 400 * DAY).toISOString(), "old-dr", "complete");
    return { store, cleanup, ids };
  }

  it("when run for real, it deletes exactly the sets the policy names, manifest first", async () => {
    const { store, cleanup, ids } = await seeded();
    try {
      const calls: string[] = [];
      const spy: BackupStore = Object.assign(Object.create(Object.getPrototypeOf(store)), store, {
        deletePrefix: (prefix: string) => {
          calls.push(prefix);
          return store.deletePrefix(prefix);
        },
      });
      const seen: string[] = [];
      const result = await applyRetention(spy, VAULT, { days: 30, keepMinComplete: 2 }, NOW, { dryRun: false, onDecision: (d) => seen.push(d.backupSetId) });
      expect(result.deletedSets).toBe(2);
      expect(result.deletedObjects).toBe(3 + 2); // manifest + inventory + key blob; inventory + key blob
      const left = (await listBackupSets(store, VAULT)).map((e) => e.backupSetId).sort();
      expect(left).toEqual([ids.complete1, ids.partial10, ids.complete40, ids.incomplete0].sort());
      expect(await listBackupSets(store, "https://dr-keys.vault.azure.net")).toHaveLength(1);
      const manifestAt = calls.findIndex((c) => c.endsWith(`${ids.complete50}/manifest.json`));
      const rootAt = calls.findIndex((c) => c.endsWith(`${ids.complete50}/`));
      expect(manifestAt).toBeGreaterThanOrEqual(0);
      expect(rootAt).toBe(manifestAt + 1);
      expect(calls).toHaveLength(4);
      expect(seen).toHaveLength(6);
    } finally {
      cleanup();
    }
  });

  it("when run as a dry run, it returns the same decisions and deletes nothing", async () => {
    const { store, cleanup } = await seeded();
    try {
      const result = await applyRetention(store, VAULT, { days: 30, keepMinComplete: 2 }, NOW, { dryRun: true });
      expect(result.decisions.filter((d) => d.action === "delete")).toHaveLength(2);
      expect(result.deletedSets).toBe(0);
      expect(await listBackupSets(store, VAULT)).toHaveLength(6);
    } finally {
      cleanup();
    }
  });
});
