import type {
  Activities,
  GetHsmJobStatusInput,
  HsmJobStatus,
  StartHsmBackupInput,
  StartHsmRestoreInput,
} from "../src/contracts";
import { ObjectConflictError, toKeyVaultError } from "../src/keyvault/errors";
import type { HsmClientFactory, HsmOperation } from "../src/keyvault/hsm-admin-client";
import {
  HsmStorageAccessError,
  parseContainerUrl,
  scrubSas,
  splitFolderUrl,
  type HsmStorageAccess,
} from "../src/storage/hsm-storage-access";
import { isKeyName } from "../src/names";
import { redactUrl } from "../src/util/redact-url";
import type { ActivityInvocation, ActivityLogger } from "./logging";

/**
 * Managed HSM activities: each makes one call to the HSM and returns the job as the service sees it. They
 * throw when the request itself fails (the orchestrator's retry policy takes over); a job the service reports
 * as Failed is a normal answer, returned as status for the orchestrator to judge.
 *
 * The storage token (if any) is minted in here and goes only into the request to the HSM: what these return
 * travels through orchestration history, so it carries URLs without query and scrubbed messages.
 */
export interface HsmActivityDeps {
  readonly hsmClients: HsmClientFactory;
  readonly storageAccess: HsmStorageAccess;
  /** Used when an invocation brings no logger of its own. */
  readonly log?: ActivityLogger;
}

export class InvalidHsmRequestError extends Error {
  override readonly name = "InvalidHsmRequestError";
}

/** 409 to a start: the HSM runs one backup or restore at a time and another one is running. Worth waiting for. */
export class HsmBusyError extends Error {
  override readonly name = "HsmBusyError";
}

/** The Managed HSM activities, as their contracts (src/contracts.ts) name them. */
export type HsmActivities = Pick<Activities<ActivityInvocation>, "startHsmBackup" | "startHsmRestore" | "getHsmJobStatus">;

export function createHsmActivities(deps: HsmActivityDeps): HsmActivities {
  const { hsmClients, storageAccess } = deps;
  const logFor = (invocation: ActivityInvocation | undefined): ActivityLogger => invocation?.logger ?? deps.log ?? (() => {});

  async function startHsmBackup(input: StartHsmBackupInput, invocation?: ActivityInvocation): Promise<HsmJobStatus> {
    const container = parseContainerUrl(input.containerUrl);
    if (typeof container === "string") throw new InvalidHsmRequestError(`containerUrl ${container}`);
    const op = await call(async () => {
      const storage = await storageAccess.forBackup(container.containerUrl);
      return hsmClients(input.hsmUrl).beginFullBackup(storage);
    });
    const status = toJobStatus("backup", op);
    logFor(invocation)({ event: "hsmBackupStarted", jobId: input.jobId ?? op.jobId, hsmUrl: input.hsmUrl, hsmJobId: op.jobId, storageAccess: storageAccess.mode });
    return status;
  }

  async function startHsmRestore(input: StartHsmRestoreInput, invocation?: ActivityInvocation): Promise<HsmJobStatus> {
    const folder = splitFolderUrl(input.folderUrl);
    if (typeof folder === "string") throw new InvalidHsmRequestError(`folderUrl ${folder}`);
    if (input.keyName !== undefined && !isKeyName(input.keyName)) {
      throw new InvalidHsmRequestError(`keyName "${input.keyName.slice(0, 130)}" is not a valid key name`);
    }
    const client = hsmClients(input.hsmUrl);
    const op = await call(async () => {
      const storage = await storageAccess.forRestore(folder.container.containerUrl);
      return input.keyName === undefined
        ? client.beginFullRestore(storage, folder.folderName)
        : client.beginSelectiveKeyRestore(input.keyName, storage, folder.folderName);
    });
    const operation = input.keyName === undefined ? "restore" : "selectiveRestore";
    logFor(invocation)({ event: "hsmRestoreStarted", jobId: input.jobId ?? op.jobId, hsmUrl: input.hsmUrl, hsmJobId: op.jobId, operation, keyName: input.keyName });
    return toJobStatus(operation, op);
  }

  async function getHsmJobStatus(input: GetHsmJobStatusInput): Promise<HsmJobStatus> {
    const client = hsmClients(input.hsmUrl);
    const op = await call(() => (input.operation === "backup" ? client.getBackupStatus(input.jobId) : client.getRestoreStatus(input.jobId)));
    return toJobStatus(input.operation, op);
  }

  return { startHsmBackup, startHsmRestore, getHsmJobStatus } satisfies HsmActivities;
}

/**
 * Request failures become named Key Vault errors, with any SAS blanked from the message (it lands in
 * history). Their cause is a scrubbed copy of the original: the original's request carries the token.
 */
async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof HsmStorageAccessError || error instanceof InvalidHsmRequestError) throw error;
    const kv = toKeyVaultError(error);
    kv.message = scrubSas(kv.message);
    const original = (error ?? {}) as { name?: unknown; message?: unknown; statusCode?: unknown; code?: unknown };
    const scrubbed = Object.assign(new Error(scrubSas(String(original.message ?? error))), {
      name: typeof original.name === "string" ? original.name : "Error",
      ...(typeof original.statusCode === "number" ? { statusCode: original.statusCode } : {}),
      ...(typeof original.code === "string" ? { code: original.code } : {}),
    });
    Object.defineProperty(kv, "cause", { value: scrubbed, configurable: true, writable: true });
    if (kv instanceof ObjectConflictError) throw new HsmBusyError(kv.message, { cause: kv });
    throw kv;
  }
}

export function toJobStatus(operation: HsmJobStatus["operation"], op: HsmOperation): HsmJobStatus {
  return {
    operation,
    jobId: op.jobId,
    status: op.status,
    ...(op.statusDetails !== undefined ? { statusDetails: scrubSas(op.statusDetails) } : {}),
    ...(op.error ? { error: { code: op.error.code, message: scrubSas(op.error.message) } } : {}),
    ...(op.startTime ? { startTime: op.startTime } : {}),
    ...(op.endTime ? { endTime: op.endTime } : {}),
    ...(operation === "backup" && op.azureStorageBlobContainerUri ? { folderUrl: redactUrl(op.azureStorageBlobContainerUri) } : {}),
    ...(op.retryAfterSeconds !== undefined ? { retryAfterSeconds: op.retryAfterSeconds } : {}),
  };
}
