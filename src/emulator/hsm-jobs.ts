/**
 * The Managed HSM's own routes: full backup, full restore, selective key restore, their "pre" checks and
 * the pending-status routes (backuprestore.json, api-version 2025-07-01). Each start answers 202 at once;
 * the job then runs for a configurable time and ends Succeeded or Failed, as the service's does. Problems
 * with storage (missing container, refused token, missing folder) fail the job, never the request.
 *
 * A backup is a real folder `mhsm-<name>-<YYYYMMDDHHmmss>` written through the blob API: `keys.bin` (every
 * key, version, attribute and tag, live and soft-deleted, sealed with the emulator's backup cipher, so only
 * an emulator of the same "security domain" can read it) and `backup.json` (plain metadata, written last).
 */
import { randomBytes } from "node:crypto";
import { AnonymousCredential, ContainerClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { CancellableSleeps } from "../util/cancellable-sleeps";
import { redactUrl } from "../util/redact-url";
import type { BackupCipher } from "./backup-cipher";
import type { KeyStore, KeyVersion, StoredKey } from "./key-store";
import {
  JobFailure,
  KEYS_FORMAT,
  parseBackup,
  parseStorage,
  safeJson,
  sharedKeyCredential,
  storageCall,
  toFailure,
  view,
  type BackupContent,
  type Job,
  type JobKind,
  type StorageParams,
} from "./hsm-job-parts";
import { isObject, requireObject } from "./service-common";
import { ServiceError, badParameter, checkName, type RequestContext } from "./vault-service";
import type { ExtensionReply, ListenerExtension } from "./vault-listener";

export interface HsmJobsOptions {
  /** Names the backup folders: mhsm-<name>-<time>. */
  readonly name: string;
  readonly store: KeyStore;
  readonly cipher: BackupCipher;
  /** How long a job stays InProgress (at least as long as its storage work takes). */
  readonly jobDurationMs: number;
  /** Sent as Retry-After with every 202. */
  readonly retryAfterSeconds: number;
  /**
   * Used when a request asks for useManagedIdentity: the storage the HSM's "identity" may reach. Without it,
   * such jobs fail as they would on an HSM whose identity has no access.
   */
  readonly storageConnectionString?: string;
}

const KEYS_BLOB = "keys.bin";
const META_BLOB = "backup.json";
const META_FORMAT = "kvbackup-emulator-hsm-backup/1";
/** Fail fast on a refused or unreachable storage: the job's failure is the answer, not a long retry. */
const STORAGE_OPTIONS: StoragePipelineOptions = {
  retryOptions: { maxTries: 2, retryDelayInMs: 200, maxRetryDelayInMs: 500, tryTimeoutInMs: 15_000 },
};

const DETAILS: Record<JobKind, { running: string; done: string }> = {
  backup: { running: "Full backup is in progress", done: "Full backup completed" },
  prebackup: { running: "Pre Full backup is in progress", done: "Pre Full backup check passed" },
  restore: { running: "Full restore is in progress", done: "Full restore completed" },
  selectiveRestore: { running: "Selective Key restore is in progress", done: "Selective Key restore completed" },
  prerestore: { running: "Pre Full restore operation is in progress", done: "Pre Full restore check passed" },
};

const nowSeconds = (): number => Math.floor(Date.now() / 1000);

export class HsmJobs implements ListenerExtension {
  private readonly backupJobs = new Map<string, Job>();
  private readonly restoreJobs = new Map<string, Job>();
  private active: Job | undefined;
  private lastFolderSecond = 0;
  private stopped = false;
  private readonly sleeps = new CancellableSleeps();
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly opts: HsmJobsOptions) {}

  route(method: string, segments: readonly string[]): { op: string; run(ctx: RequestContext): Promise<ExtensionReply> } | undefined {
    const [first, second, third] = segments;
    const n = segments.length;
    const only = (allowed: string, op: string, run: (ctx: RequestContext) => Promise<ExtensionReply>) => ({
      op,
      run: async (ctx: RequestContext) => {
        if (method !== allowed) throw new ServiceError(405, "MethodNotAllowed", `Method ${method} is not allowed on /${segments.join("/")}.`);
        return run(ctx);
      },
    });
    if (n === 1 && first === "backup") return only("POST", "fullBackup", (ctx) => this.startBackup(ctx, "backup"));
    if (n === 1 && first === "prebackup") return only("POST", "preFullBackup", (ctx) => this.startBackup(ctx, "prebackup"));
    if (n === 1 && first === "restore") return only("PUT", "fullRestore", (ctx) => this.startRestore(ctx, "restore"));
    if (n === 1 && first === "prerestore") return only("PUT", "preFullRestore", (ctx) => this.startRestore(ctx, "prerestore"));
    if (n === 3 && first === "keys" && third === "restore" && method === "PUT") {
      return only("PUT", "selectiveKeyRestore", (ctx) => this.startRestore(ctx, "selectiveRestore", second!));
    }
    if (n === 3 && (first === "backup" || first === "restore") && third === "pending") {
      const jobs = first === "backup" ? this.backupJobs : this.restoreJobs;
      return only("GET", first === "backup" ? "fullBackupStatus" : "restoreStatus", async () => {
        const job = jobs.get(second!);
        if (!job) throw new ServiceError(404, "NotFound", `No ${first} operation with job id ${second} was found.`);
        return { status: 200, body: view(job) };
      });
    }
    return undefined;
  }

  /** Ends the jobs' waits; their results are dropped. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeps.cancelAll();
    await Promise.allSettled([...this.running]);
  }

  // ------------------------------------------------------------------ starts

  private async startBackup(ctx: RequestContext, kind: "backup" | "prebackup"): Promise<ExtensionReply> {
    const storage = parseStorage(requireObject(ctx.body), "");
    this.checkIdle();
    const folderUrl = kind === "backup" ? `${storage.storageResourceUri.replace(/\/+$/, "")}/${this.nextFolderName()}` : undefined;
    // The backup is of the state at the moment it was accepted, like a snapshot.
    const snapshot = kind === "backup" ? this.snapshot() : undefined;
    const job = this.newJob(kind, folderUrl);
    this.backupJobs.set(job.id, job);
    this.launch(job, async () => {
      const container = this.containerClient(storage);
      if (kind === "prebackup") {
        await storageCall(storage, () => container.listBlobsFlat().byPage({ maxPageSize: 1 }).next());
        return undefined;
      }
      const folder = folderUrl!.slice(folderUrl!.lastIndexOf("/") + 1);
      const keysBlob = Buffer.from(this.opts.cipher.seal({ format: KEYS_FORMAT, ...snapshot! }), "utf8");
      await storageCall(storage, () => container.getBlockBlobClient(`${folder}/${KEYS_BLOB}`).uploadData(keysBlob));
      const meta = {
        format: META_FORMAT,
        hsm: this.opts.name,
        createdAt: new Date(job.startTime * 1000).toISOString(),
        keys: snapshot!.live.length,
        deletedKeys: snapshot!.deleted.length,
        versions: snapshot!.live.reduce((sum, k) => sum + k.versions.length, 0),
      };
      // Written last: a folder without it is an unfinished backup.
      await storageCall(storage, () =>
        container.getBlockBlobClient(`${folder}/${META_BLOB}`).uploadData(Buffer.from(JSON.stringify(meta, null, 2)), {
          blobHTTPHeaders: { blobContentType: "application/json" },
        }),
      );
      return undefined;
    });
    return this.accepted(ctx, "backup", job);
  }

  private async startRestore(ctx: RequestContext, kind: "restore" | "selectiveRestore" | "prerestore", keyName?: string): Promise<ExtensionReply> {
    if (keyName !== undefined) checkName(keyName);
    const body = requireObject(ctx.body);
    const params = body["sasTokenParameters"];
    if (typeof params !== "object" || params === null || Array.isArray(params)) {
      throw badParameter("The 'sasTokenParameters' property is required.");
    }
    const storage = parseStorage(params as Record<string, unknown>, "sasTokenParameters.");
    // Selective restore names the folder `folder`; full restore and pre-restore `folderToRestore`.
    const folderField = kind === "selectiveRestore" ? "folder" : "folderToRestore";
    const folder = body[folderField];
    if (typeof folder !== "string" || !/^[A-Za-z0-9._-]{1,200}$/.test(folder)) {
      throw badParameter(`The '${folderField}' property (the backup folder name) is required.`);
    }
    this.checkIdle();
    const job = this.newJob(kind);
    this.restoreJobs.set(job.id, job);
    this.launch(job, async () => {
      const container = this.containerClient(storage);
      const backup = await this.readBackup(container, storage, folder);
      if (kind === "prerestore") return undefined;
      if (kind === "restore") return () => this.replaceAll(backup);
      const key = backup.live.find((k) => k.name.toLowerCase() === keyName!.toLowerCase());
      if (!key) throw new JobFailure("KeyNotFound", `Key ${keyName} is not in backup ${folder}.`);
      return async () => {
        // A purge (or delete, recover) of the name still under way: the service-side job takes its time.
        await this.sleeps.sleep(this.opts.store.settlesIn(key.name));
        if (!this.stopped) this.restoreOne(key);
      };
    });
    return this.accepted(ctx, "restore", job);
  }

  private checkIdle(): void {
    if (this.active) {
      throw new ServiceError(
        409,
        "Conflict",
        `Another backup or restore operation (job ${this.active.id}) is in progress on this HSM. Only one can run at a time; retry when it has finished.`,
      );
    }
  }

  private newJob(kind: JobKind, folderUrl?: string): Job {
    return {
      id: randomBytes(16).toString("hex"),
      kind,
      status: "InProgress",
      statusDetails: DETAILS[kind].running,
      startTime: nowSeconds(),
      ...(folderUrl ? { folderUrl } : {}),
    };
  }

  private accepted(ctx: RequestContext, path: "backup" | "restore", job: Job): ExtensionReply {
    return {
      status: 202,
      body: view(job),
      headers: {
        "Azure-AsyncOperation": `${ctx.baseUrl}/${path}/${job.id}/pending`,
        "Retry-After": String(this.opts.retryAfterSeconds),
      },
    };
  }

  /**
   * Runs the job's storage work now, then waits out the configured duration before the outcome shows (and,
   * for a restore, before the keys change), so callers really see InProgress first.
   */
  private launch(job: Job, work: () => Promise<(() => void | Promise<void>) | undefined>): void {
    this.active = job;
    const finishAt = Date.now() + this.opts.jobDurationMs;
    const run = (async () => {
      let commit: (() => void | Promise<void>) | undefined;
      let failure: { code: string; message: string } | undefined;
      try {
        commit = await work();
      } catch (error) {
        failure = toFailure(error);
      }
      await this.sleeps.sleep(finishAt - Date.now());
      if (this.stopped) return;
      if (!failure && commit) {
        try {
          await commit();
        } catch (error) {
          failure = toFailure(error);
        }
      }
      job.endTime = nowSeconds();
      if (failure) {
        job.status = "Failed";
        job.error = failure;
        job.statusDetails = failure.message;
      } else {
        job.status = "Succeeded";
        job.statusDetails = DETAILS[job.kind].done;
      }
    })().finally(() => {
      if (this.active === job) this.active = undefined;
      this.running.delete(run);
    });
    this.running.add(run);
  }

  // ------------------------------------------------------------------ storage

  private containerClient(storage: StorageParams): ContainerClient {
    const uri = storage.storageResourceUri.replace(/\/+$/, "");
    if (storage.token !== undefined) {
      return new ContainerClient(`${uri}?${storage.token.replace(/^\?/, "")}`, new AnonymousCredential(), STORAGE_OPTIONS);
    }
    // useManagedIdentity: the emulator stands in for the HSM's identity with the configured account key.
    const credential = sharedKeyCredential(this.opts.storageConnectionString);
    if (!credential) {
      throw new JobFailure(
        "ManagedIdentityNotConfigured",
        "The HSM has no managed identity with access to the storage account (start the emulator with hsm.storageConnectionString).",
      );
    }
    return new ContainerClient(uri, credential, STORAGE_OPTIONS);
  }

  private async readBackup(container: ContainerClient, storage: StorageParams, folder: string): Promise<BackupContent> {
    let metaText: string;
    try {
      metaText = (await storageCall(storage, () => container.getBlobClient(`${folder}/${META_BLOB}`).downloadToBuffer())).toString("utf8");
    } catch (error) {
      if (error instanceof JobFailure && error.code === "BlobNotFound") {
        throw new JobFailure("BackupNotFound", `No complete backup was found in folder ${folder} of ${redactUrl(storage.storageResourceUri)}.`);
      }
      throw error;
    }
    const meta = safeJson(metaText);
    if (!isObject(meta) || meta["format"] !== META_FORMAT) {
      throw new JobFailure("InvalidBackup", `Folder ${folder} does not hold a Managed HSM backup.`);
    }
    const sealed = (await storageCall(storage, () => container.getBlobClient(`${folder}/${KEYS_BLOB}`).downloadToBuffer())).toString("utf8");
    const content = parseBackup(this.opts.cipher.open(sealed));
    if (!content) {
      throw new JobFailure(
        "InvalidBackup",
        `The backup in folder ${folder} cannot be restored to this HSM: it is damaged or belongs to another security domain.`,
      );
    }
    return content;
  }

  // ------------------------------------------------------------------ key state

  private snapshot(): BackupContent {
    const copy = (k: StoredKey): StoredKey => JSON.parse(JSON.stringify(k)) as StoredKey;
    const store = this.opts.store;
    // A delete or recover under way is taken as finished: the backup holds the key in the state it is going to.
    const transit = store.transitKeys();
    return {
      live: [...store.liveNames().map((n) => store.getLive(n)!), ...transit.filter((t) => t.state === "recovering").map((t) => t.key)].map(copy),
      deleted: [...store.deletedNames().map((n) => store.getDeleted(n)!), ...transit.filter((t) => t.state === "deleting").map((t) => t.key)].map(copy),
    };
  }

  /** A full restore: the HSM's keys become exactly the backup's, live and soft-deleted. */
  private replaceAll(backup: BackupContent): void {
    const store = this.opts.store;
    for (const name of store.liveNames()) {
      store.softDelete(name, 0, 0);
      store.purge(name);
    }
    for (const name of store.deletedNames()) store.purge(name);
    store.clearTransit();
    for (const key of backup.live) store.insertLive(key, false);
    for (const key of backup.deleted) store.insertDeleted(key, false);
    store.onChange();
  }

  /** A selective restore: one key back with every version it had; versions made since are kept. */
  private restoreOne(key: StoredKey): void {
    const store = this.opts.store;
    if (store.getDeleted(key.name)) {
      throw new JobFailure(
        "Conflict",
        `Key ${key.name} is currently in a deleted but recoverable state; recover or purge it before restoring it.`,
      );
    }
    const live = store.getLive(key.name);
    if (!live) {
      store.insertLive(key);
      return;
    }
    const known = new Set(live.versions.map((v) => v.id));
    const missing: KeyVersion[] = key.versions.filter((v) => !known.has(v.id));
    if (missing.length === 0) return;
    // Restored versions go before the current ones: the key's current version stays current.
    live.versions.unshift(...missing);
    store.onChange();
  }

  /** mhsm-<name>-<YYYYMMDDHHmmss> in UTC; never the same second twice for this HSM. */
  private nextFolderName(): string {
    const second = Math.max(nowSeconds(), this.lastFolderSecond + 1);
    this.lastFolderSecond = second;
    const stamp = new Date(second * 1000).toISOString().replace(/[-:T]/g, "").slice(0, 14);
    return `mhsm-${this.opts.name}-${stamp}`;
  }
}
