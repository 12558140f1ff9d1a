import { compactUtc, httpJobId, parseJobId, scheduledJobId, targetKey } from "../../src/jobs/ids";
import { parseSchedule, previousOccurrence, scheduleProblem } from "../../src/jobs/schedule";
import { loadConfig } from "../../src/config";

const at = (iso: string) => new Date(iso);
const prev = (expr: string, now: string) => previousOccurrence(parseSchedule(expr), at(now))?.toISOString();

describe("NCRONTAB slots", () => {
  it.each([
    ["0 0 2 * * *", "2026-03-10T02:00:00.000Z", "2026-03-10T02:00:00.000Z"],
    ["0 0 2 * * *", "2026-03-10T02:07:31.900Z", "2026-03-10T02:00:00.000Z"],
    ["0 0 2 * * *", "2026-03-10T01:59:59.999Z", "2026-03-09T02:00:00.000Z"],
    ["0 */15 * * * *", "2026-03-10T10:44:59.000Z", "2026-03-10T10:30:00.000Z"],
    ["30 30 9 * * 1-5", "2026-03-09T09:00:00.000Z", "2026-03-06T09:30:30.000Z"], // Monday morning → Friday
    ["0 0 0 1 Jan *", "2026-03-10T00:00:00.000Z", "2026-01-01T00:00:00.000Z"],
    ["0 0 12 * * Sun", "2026-03-10T00:00:00.000Z", "2026-03-08T12:00:00.000Z"],
    ["0 0 0 29 2 *", "2026-03-10T00:00:00.000Z", "2024-02-29T00:00:00.000Z"],
    ["*/20 * * * * *", "2026-03-10T10:00:59.000Z", "2026-03-10T10:00:40.000Z"],
    ["0 5/20 * * * *", "2026-03-10T10:04:00.000Z", "2026-03-10T09:45:00.000Z"],
    ["0 0 3,15 * * *", "2026-03-10T14:00:00.000Z", "2026-03-10T03:00:00.000Z"],
  ])("when the schedule is %s and the clock says %s, the slot is %s", (expr, now, slot) => {
    expect(prev(expr, now)).toBe(slot);
  });

  it("when a date never occurs, there is no slot", () => {
    expect(prev("0 0 0 31 2 *", "2026-03-10T00:00:00.000Z")).toBeUndefined();
  });

  it.each([
    ["0 0 2 * *", /six/],
    ["0 0 25 * * *", /hour/],
    ["0 0 2 * * Funday", /day-of-week/],
    ["0 0 2 10-5 * *", /reversed/],
    ["0 0/0 2 * * *", /step/],
    ["a b c d e f", /second/],
  ])("when the schedule is %s, it is refused with a reason", (expr, reason) => {
    expect(scheduleProblem(expr)).toMatch(reason);
  });

  it("when the config names a bad schedule, loadConfig reports it with the other problems", () => {
    expect(() => loadConfig({ KVBACKUP_STORAGE: "/tmp/x", KVBACKUP_SCHEDULE: "0 0 25 * * *", KVBACKUP_ALLOWED_HSMS: "https://hsm1.managedhsm.azure.net" })).toThrow(
      /KVBACKUP_SCHEDULE: hour[\s\S]*KVBACKUP_HSM_BACKUP_CONTAINER_URL: is required/,
    );
  });

  it("when KVBACKUP_VERSION_DETAILS is set, loadConfig reads it, and refuses anything but true or false", () => {
    expect(loadConfig({ KVBACKUP_STORAGE: "/tmp/x" }).versionDetails).toBe(true);
    expect(loadConfig({ KVBACKUP_STORAGE: "/tmp/x", KVBACKUP_VERSION_DETAILS: "false" }).versionDetails).toBe(false);
    expect(() => loadConfig({ KVBACKUP_STORAGE: "/tmp/x", KVBACKUP_VERSION_DETAILS: "no" })).toThrow(/KVBACKUP_VERSION_DETAILS: must be "true" or "false"/);
  });

  it("when KVBACKUP_KINDS is set, loadConfig reads the kinds, and refuses a name that is not a kind", () => {
    expect(loadConfig({ KVBACKUP_STORAGE: "/tmp/x" }).kinds).toEqual(["certificate", "key", "secret"]);
    expect(loadConfig({ KVBACKUP_STORAGE: "/tmp/x", KVBACKUP_KINDS: "keys,secrets" }).kinds).toEqual(["key", "secret"]);
    expect(() => loadConfig({ KVBACKUP_STORAGE: "/tmp/x", KVBACKUP_KINDS: "keys,passwords" })).toThrow(/KVBACKUP_KINDS: "passwords" is not a kind of object/);
  });

  it("when the HSM container URL carries a SAS or a path, loadConfig refuses it", () => {
    const base = { KVBACKUP_STORAGE: "/tmp/x", KVBACKUP_ALLOWED_HSMS: "https://hsm1.managedhsm.azure.net" };
    expect(() => loadConfig({ ...base, KVBACKUP_HSM_BACKUP_CONTAINER_URL: "https://a.blob.core.windows.net/c?sig=x" })).toThrow(/no SAS/);
    expect(() => loadConfig({ ...base, KVBACKUP_HSM_BACKUP_CONTAINER_URL: "https://a.blob.core.windows.net/c/d" })).toThrow(/container URL/);
    expect(() => loadConfig({ ...base, KVBACKUP_HSM_BACKUP_CONTAINER_URL: "http://127.0.0.1:10000/devstoreaccount1/hsm" })).toThrow(/loopback/);
    expect(loadConfig({ ...base, KVBACKUP_HSM_BACKUP_CONTAINER_URL: "https://a.blob.core.windows.net/hsm-backups/" }).hsmBackupContainerUrl).toBe(
      "https://a.blob.core.windows.net/hsm-backups",
    );
    expect(
      loadConfig({ ...base, KVBACKUP_EMULATOR_CA: "/tmp/ca.pem", KVBACKUP_HSM_BACKUP_CONTAINER_URL: "http://127.0.0.1:10000/devstoreaccount1/hsm" }).hsmBackupContainerUrl,
    ).toBe("http://127.0.0.1:10000/devstoreaccount1/hsm");
  });
});

