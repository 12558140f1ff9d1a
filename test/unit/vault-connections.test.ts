import { createHttpHeaders, type HttpClient, type PipelineRequest } from "@azure/core-rest-pipeline";
import { KeyClient } from "@azure/keyvault-keys";
import { createServices } from "../../src/composition";
import { EmulatorTokenCredential, createVaultConnections, pacingBudget } from "../../src/keyvault/clients";

/** Answers every request with 404 and counts them: the pacing policies run, no network is used. */
function notFoundClient(): HttpClient & { requests: PipelineRequest[] } {
  const requests: PipelineRequest[] = [];
  return {
    requests,
    async sendRequest(request) {
      requests.push(request);
      const body = JSON.stringify({ error: { code: "KeyNotFound", message: "not here" } });
      return { request, status: 404, headers: createHttpHeaders({ "content-type": "application/json" }), bodyAsText: body };
    },
  };
}

describe("vault connections", () => {
  it("when a vault is named in other case or with a path, it is the same connection with the same keys client", () => {
    // Prepare
    const connections = createVaultConnections({ credential: new EmulatorTokenCredential(), maxOperationsPer10s: 100 });

    // Act
    const a = connections.get("https://MyVault.vault.azure.net/");
    const b = connections.get("https://myvault.vault.azure.net");

    // Assess
    expect(a).toBe(b);
    expect(a.vaultUrl).toBe("https://myvault.vault.azure.net");
    expect(a.keys()).toBe(b.keys());
    expect(connections.get("https://other.vault.azure.net")).not.toBe(a);
  });

  it("when two SDK clients of one vault make calls, they spend the vault's one pacing budget and are counted together", async () => {
    // Prepare: two clients built from the connection's options, as a secrets or certificates client would be.
    const connections = createVaultConnections({ credential: new EmulatorTokenCredential(), maxOperationsPer10s: 100, maxRetries: 0 });
    const vault = connections.get("https://myvault.vault.azure.net");
    const http = notFoundClient();
    const first = new KeyClient(vault.vaultUrl, new EmulatorTokenCredential(), { ...vault.clientOptions(), httpClient: http });
    const second = new KeyClient(vault.vaultUrl, new EmulatorTokenCredential(), { ...vault.clientOptions(), httpClient: http });
    const budget = pacingBudget(100);
    expect(vault.spareBudget()).toBe(budget);

    // Act
    await expect(first.getKey("a")).rejects.toMatchObject({ statusCode: 404 });
    await expect(second.getKey("b")).rejects.toMatchObject({ statusCode: 404 });

    // Assess: each request holds its slot for a window after its answer, whichever client sent it.
    expect(http.requests.length).toBeGreaterThanOrEqual(2);
    expect(vault.spareBudget()).toBe(budget - http.requests.length);
    expect(connections.get("https://other.vault.azure.net").spareBudget()).toBe(budget);
    expect(connections.stats()).toMatchObject({ calls: 2, attempts: http.requests.length });
  });

  it("when services are built without pacing, a connection has an unlimited budget", () => {
    const services = createServices({ emulatorCaCert: "-----BEGIN CERTIFICATE-----\n", maxOperationsPer10s: 0 });
    expect(services.vaults.get("https://127.0.0.1:8443").spareBudget()).toBe(Number.POSITIVE_INFINITY);
    expect(services.keyClients.spareBudget!("https://127.0.0.1:8443")).toBe(Number.POSITIVE_INFINITY);
  });
});
