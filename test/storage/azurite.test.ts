import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { createBlobBackupStore } from "../../src/storage/blob-store";

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => { socket.destroy(); resolve(false); });
    socket.once("error", () => resolve(true));
  });
}

function processIsGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

describe("startAzurite", () => {
  let dir: string;
  const started: RunningAzurite[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "kvbackup-azurite-"));
  });

  afterAll(async () => {
    await Promise.all(started.map((a) => a.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("when started in memory, it serves blobs on a free loopback port and stop frees the port", async () => {
    const azurite = await startAzurite();
    started.push(azurite);
    expect(azurite.blobEndpoint).toBe(`http://127.0.0.1:${azurite.port}/devstoreaccount1`);
    expect(azurite.connectionString).toContain(`BlobEndpoint=${azurite.blobEndpoint};`);
    expect(azurite.location).toBeUndefined();
    const store = createBlobBackupStore({ storage: azurite.connectionString, container: "smoke" });
    await store.ensureReady();
    await expect(store.writeOnce("a.bin", Buffer.from("a"))).resolves.toEqual({ outcome: "created" });
    const pid = (azurite as unknown as { current: { child: { pid: number } } }).current.child.pid;
    await azurite.stop();
    await azurite.stop();
    expect(azurite.running).toBe(false);
    expect(await portIsClosed(azurite.port)).toBe(true);
    expect(processIsGone(pid)).toBe(true);
  });

  it("when stopped mid-use and started again on the same port with a folder, the data survives and a pending write completes", async () => {
    const azurite = await startAzurite({ location: path.join(dir, "data") });
    started.push(azurite);
    const store = createBlobBackupStore({ storage: azurite.connectionString, container: "fault" });
    await store.ensureReady();
    await store.writeOnce("before/k1.bin", Buffer.from("written before the outage"));

    await azurite.stop();
    expect(await portIsClosed(azurite.port)).toBe(true);
    // The store's retry policy keeps this write alive while Azurite is down.
    const pending = store.writeOnce("during/k2.bin", Buffer.from("written across the outage"));
    await new Promise((r) => setTimeout(r, 1_000));
    await azurite.start();
    expect(azurite.running).toBe(true);

    await expect(pending).resolves.toEqual({ outcome: "created" });
    expect((await store.read("before/k1.bin")).toString()).toBe("written before the outage");
    expect((await store.read("during/k2.bin")).toString()).toBe("written across the outage");
    await expect(store.writeOnce("after/k3.bin", Buffer.from("3"))).resolves.toEqual({ outcome: "created" });
  });

  it("when a second Azurite asks for a port already in use, it fails with a clear error", async () => {
    const azurite = await startAzurite();
    started.push(azurite);
    await expect(startAzurite({ port: azurite.port })).rejects.toThrow(/Azurite exited .* before listening on 127\.0\.0\.1:\d+/);
  });

  it("when Azurite does not come up in time, it fails with a clear error", async () => {
    await expect(startAzurite({ startTimeoutMs: 50 })).rejects.toThrow(/Azurite did not start within 0\.05 s/);
  });

  it("when started again while running, it refuses", async () => {
    const azurite = started.find((a) => a.running)!;
    await expect(azurite.start()).rejects.toThrow(/already running/);
  });
});
