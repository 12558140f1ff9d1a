import type { CertificateClient } from "@azure/keyvault-certificates";
import type { KeyClient } from "@azure/keyvault-keys";
import type { SecretClient } from "@azure/keyvault-secrets";
import type { ObjectKind } from "../contracts";
import { PromiseCache } from "../util/promise-cache";
import type { KeyVaultCallStats, VaultConnection, VaultConnections } from "./clients";
import { ObjectNotFoundError, toKeyVaultError } from "./errors";

/**
 * One kind of object of one vault (keys, secrets or certificates) as the jobs use it: list the objects
 * with their properties, list one object's versions, back it up, restore a backup, and tell who holds a
 * name. Each kind has its implementation over its official client; the pipeline above (inventory,
 * batches, manifest, restore plan) is the same for every kind. The Managed HSM per-key flow is the keys
 * adapter on an HSM's URL.
 *
 * Every method answers in the vault's own terms or throws a named error of ./errors (never a raw SDK
 * error). None reads a secret's value: listings, metadata and backup only (see the secrets adapter).
 */
export interface ObjectKindAdapter {
  readonly kind: ObjectKind;
  readonly vaultUrl: string;
  /** The live objects, a page at a time, with what the list gives of each. */
  listObjects(): AsyncIterable<readonly ListedObject[]>;
  /** Names of the soft-deleted objects, a page at a time. */
  listDeletedNames(): AsyncIterable<readonly string[]>;
  /** An object's versions (none for a name without a live object). */
  listVersions(name: string): Promise<ObjectVersion[]>;
  /** The object's backup (every version), and when the vault served it. */
  backup(name: string): Promise<ServedBackup>;
  /** Restores a backup this kind's backup made. */
  restore(backup: Uint8Array): Promise<void>;
  /** The live object of that name (its latest update time), or undefined when there is none. */
  getActive(name: string): Promise<{ readonly updatedOn?: Date } | undefined>;
  /** Whether a soft-deleted object holds the name. */
  isDeleted(name: string): Promise<boolean>;
  /**
   * Settles the client's authentication challenge once, before requests with a body go out in parallel
   * (see settleChallenge below); a failed attempt is not remembered.
   */
  settleChallenge(): Promise<void>;
}

export interface ListedObject {
  readonly name: string;
  /** Made and kept by a certificate (its key or its secret): backed up and restored with the certificate. */
  readonly managed: boolean;
  /** The latest version's update time, as the list gives it. */
  readonly updatedOn?: Date;
}

export interface ObjectVersion {
  readonly version: string;
  readonly createdOn?: Date;
  readonly updatedOn?: Date;
}

export interface ServedBackup {
  readonly backup: Uint8Array | undefined;
  /** The answer's Date header: the vault's clock, like the objects' update times. */
  readonly servedAt?: string;
}

/** The objects of one vault, kind by kind, sharing the vault's one connection (and its pacing budget). */
export interface VaultObjects {
  readonly vaultUrl: string;
  of(kind: ObjectKind): ObjectKindAdapter;
  /**
   * Operations the pacing budget of this vault would let go right now (Infinity without pacing): lets
   * optional work use budget that would otherwise go unused, without delaying the main work.
   */
  spareBudget(): number;
}

/** What the activities are given: the objects of a vault, by its URL. */
export interface VaultObjectsFactory {
  (vaultUrl: string): VaultObjects;
  /** Counters over every client of every vault (absent on test doubles). */
  readonly stats?: () => KeyVaultCallStats;
}

const PAGE = 25;

/** The adapters of a set of connections: one per vault and kind, made on first use and kept. */
export function vaultObjectsOf(connections: VaultConnections): VaultObjectsFactory {
  const byConnection = new WeakMap<VaultConnection, VaultObjects>();
  const factory = (vaultUrl: string): VaultObjects => {
    const connection = connections.get(vaultUrl);
    let objects = byConnection.get(connection);
    if (!objects) {
      const adapters = new Map<ObjectKind, ObjectKindAdapter>();
      objects = {
        vaultUrl: connection.vaultUrl,
        of: (kind) => {
          let adapter = adapters.get(kind);
          if (!adapter) adapters.set(kind, (adapter = makeAdapter(connection, kind)));
          return adapter;
        },
        spareBudget: () => connection.spareBudget(),
      };
      byConnection.set(connection, objects);
    }
    return objects;
  };
  return Object.assign(factory, { stats: () => connections.stats() });
}

