import { BlobServiceClient } from "@azure/storage-blob";
import { startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { InvalidStorageError } from "../../src/storage/errors";
import { BlobBackupStore, createBlobBackupStore } from "../../src/storage/blob-store";
import { redactUrl } from "../../src/util/redact-url";
import { describeBackupStoreContract, describeMissingStoreContract } from "./store-contract";

let azurite: RunningAzurite;
let store: BlobBackupStore;

beforeAll(async () => {
  azurite = await startAzurite();
  store = createBlobBackupStore({ storage: azurite.connectionString, container: "contract" });
  await store.ensureReady();
  await store.ensureReady();
});

afterAll(async () => {
  await azurite?.stop();
});

describe("BlobBackupStore on Azurite", () => {
  describeBackupStoreContract(() => store);

  describe("when the container was never created", () => {
    let n = 0;
    describeMissingStoreContract(() => createBlobBackupStore({ storage: azurite.connectionString, container: `never-created-${n++}` }));

    it("when it is missing, missingRoot names the container in the user's terms and no key", async () => {
      const missing = await createBlobBackupStore({ storage: azurite.connectionString, container: "not-there" }).missingRoot();
      expect(missing).toBe(`container "not-there" does not exist in ${azurite.blobEndpoint}`);
    });
  });

  it("when built from a connection string, its description names the container and no key", () => {
    expect(store.description).toBe(`blob:${azurite.blobEndpoint}/contract`);
    expect(store.description).not.toMatch(/AccountKey|Eby8/);
  });

  it("when built over a ContainerClient with a SAS, its description drops the SAS", () => {
    const client = new BlobServiceClient(`${azurite.blobEndpoint}?sv=2024-01-01&sig=SECRET`).getContainerClient("c1");
    const described = new BlobBackupStore(client).description;
    expect(described).toBe(`blob:${azurite.blobEndpoint}/c1`);
    expect(redactUrl("https://user:pw@acct.blob.core.windows.net/c?sig=x#f")).toBe("https://acct.blob.core.windows.net/c");
  });

  it("when the container name is invalid, it throws InvalidStorageError", () => {
    for (const container of ["AB", "Upper", "with_underscore", "-lead", "double--hyphen", "x".repeat(64)]) {
      expect(() => createBlobBackupStore({ storage: azurite.connectionString, container })).toThrow(InvalidStorageError);
    }
  });

  it("when the connection string is malformed, the error does not echo it", () => {
    const bad = "DefaultEndpointsProtocol=gopher;AccountName=x;AccountKey=TOPSECRET==";
    expect(() => createBlobBackupStore({ storage: bad, container: "abc" })).toThrow(InvalidStorageError);
    let message = "";
    try {
      createBlobBackupStore({ storage: bad, container: "abc" });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/invalid storage/);
    expect(message).not.toContain("TOPSECRET");
  });

  it("when the blob already exists, the conditional put is refused by the service and the blob keeps its bytes and ETag", async () => {
    const blob = BlobServiceClient.fromConnectionString(azurite.connectionString)
      .getContainerClient("contract").getBlobClient("etag/k.bin");
    await store.writeOnce("etag/k.bin", Buffer.from("one"));
    const before = await blob.getProperties();
    await store.writeOnce("etag/k.bin", Buffer.from("two"));
    const after = await blob.getProperties();
    expect(after.etag).toBe(before.etag);
    expect(after.contentType).toBe("application/octet-stream");
    expect(after.contentMD5).toBeDefined();
  });
});