describe("job ids", () => {
  it("when ids are made for each kind of target, they are valid job ids and parse back to their target", () => {
    const slot = at("2026-03-10T02:00:00Z");
    const cases = [
      [scheduledJobId(targetKey("vault", "https://a-24-character-vault-nm.vault.azure.net"), slot), "kv-a-24-character-vault-nm", "scheduled"],
      [httpJobId("restore", targetKey("hsm", "https://a-24-character-hsm-name.managedhsm.azure.net"), slot, "ffff"), "hsm-a-24-character-hsm-name", "restore"],
      [httpJobId("backup", targetKey("vault", "https://localhost:65535"), slot, "0a0b"), "kv-localhost-65535", "backup"],
      [httpJobId("backup", targetKey("vault", "https://[::1]:8443"), slot, "0a0b"), "kv-1-8443", "backup"],
      [scheduledJobId(targetKey("vault", "https://v-202601010200.vault.azure.net"), slot), "kv-v-202601010200", "scheduled"],
    ] as const;
    for (const [id, key, op] of cases) {
      expect(id.length).toBeLessThanOrEqual(64);
      expect(parseJobId(id)).toMatchObject({ targetKey: key, op });
    }
    expect(compactUtc(slot, "minute")).toBe("202603100200");
  });

  it("when an id was not made by kvbackup, it does not parse", () => {
    for (const id of ["3f2a9c1e-0000-4000-8000-000000000000", "backup-kv-x", "purge-kv-x-202603100200", "backup-db-x-202603100200", "backup-kv-x-2026031002"]) {
      expect(parseJobId(id)).toBeUndefined();
    }
  });
});