function makeAdapter(connection: VaultConnection, kind: ObjectKind): ObjectKindAdapter {
  switch (kind) {
    case "key":
      return keysAdapter(connection.keys());
    case "secret":
      return secretsAdapter(connection.secrets());
    case "certificate":
      return certificatesAdapter(connection.certificates());
  }
}

/** The keys of a vault (or of a Managed HSM) over the official KeyClient. */
export function keysAdapter(client: KeyClient): ObjectKindAdapter {
  return {
    kind: "key",
    vaultUrl: client.vaultUrl,
    listObjects: () =>
      pages(client.listPropertiesOfKeys().byPage({ maxPageSize: PAGE }), (k) => ({ name: k.name, managed: k.managed === true, updatedOn: k.updatedOn })),
    listDeletedNames: () => pages(client.listDeletedKeys().byPage({ maxPageSize: PAGE }), (k) => k.name),
    listVersions: (name) =>
      collect(client.listPropertiesOfKeyVersions(name).byPage({ maxPageSize: PAGE }), (v) => ({ version: v.version ?? "", createdOn: v.createdOn, updatedOn: v.updatedOn })),
    backup: (name) => vaultCall(() => served((onResponse) => client.backupKey(name, { onResponse }))),
    restore: async (backup) => void (await vaultCall(() => client.restoreKeyBackup(backup))),
    getActive: (name) => orUndefined(async () => ({ updatedOn: (await client.getKey(name)).properties.updatedOn })),
    isDeleted: async (name) => (await orUndefined(() => client.getDeletedKey(name))) !== undefined,
    settleChallenge: challengeOnce(() => client.listPropertiesOfKeys().byPage({ maxPageSize: 1 }).next()),
  };
}

/**
 * The secrets of a vault over the official SecretClient, without ever reading a value: the calls are the
 * secret list and version list (which carry no values), backup and restore. Get Secret and Get Deleted
 * Secret need the secrets/get permission (the value's), so neither is called: a live secret is told by
 * its versions, a soft-deleted one by the list of deleted secrets (only where a restore met a conflict it
 * must explain; the plan lists them once for every name).
 */
export function secretsAdapter(client: SecretClient): ObjectKindAdapter {
  const listVersions = (name: string) =>
    collect(client.listPropertiesOfSecretVersions(name).byPage({ maxPageSize: PAGE }), (v) => ({ version: v.version ?? "", createdOn: v.createdOn, updatedOn: v.updatedOn }));
  const listDeletedNames = () => pages(client.listDeletedSecrets().byPage({ maxPageSize: PAGE }), (s) => s.properties.name);
  return {
    kind: "secret",
    vaultUrl: client.vaultUrl,
    listObjects: () =>
      pages(client.listPropertiesOfSecrets().byPage({ maxPageSize: PAGE }), (s) => ({ name: s.name, managed: s.managed === true, updatedOn: s.updatedOn })),
    listDeletedNames,
    listVersions,
    backup: (name) => vaultCall(() => served((onResponse) => client.backupSecret(name, { onResponse }))),
    restore: async (backup) => void (await vaultCall(() => client.restoreSecretBackup(backup))),
    getActive: async (name) => {
      const versions = await listVersions(name);
      if (versions.length === 0) return undefined;
      const latest = versions.reduce((a, b) => ((b.createdOn?.getTime() ?? 0) >= (a.createdOn?.getTime() ?? 0) ? b : a));
      return { ...(latest.updatedOn ? { updatedOn: latest.updatedOn } : {}) };
    },
    isDeleted: async (name) => {
      const wanted = name.toLowerCase();
      for await (const page of listDeletedNames()) if (page.some((n) => n.toLowerCase() === wanted)) return true;
      return false;
    },
    settleChallenge: challengeOnce(() => client.listPropertiesOfSecrets().byPage({ maxPageSize: 1 }).next()),
  };
}

