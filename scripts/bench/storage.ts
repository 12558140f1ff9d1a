/** A fresh, empty backup store per run: a folder, or an Azurite of its own. */
import { mkdirSync, promises as fsp, rmSync } from "node:fs";
import * as path from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { startAzurite, type RunningAzurite } from "../../src/local/azurite";
import { Context, RunStorage } from "./types";

export let storageCount = 0;

/** A fresh, empty store for one run. */
export async function openRunStorage(ctx: Context, label: string): Promise<RunStorage> {
  const storage = await createRunStorage(ctx, label);
  ctx.openStorages.add(storage);
  let closed: Promise<void> | undefined;
  return {
    ...storage,
    close: () => {
      ctx.openStorages.delete(storage);
      return (closed ??= storage.close());
    },
  };
}

export async function createRunStorage(ctx: Context, label: string): Promise<RunStorage> {
  if (ctx.options.storage === "azurite") {
    const azurite: RunningAzurite = await startAzurite();
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient("bench-samples");
    let created = false;
    return {
      kind: "azurite",
      target: azurite.connectionString,
      async put(name, data) {
        if (!created) {
          await container.createIfNotExists();
          created = true;
        }
        await container.getBlockBlobClient(`${name}.keybackup`).uploadData(data);
      },
      close: () => azurite.stop(),
    };
  }
  const dir = path.join(ctx.tmp, `${String(++storageCount).padStart(2, "0")}-${label}`);
  mkdirSync(dir, { recursive: true });
  return {
    kind: "folder",
    target: dir,
    put: (name, data) => fsp.writeFile(path.join(dir, `${name}.keybackup`), data),
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}
