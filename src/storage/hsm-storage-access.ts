import type { TokenCredential } from "@azure/core-auth";
import {
  BlobServiceClient,
  ContainerSASPermissions,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  type BlobSASSignatureValues,
} from "@azure/storage-blob";
import type { HsmStorageParameters } from "../keyvault/hsm-admin-client";
import { isContainerName } from "../names";
import { accountKeyOf } from "../util/connection-string";
import { redactUrl } from "../util/redact-url";

/**
 * How a Managed HSM gets at the backup container. By default the HSM uses its own managed identity and no
 * secret exists at all. When a SAS is configured, it is minted here, inside the activity that hands it to
 * the HSM, and lives only in that request: never in orchestration input, output, custom status or logs.
 */
export type HsmSasMode = "managedIdentity" | "userDelegationSas" | "accountSas";

export const HSM_SAS_MODES: readonly HsmSasMode[] = ["managedIdentity", "userDelegationSas", "accountSas"];

export interface HsmStorageAccess {
  readonly mode: HsmSasMode;
  /** For POST /backup: the HSM creates a folder and writes blobs into the container. */
  forBackup(containerUrl: string): Promise<HsmStorageParameters>;
  /** For PUT /restore and selective key restore: the HSM lists and reads a folder. */
  forRestore(containerUrl: string): Promise<HsmStorageParameters>;
}

export interface HsmStorageAccessOptions {
  /** Default "managedIdentity". */
  readonly mode?: HsmSasMode;
  /** accountSas: a connection string holding the account key (Azurite's, locally). */
  readonly storage?: string;
  /** userDelegationSas: the identity that asks Blob Storage for a user delegation key (needs Storage Blob Delegator). */
  readonly credential?: TokenCredential;
  /** Lifetime of a minted SAS. The service wants a backup SAS valid for 24 hours from the request. */
  readonly sasValidityMs?: number;
  /** For tests. */
  readonly now?: () => Date;
}

export class HsmStorageAccessError extends Error {
  override readonly name = "HsmStorageAccessError";
}

/** 24 h, as the service asks for a backup token, plus a margin for the time the request takes. */
export const DEFAULT_HSM_SAS_VALIDITY_MS = 24 * 3600_000 + 15 * 60_000;
/** Start a little in the past: Blob Storage refuses a SAS whose start is ahead of its own clock. */
const CLOCK_SKEW_MS = 5 * 60_000;
// Backup writes a folder (the service may stage and rename, hence delete); restore only lists and reads.
const BACKUP_PERMISSIONS = "rcwdl";
const RESTORE_PERMISSIONS = "rl";

export function createHsmStorageAccess(options: HsmStorageAccessOptions = {}): HsmStorageAccess {
  const mode = options.mode ?? "managedIdentity";
  const validity = options.sasValidityMs ?? DEFAULT_HSM_SAS_VALIDITY_MS;
  const now = options.now ?? (() => new Date());

  if (mode === "managedIdentity") {
    const params = async (containerUrl: string): Promise<HsmStorageParameters> => ({
      storageResourceUri: requireContainer(containerUrl).containerUrl,
      useManagedIdentity: true,
    });
    return { mode, forBackup: params, forRestore: params };
  }

  if (mode === "accountSas") {
    const key = sharedKeyFrom(options.storage);
    const mint = async (containerUrl: string, permissions: string): Promise<HsmStorageParameters> => {
      const container = requireContainer(containerUrl);
      if (container.accountName !== key.accountName) {
        throw new HsmStorageAccessError(
          `the container's account (${container.accountName}) is not the account of the configured connection string (${key.accountName})`,
        );
      }
      const token = generateBlobSASQueryParameters(sasValues(container, permissions, now(), validity), key).toString();
      return { storageResourceUri: container.containerUrl, token };
    };
    return { mode, forBackup: (u) => mint(u, BACKUP_PERMISSIONS), forRestore: (u) => mint(u, RESTORE_PERMISSIONS) };
  }

  const credential = options.credential;
  if (!credential) throw new HsmStorageAccessError("userDelegationSas needs a credential (the app's managed identity in Azure)");
  const services = new Map<string, BlobServiceClient>();
  const mint = async (containerUrl: string, permissions: string): Promise<HsmStorageParameters> => {
    const container = requireContainer(containerUrl);
    let service = services.get(container.accountUrl);
    if (!service) {
      service = new BlobServiceClient(container.accountUrl, credential);
      services.set(container.accountUrl, service);
    }
    const values = sasValues(container, permissions, now(), validity);
    // Signed by Entra ID rather than the account key: revocable, and tied to the identity that asked.
    const delegationKey = await service.getUserDelegationKey(values.startsOn!, values.expiresOn!);
    const token = generateBlobSASQueryParameters(values, delegationKey, container.accountName).toString();
    return { storageResourceUri: container.containerUrl, token };
  };
  return { mode, forBackup: (u) => mint(u, BACKUP_PERMISSIONS), forRestore: (u) => mint(u, RESTORE_PERMISSIONS) };
}