/** The certificates of a vault over the official CertificateClient; a certificate's backup holds its key and secret. */
export function certificatesAdapter(client: CertificateClient): ObjectKindAdapter {
  return {
    kind: "certificate",
    vaultUrl: client.vaultUrl,
    listObjects: () =>
      pages(client.listPropertiesOfCertificates().byPage({ maxPageSize: PAGE }), (c) => ({ name: c.name ?? "", managed: false, updatedOn: c.updatedOn })),
    listDeletedNames: () => pages(client.listDeletedCertificates().byPage({ maxPageSize: PAGE }), (c) => c.name),
    listVersions: (name) =>
      collect(client.listPropertiesOfCertificateVersions(name).byPage({ maxPageSize: PAGE }), (v) => ({ version: v.version ?? "", createdOn: v.createdOn, updatedOn: v.updatedOn })),
    backup: (name) => vaultCall(() => served((onResponse) => client.backupCertificate(name, { onResponse }))),
    restore: async (backup) => void (await vaultCall(() => client.restoreCertificateBackup(backup))),
    getActive: (name) => orUndefined(async () => ({ updatedOn: (await client.getCertificate(name)).properties.updatedOn })),
    isDeleted: async (name) => (await orUndefined(() => client.getDeletedCertificate(name))) !== undefined,
    settleChallenge: challengeOnce(() => client.listPropertiesOfCertificates().byPage({ maxPageSize: 1 }).next()),
  };
}

// ---------------------------------------------------------------- shared by the adapters

type OnResponse = (response: { headers: { get(name: string): string | undefined } }) => void;

/** A backup call, and when the vault served it (its Date header). */
export async function served(call: (onResponse: OnResponse) => Promise<Uint8Array | undefined>): Promise<ServedBackup> {
  let servedAt: string | undefined;
  const backup = await call((response) => {
    const date = Date.parse(response.headers.get("date") ?? "");
    servedAt = Number.isNaN(date) ? undefined : new Date(date).toISOString();
  });
  return { backup, servedAt };
}

/** A call whose failure becomes a named error. */
export async function vaultCall<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw toKeyVaultError(error);
  }
}

/** A read whose 404 means "none". */
export async function orUndefined<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch (error) {
    const named = toKeyVaultError(error);
    if (named instanceof ObjectNotFoundError) return undefined;
    throw named;
  }
}

/** SDK pages mapped item by item; a failure while paging becomes a named error. */
export async function* pages<T, U>(source: AsyncIterable<T[]>, map: (item: T) => U): AsyncIterable<U[]> {
  try {
    for await (const page of source) yield page.map(map);
  } catch (error) {
    throw toKeyVaultError(error);
  }
}

export async function collect<T, U>(source: AsyncIterable<T[]>, map: (item: T) => U): Promise<U[]> {
  const all: U[] = [];
  for await (const page of pages(source, map)) all.push(...page);
  return all;
}

/**
 * Key Vault's authentication challenge, done once per client before requests with a body go out in parallel.
 *
 * The challenge policy of @azure/keyvault-common (2.1.0) sends a client's first request without its body,
 * expecting the 401 challenge, and puts the body back when that 401 comes in, but only while the challenge
 * is still "started". When another request of the same client, sent meanwhile, gets its 401 first and
 * completes the challenge, the first request is sent again with a token and without its body, and the vault
 * refuses it (400 "The request body must be a JSON object."). A process whose first calls to a vault are
 * parallel restores meets exactly this: a restore batch resumed after a crash, or run on a fresh Functions
 * worker. One request without a body first (a one-item listing) settles the challenge.
 */
export function challengeOnce(firstRequest: () => Promise<unknown>): () => Promise<void> {
  const settled = PromiseCache.bounded<string, void>(1);
  return () => settled.get("challenge", () => vaultCall(async () => void (await firstRequest())));
}
