import { runEmulatorCli } from "../../src/emulator/cli";
import { certificateClient, emulatorClient, secretClient } from "./helpers";
import { promises as fs } from "node:fs";

describe("kvbackup emulator CLI", () => {
  it("when started with flags, it prints one ready line, serves the seeded vault, and returns 0 when stopped", async () => {
    const stop = new AbortController();
    let stdout = "";
    let stderr = "";
    let readyResolve: () => void = () => {};
    const ready = new Promise<void>((r) => (readyResolve = r));
    const exit = runEmulatorCli(["--port", "0", "--keys", "5", "--versions", "2", "--throttle", "1000", "--latency-ms", "1"], {
      stdout: (t) => {
        stdout += t;
        readyResolve();
      },
      stderr: (t) => (stderr += t),
      signal: stop.signal,
    });
    await ready;
    const lines = stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    const info = JSON.parse(lines[0]!) as { vaultUrl: string; caCertPath: string };
    expect(Object.keys(info)).toEqual(["vaultUrl", "caCertPath"]);
    expect(info.vaultUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);

    const client = emulatorClient(info.vaultUrl, await fs.readFile(info.caCertPath, "utf8"));
    const names: string[] = [];
    for await (const p of client.listPropertiesOfKeys()) names.push(p.name);
    expect(names).toHaveLength(5);

    stop.abort();
    await expect(exit).resolves.toBe(0);
    expect(stderr).toBe("");
  });

  it("when started with --sku standard and timing flags, the vault refuses HSM key types and deletes at the given pace", async () => {
    const stop = new AbortController();
    let stdout = "";
    let readyResolve: () => void = () => {};
    const ready = new Promise<void>((r) => (readyResolve = r));
    const exit = runEmulatorCli(["--sku", "standard", "--soft-delete-ms", "0", "--purge-ms", "0"], {
      stdout: (t) => {
        stdout += t;
        readyResolve();
      },
      stderr: () => undefined,
      signal: stop.signal,
    });
    try {
      await ready;
      const info = JSON.parse(stdout.trim()) as { vaultUrl: string; caCertPath: string };
      const client = emulatorClient(info.vaultUrl, await fs.readFile(info.caCertPath, "utf8"));
      await expect(client.createKey("hsm-key", "RSA-HSM")).rejects.toMatchObject({ statusCode: 400, message: "Hardware key operation not allowed on standard vault" });
      await client.createKey("soft-key", "RSA");
      // --soft-delete-ms 0: the delete is done when it is answered, so the poller needs no second look.
      expect((await client.beginDeleteKey("soft-key")).isDone()).toBe(true);
    } finally {
      stop.abort();
    }
    await expect(exit).resolves.toBe(0);
  });

  it("when started with --secrets and --certificates, it seeds both with --versions versions, certificates with their keys and secrets", async () => {
    const stop = new AbortController();
    let stdout = "";
    let readyResolve: () => void = () => {};
    const ready = new Promise<void>((r) => (readyResolve = r));
    const exit = runEmulatorCli(["--secrets", "6", "--certificates", "3", "--versions", "2", "--certificate-create-ms", "0"], {
      stdout: (t) => {
        stdout += t;
        readyResolve();
      },
      stderr: () => undefined,
      signal: stop.signal,
    });
    try {
      await ready;
      const info = JSON.parse(stdout.trim()) as { vaultUrl: string; caCertPath: string };
      const ca = await fs.readFile(info.caCertPath, "utf8");
      const secrets = secretClient(info.vaultUrl, ca);
      const certs = certificateClient(info.vaultUrl, ca);
      const listed: Array<{ name: string; managed: boolean; contentType?: string }> = [];
      for await (const p of secrets.listPropertiesOfSecrets()) listed.push({ name: p.name, managed: p.managed === true, ...(p.contentType ? { contentType: p.contentType } : {}) });
      const certNames: string[] = [];
      for await (const p of certs.listPropertiesOfCertificates()) certNames.push(p.name!);
      const versions: string[] = [];
      for await (const v of certs.listPropertiesOfCertificateVersions("cert-00001")) versions.push(v.version!);
      const keyVersions: string[] = [];
      for await (const v of emulatorClient(info.vaultUrl, ca).listPropertiesOfKeyVersions("cert-00001")) keyVersions.push(v.version!);

      expect(certNames).toEqual(["cert-00000", "cert-00001", "cert-00002"]);
      expect(listed.filter((s) => !s.managed).map((s) => s.name)).toEqual(["secret-00000", "secret-00001", "secret-00002", "secret-00003", "secret-00004", "secret-00005"]);
      expect(listed.filter((s) => s.managed).map((s) => s.contentType)).toEqual(["application/x-pkcs12", "application/x-pem-file", "application/x-pkcs12"]);
      expect(new Set(listed.map((s) => s.contentType)).size).toBeGreaterThanOrEqual(4);
      expect(versions).toHaveLength(2);
      expect(keyVersions).toEqual(versions);
      expect((await certs.getCertificate("cert-00002")).cer!.length).toBeGreaterThan(500);
    } finally {
      stop.abort();
    }
    await expect(exit).resolves.toBe(0);
  });

  it.each([
    [["--certificates", "many"]],
    [["--certificate-create-ms", "-1"]],
    [["--sku", "basic"]],
    [["--purge-ms", "-5"]],
    [["--soft-delete-ms", "soon"]],
    [["--port", "abc"]],
    [["--no-such-flag"]],
    [["--keys", "-1"]],
    [["--drop-rate", "2"]],
    [["stray-argument"]],
  ])("when given bad flags %j, it writes one line on stderr and returns 2", async (argv) => {
    let stderr = "";
    let stdout = "";
    const code = await runEmulatorCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    expect(code).toBe(2);
    expect(stdout).toBe("");
    expect(stderr.endsWith("\n")).toBe(true);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});