export function parseHsmSasMode(value: string | undefined): HsmSasMode | undefined {
  if (value === undefined || value === "") return undefined;
  const mode = HSM_SAS_MODES.find((m) => m.toLowerCase() === value.trim().toLowerCase());
  if (!mode) throw new HsmStorageAccessError(`unknown SAS mode "${value.slice(0, 40)}": use ${HSM_SAS_MODES.join(", ")}`);
  return mode;
}

// ------------------------------------------------------------------ URLs

export interface ContainerLocation {
  /** Without query or trailing slash. */
  readonly containerUrl: string;
  readonly accountUrl: string;
  readonly accountName: string;
  readonly containerName: string;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

/**
 * A blob container URL, either host-style (`https://<account>.blob.core.windows.net/<container>`) or, for
 * loopback hosts (Azurite), path-style (`http://127.0.0.1:10000/<account>/<container>`). Returns the reason
 * it is refused, or the parts.
 */
export function parseContainerUrl(value: string): ContainerLocation | string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL";
  }
  const loopback = LOOPBACK.has(url.hostname.toLowerCase());
  if (url.protocol !== "https:" && !(loopback && url.protocol === "http:")) return "must use https://";
  if (url.username || url.password) return "must not contain user information";
  if (url.search || url.hash) return "must not have a query: no SAS here (one is minted when configured)";
  const segments = url.pathname.split("/").filter(Boolean);
  const expected = loopback ? 2 : 1;
  if (segments.length !== expected) {
    return loopback
      ? "must be a container URL: http://127.0.0.1:<port>/<account>/<container>"
      : "must be a container URL: https://<account>.blob.core.windows.net/<container>";
  }
  const containerName = segments[expected - 1]!;
  if (!isContainerName(containerName)) return `names an invalid container "${containerName.slice(0, 70)}"`;
  const accountName = loopback ? segments[0]! : url.hostname.split(".")[0]!;
  const accountUrl = loopback ? `${url.origin}/${accountName}` : url.origin;
  return { containerUrl: `${accountUrl}/${containerName}`, accountUrl, accountName, containerName };
}

/** A backup folder URL (`<container URL>/<folder>`) split in two; a string is the reason it is refused. */
export function splitFolderUrl(value: string): { container: ContainerLocation; folderName: string } | string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "is not a URL";
  }
  if (url.search || url.hash) return "must not have a query: no SAS here (one is minted when configured)";
  const path = url.pathname.replace(/\/+$/, "");
  const cut = path.lastIndexOf("/");
  const folderName = decodeURIComponent(path.slice(cut + 1));
  if (cut <= 0 || !/^[A-Za-z0-9._-]{1,200}$/.test(folderName)) return "must be a backup folder URL: <container URL>/mhsm-<name>-<time>";
  const container = parseContainerUrl(`${url.origin}${path.slice(0, cut)}`);
  if (typeof container === "string") return `must be a backup folder URL inside a container (the container URL ${container})`;
  return { container, folderName };
}


/** Defence in depth for text that came back from a service: any SAS signature in it is blanked. */
export function scrubSas(text: string): string {
  return text.replace(/([?&]|\b)(sig=)[^&\s"'<>]+/gi, "$1$2REDACTED");
}

function requireContainer(containerUrl: string): ContainerLocation {
  const parsed = parseContainerUrl(containerUrl);
  if (typeof parsed === "string") throw new HsmStorageAccessError(`container URL "${redactUrl(containerUrl).slice(0, 200)}" ${parsed}`);
  return parsed;
}

function sasValues(container: ContainerLocation, permissions: string, now: Date, validityMs: number): BlobSASSignatureValues {
  return {
    containerName: container.containerName,
    permissions: ContainerSASPermissions.parse(permissions),
    startsOn: new Date(now.getTime() - CLOCK_SKEW_MS),
    expiresOn: new Date(now.getTime() + validityMs),
    // Azurite is plain http on loopback; anything else is https only.
    protocol: container.containerUrl.startsWith("https:") ? SASProtocol.Https : SASProtocol.HttpsAndHttp,
  };
}

/** AccountName and AccountKey of a connection string; never echoes the string (it holds the key). */
function sharedKeyFrom(storage: string | undefined): StorageSharedKeyCredential {
  if (!storage) throw new HsmStorageAccessError("accountSas needs a storage connection string with an AccountKey");
  const account = accountKeyOf(storage);
  if (!account) throw new HsmStorageAccessError("accountSas needs a storage connection string with AccountName and AccountKey");
  return new StorageSharedKeyCredential(account.name, account.key);
}
