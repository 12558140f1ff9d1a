import type { KeyClient } from "@azure/keyvault-keys";
import { PromiseCache } from "../util/promise-cache";
import { toKeyVaultError } from "./errors";

/**
 * Key Vault's authentication challenge, done once per client before requests with a body go out in parallel.
 *
 * The challenge policy of @azure/keyvault-common (2.1.0) sends a client's first request without its body,
 * expecting the 401 challenge, and puts the body back when that 401 comes in, but only while the challenge
 * is still "started". When another request of the same client, sent meanwhile, gets its 401 first and
 * completes the challenge, the first request is sent again with a token and without its body, and the vault
 * refuses it (400 "The request body must be a JSON object."). A process whose first calls to a vault are
 * parallel restores meets exactly this: a restore batch resumed after a crash, or run on a fresh Functions
 * worker. One request without a body first (a one-item key listing) settles the challenge.
 */
const settled = PromiseCache.weak<KeyClient, void>();

/** Settles the client's challenge once; a failed attempt is not remembered, so the next batch tries again. */
export function settleChallenge(client: KeyClient): Promise<void> {
  return settled.get(client, async () => {
    try {
      await client.listPropertiesOfKeys().byPage({ maxPageSize: 1 }).next();
    } catch (error) {
      throw toKeyVaultError(error);
    }
  });
}
