import { randomBytes } from "node:crypto";
import type { HttpRequest, HttpResponseInit, InvocationContext } from "@azure/functions";
import type * as df from "durable-functions";
import { z } from "zod";
import { BackupSetReader } from "../../storage/backup-set-reader";
import type { KvBackupConfig } from "../../config";
import { httpJobId, normalizeEndpoint, targetKey, type TargetKind } from "../../jobs/ids";
import { hsmBackupInput, hsmRestoreInput, vaultBackupInput, vaultRestoreInput } from "../../jobs/inputs";
import { findStatus, isNotFound, startExclusive, type JobClient } from "../../jobs/starter";
import { ALL_STATES, JOB_TYPE_NAMES, JOB_TYPES, byNewest, isActiveState, jobTypeOf, toJobView, type JobType, type RuntimeState, type StatusLike } from "../../jobs/views";
import type { BackupStore } from "../../storage/backup-store";
import { InvalidBackupSetIdError } from "../../storage/errors";
import { errorResponse } from "../../error-responses";
import { parseBackupSetRef, vaultFolder } from "../../storage/backup-set";
import { listBackupSets } from "../../storage/catalog";
import { targetStatuses } from "../../jobs/status";
import { logLine, type LogRecord } from "../../monitoring/log-events";
import { KEY_NAME } from "../../names";
import { KIND_LIST_HELP, endpointSchema, globSchema, jobIdSchema, parseKinds, wholeNumberSchema } from "../../validation";
import { HttpError, fail, json, originOf, readBody, readQuery } from "./respond";

/**
 * The HTTP API, as plain functions of (request, durable client, context): the registration file only
 * binds them to routes, and tests call them with real HttpRequest objects and an in-memory client.
 */

export interface HttpDependencies {
  readonly config: KvBackupConfig;
  readonly store: BackupStore;
  /** Clock and randomness of job ids, replaceable in tests. */
  readonly now?: () => Date;
  readonly randomHex4?: () => string;
}

export type HttpHandler = (request: HttpRequest, client: JobClient, context: InvocationContext) => Promise<HttpResponseInit>;

export interface HttpHandlers {
  readonly startVaultBackup: HttpHandler;
  readonly startVaultRestore: HttpHandler;
  readonly startHsmBackup: HttpHandler;
  readonly startHsmRestore: HttpHandler;
  readonly getJob: HttpHandler;
  readonly listJobs: HttpHandler;
  readonly cancelJob: HttpHandler;
  readonly listBackupSets: HttpHandler;
  readonly status: HttpHandler;
}

export interface HttpFunctionSpec {
  /** Function name: distinct from every orchestrator and activity name of the app. */
  readonly name: string;
  /** Under the host's route prefix (`/api`). */
  readonly route: string;
  readonly methods: readonly ("GET" | "POST")[];
  readonly authLevel: "function";
  readonly handler: keyof HttpHandlers;
}

/** Every HTTP function of the app; all require a function key. */
export const HTTP_FUNCTIONS: readonly HttpFunctionSpec[] = [
  { name: "httpStartVaultBackup", route: "backups", methods: ["POST"], authLevel: "function", handler: "startVaultBackup" },
  { name: "httpStartVaultRestore", route: "restores", methods: ["POST"], authLevel: "function", handler: "startVaultRestore" },
  { name: "httpStartHsmBackup", route: "hsm/backups", methods: ["POST"], authLevel: "function", handler: "startHsmBackup" },
  { name: "httpStartHsmRestore", route: "hsm/restores", methods: ["POST"], authLevel: "function", handler: "startHsmRestore" },
  { name: "httpListJobs", route: "jobs", methods: ["GET"], authLevel: "function", handler: "listJobs" },
  { name: "httpGetJob", route: "jobs/{id}", methods: ["GET"], authLevel: "function", handler: "getJob" },
  { name: "httpCancelJob", route: "jobs/{id}/cancel", methods: ["POST"], authLevel: "function", handler: "cancelJob" },
  { name: "httpListBackupSets", route: "backup-sets", methods: ["GET"], authLevel: "function", handler: "listBackupSets" },
  { name: "httpStatus", route: "status", methods: ["GET"], authLevel: "function", handler: "status" },
];

// The service names folders mhsm-<name>-<yyyyMMddHHmmss>, and some api-versions add milliseconds.
const HSM_FOLDER = /^mhsm-[a-z0-9-]+-\d{14}(\d{3})?$/i;

/** A JSON line per notable event (src/monitoring/log-events.ts): Application Insights keeps its fields. */
export function logEvent(context: InvocationContext, record: LogRecord): void {
  context.log(logLine(record));
}

/** What a start adds to its job.started line. */
type StartDetails = Partial<Pick<Extract<LogRecord, { event: "job.started" }>, "versionDetails" | "kinds" | "include" | "exclude" | "backupSetId" | "dryRun" | "onConflict" | "selective">>;

export function createHttpHandlers(deps: HttpDependencies): HttpHandlers {
  const { config, store } = deps;
  const now = deps.now ?? (() => new Date());
  const randomHex4 = deps.randomHex4 ?? (() => randomBytes(2).toString("hex"));
  const rules = { allowLoopback: config.emulatorCaPath !== undefined };
  const allowed: Record<TargetKind, readonly string[]> = { vault: config.allowedVaults, hsm: config.allowedHsms };

  // ------------------------------------------------------------ schemas (strict: unknown fields are refused)
  const required = (what: string) => ({ error: (issue: { input?: unknown }) => (issue.input === undefined ? "is required" : `must be ${what}`) });
  const vault = z.string(required("a string")).pipe(endpointSchema("vault", rules));
  const hsm = z.string(required("a string")).pipe(endpointSchema("hsm", rules));
  const globs = z.array(z.string(required("a string")).pipe(globSchema), required("an array of globs")).max(100, "has more than 100 globs").default([]);
  const object = <T extends z.ZodRawShape>(shape: T) =>
    z.strictObject(shape, { error: (issue) => (issue.code === "invalid_type" ? "must be a JSON object" : undefined) });
  const kinds = z
    .array(z.string(required("a string")), required(`an array of kinds (${KIND_LIST_HELP})`))
    .max(3, "names more than 3 kinds")
    .transform((names, ctx) => {
      const parsed = parseKinds(names);
      if ("kinds" in parsed) return parsed.kinds;
      ctx.addIssue({ code: "custom", message: parsed.problem });
      return z.NEVER;
    });
  const backupBody = object({ vault, kinds: kinds.optional(), include: globs, exclude: globs, versionDetails: z.boolean(required("true or false")).default(config.versionDetails) });
  const restoreBody = object({
    backupSet: z
      .string(required("a string"))
      .max(400, "is longer than 400 characters")
      .superRefine((value, ctx) => {
        try {
          parseBackupSetRef(value);
        } catch (error) {
          if (!(error instanceof InvalidBackupSetIdError)) throw error;
          ctx.addIssue({ code: "custom", message: "is not a backup set id: <UTC timestamp>-<job id>, optionally prefixed by <vault host>/" });
        }
      }),
    vault: vault.optional(),
    kinds: kinds.optional(),
    include: globs,
    exclude: globs,
    dryRun: z.boolean(required("true or false")).default(false),
    onConflict: z.enum(["skip", "fail"], { error: () => 'must be "skip" or "fail"' }).default("skip"),
  });
  const hsmBackupBody = object({ hsm });
  const hsmRestoreBody = object({
    hsm,
    folderUrl: z.string(required("a string")).max(2000, "is longer than 2000 characters"),
    key: z.string(required("a string")).regex(KEY_NAME, "must be a key name: 1-127 letters, digits or '-'").optional(),
  });
  const jobsQuery = z.strictObject({
    status: z
      .string()
      .transform((text, ctx) => {
        const states = text.split(",").map((x) => x.trim()).filter(Boolean).map((x) => ALL_STATES.find((st) => st.toLowerCase() === x.toLowerCase()));
        if (states.length === 0 || states.includes(undefined)) {
          ctx.addIssue({ code: "custom", message: `must be runtime states separated by commas (${ALL_STATES.join(", ")})` });
          return z.NEVER;
        }
        return states as RuntimeState[];
      })
      .optional(),
    type: z.enum(JOB_TYPE_NAMES as [JobType, ...JobType[]], { error: () => `must be one of ${JOB_TYPE_NAMES.join(", ")}` }).optional(),
    days: intParam(1, 90).default(7),
    limit: intParam(1, 500).default(100),
  });
  const backupSetsQuery = z.strictObject({ vault });
  const statusQuery = z.strictObject({});

  // ------------------------------------------------------------ shared steps

  const statusUrl = (request: HttpRequest) => (id: string) => `${originOf(request)}/api/jobs/${id}`;

  /** The allow-list entry for a URL that already passed the shape check, or a 403 (nothing is contacted). */
  function allowedTarget(kind: TargetKind, field: string, url: string): string {
    const normalized = normalizeEndpoint(url);
    if (!allowed[kind].includes(normalized)) {
      const setting = kind === "vault" ? "KVBACKUP_ALLOWED_VAULTS" : "KVBACKUP_ALLOWED_HSMS";
      throw new HttpError(403, field, `is not on this app's allow-list (${setting})`);
    }
    return normalized;
  }

  function resolveTarget(key: string): string | undefined {
    return (
      config.allowedVaults.find((v) => targetKey("vault", v) === key) ?? config.allowedHsms.find((h) => targetKey("hsm", h) === key)
    );
  }

  async function start(
    request: HttpRequest,
    client: JobClient,
    context: InvocationContext,
    job: { type: JobType; kind: TargetKind; op: "backup" | "restore"; target: string; field: string; input: unknown; details?: StartDetails },
  ): Promise<HttpResponseInit> {
    const key = targetKey(job.kind, job.target);
    const id = httpJobId(job.op, key, now(), randomHex4());
    const began = Date.now();
    const outcome = await startExclusive(client, { orchestrator: JOB_TYPES[job.type], instanceId: id, input: job.input, targetKey: key, deterministic: false }, now);
    const url = statusUrl(request);
    if (outcome.outcome !== "started") {
      const runningId = outcome.outcome === "busy" ? outcome.runningId : outcome.id;
      logEvent(context, { event: "job.refused", reason: "target-busy", trigger: "http", type: job.type, target: job.target, runningJobId: runningId });
      return fail(409, job.field, `a job is already running on this ${job.kind === "vault" ? "vault" : "HSM"}`, {
        runningJobId: runningId,
        statusUrl: url(runningId),
      });
    }
    logEvent(context, { event: "job.started", trigger: "http", jobId: id, type: job.type, target: job.target, durationMs: Date.now() - began, ...job.details });
    return json(202, { id, type: job.type, target: job.target, statusUrl: url(id) }, { Location: url(id) });
  }

  /** The source vault of a set named without a target vault: from its folder, else from its manifest. */
  async function sourceVaultOf(ref: string): Promise<{ target: string; targetVaultUrl?: string }> {
    const parsed = parseBackupSetRef(ref);
    if (parsed.vaultFolder) {
      const match = config.allowedVaults.find((v) => vaultFolder(v) === parsed.vaultFolder);
      if (!match) throw new HttpError(403, "backupSet", `its source vault (${parsed.vaultFolder}) is not on this app's allow-list (KVBACKUP_ALLOWED_VAULTS)`);
      await restorableManifest(ref);
      return { target: match, targetVaultUrl: match };
    }
    const manifest = await restorableManifest(ref);
    const source = normalizeEndpoint(manifest.vaultUrl);
    if (!config.allowedVaults.includes(source)) {
      throw new HttpError(403, "backupSet", "its source vault is not on this app's allow-list (KVBACKUP_ALLOWED_VAULTS): name a target vault");
    }
    // The orchestration resolves the default target itself (planRestore); the lock needs it now.
    return { target: source };
  }

  /** The set's manifest: a set that is not there, is named ambiguously or cannot be restored is the request's mistake (4xx), before any job starts. */
  async function restorableManifest(ref: string) {
    const reader = new BackupSetReader(store);
    try {
      return await reader.manifest(await reader.locate(ref));
    } catch (error) {
      const response = errorResponse(error);
      if (response.httpStatus < 500) throw new HttpError(response.httpStatus, "backupSet", response.reason, {}, { cause: error });
      throw error;
    }
  }

  function folderUrlProblem(value: string): string | undefined {
    const container = config.hsmBackupContainerUrl;
    if (!container) return "cannot be checked: KVBACKUP_HSM_BACKUP_CONTAINER_URL is not set";
    let url: URL, base: URL;
    try {
      url = new URL(value);
      base = new URL(container);
    } catch {
      return "is not a URL";
    }
    if (url.search || url.hash || url.username || url.password) return "must not have a query or user information (no SAS)";
    const basePath = base.pathname.replace(/\/+$/, "");
    const path = url.pathname.replace(/\/+$/, "");
    const folder = path.startsWith(`${basePath}/`) ? path.slice(basePath.length + 1) : undefined;
    if (url.origin !== base.origin || !folder || !HSM_FOLDER.test(folder)) {
      return `must be a backup folder in the HSM backup container: ${container}/mhsm-<name>-<yyyyMMddHHmmss>`;
    }
    return undefined;
  }

  // ------------------------------------------------------------ handlers

  const handlers: HttpHandlers = {
    async startVaultBackup(request, client, context) {
      const body = await readBody(request, backupBody);
      const target = allowedTarget("vault", "vault", body.vault);
      const input = vaultBackupInput(
        { vaultUrl: target, ...(body.kinds ? { kinds: body.kinds } : {}), include: body.include, exclude: body.exclude, versionDetails: body.versionDetails },
        config.tuning,
        config.kinds,
      );
      return start(request, client, context, {
        type: "vault-backup", kind: "vault", op: "backup", target, field: "vault", input,
        details: { versionDetails: body.versionDetails, kinds: [...(input.kinds ?? [])], include: body.include.length, exclude: body.exclude.length },
      });
    },

    async startVaultRestore(request, client, context) {
      const body = await readBody(request, restoreBody);
      const resolved = body.vault !== undefined ? { target: allowedTarget("vault", "vault", body.vault) } : await sourceVaultOf(body.backupSet);
      // Whatever the target, the set is looked up before a job starts: a wrong id is answered here, not by a failed job.
      if (body.vault !== undefined) await restorableManifest(body.backupSet);
      const targetVaultUrl = body.vault !== undefined ? resolved.target : resolved.targetVaultUrl;
      const input = vaultRestoreInput(
        {
          backupSetId: body.backupSet,
          ...(targetVaultUrl !== undefined ? { targetVaultUrl } : {}),
          ...(body.kinds ? { kinds: body.kinds } : {}),
          include: body.include,
          exclude: body.exclude,
          dryRun: body.dryRun,
          onConflict: body.onConflict,
        },
        config.tuning,
      );
      return start(request, client, context, {
        type: "vault-restore", kind: "vault", op: "restore", target: resolved.target, field: body.vault !== undefined ? "vault" : "backupSet", input,
        details: { backupSetId: body.backupSet, dryRun: body.dryRun, onConflict: body.onConflict, include: body.include.length, exclude: body.exclude.length },
      });
    },

    async startHsmBackup(request, client, context) {
      const body = await readBody(request, hsmBackupBody);
      const target = allowedTarget("hsm", "hsm", body.hsm);
      if (!config.hsmBackupContainerUrl) throw new HttpError(503, undefined, "HSM backups are not configured (KVBACKUP_HSM_BACKUP_CONTAINER_URL)");
      const input = hsmBackupInput(target, config.hsmBackupContainerUrl);
      return start(request, client, context, { type: "hsm-backup", kind: "hsm", op: "backup", target, field: "hsm", input });
    },

    async startHsmRestore(request, client, context) {
      const body = await readBody(request, hsmRestoreBody);
      const target = allowedTarget("hsm", "hsm", body.hsm);
      const problem = folderUrlProblem(body.folderUrl);
      if (problem) throw new HttpError(400, "folderUrl", problem);
      const input = hsmRestoreInput(target, body.folderUrl.replace(/\/+$/, ""), body.key);
      return start(request, client, context, {
        type: "hsm-restore", kind: "hsm", op: "restore", target, field: "hsm", input,
        details: { selective: body.key !== undefined },
      });
    },

    async getJob(request, client) {
      const id = jobIdParam(request);
      const status = await findStatus(client, id);
      const view = status && toJobView(status, resolveTarget, statusUrl(request));
      if (!view) throw new HttpError(404, "id", "no such job");
      return json(200, view);
    },

    async listJobs(request, client) {
      const query = readQuery(request, jobsQuery);
      const statuses = (await client.getStatusBy({
        createdTimeFrom: new Date(now().getTime() - query.days * 24 * 3600_000),
        ...(query.status && query.status.length > 0 ? { runtimeStatus: query.status as df.OrchestrationRuntimeStatus[] } : {}),
      })) as StatusLike[];
      const jobs = statuses
        .filter((s) => jobTypeOf(s.name) !== undefined && (query.type === undefined || jobTypeOf(s.name) === query.type))
        .sort(byNewest)
        .slice(0, query.limit)
        .map((s) => {
          // The list stays small: each job's full result is one GET /api/jobs/{id} away.
          const { result: _result, ...view } = toJobView(s, resolveTarget, statusUrl(request))!;
          return view;
        });
      return json(200, { jobs, count: jobs.length });
    },

    async cancelJob(request, client, context) {
      const id = jobIdParam(request);
      const status = await findStatus(client, id);
      if (!status || jobTypeOf(status.name) === undefined) throw new HttpError(404, "id", "no such job");
      if (!isActiveState(status.runtimeStatus)) throw new HttpError(409, "id", `the job is not running (it is ${status.runtimeStatus})`);
      try {
        await client.terminate(id, "canceled");
      } catch (error) {
        // Purged between the look-up and the terminate.
        if (isNotFound(error)) throw new HttpError(404, "id", "no such job", {}, { cause: error });
        throw error;
      }
      logEvent(context, { event: "job.canceled", trigger: "http", jobId: id, type: jobTypeOf(status.name), previousStatus: status.runtimeStatus });
      // Terminating stops the orchestration; a key batch or an HSM operation already under way finishes on its own.
      return json(202, { id, previousStatus: status.runtimeStatus, statusUrl: statusUrl(request)(id) });
    },

    async listBackupSets(request) {
      const query = readQuery(request, backupSetsQuery);
      const target = allowedTarget("vault", "query.vault", query.vault);
      return json(200, { vault: target, backupSets: await listBackupSets(store, target) });
    },

    async status(request, client) {
      readQuery(request, statusQuery);
      const at = now();
      return json(200, { generatedAt: at.toISOString(), targets: await targetStatuses(config, store, client, at) });
    },
  };

  return guardAll(handlers);
}

function jobIdParam(request: HttpRequest): string {
  const parsed = jobIdSchema.safeParse(request.params.id ?? "");
  if (!parsed.success) throw new HttpError(400, "id", parsed.error.issues[0]!.message);
  return parsed.data;
}

/** Query parameters are at most six digits long. */
function intParam(min: number, max: number) {
  return wholeNumberSchema(min, max, 6);
}

/** HttpError → its answer; anything else → 500 without details (they go to the log). */
function guardAll(handlers: HttpHandlers): HttpHandlers {
  const wrap = (name: string, handler: HttpHandler): HttpHandler => async (request, client, context) => {
    try {
      return await handler(request, client, context);
    } catch (error) {
      if (error instanceof HttpError) return error.toResponse();
      context.error(logLine({ event: "http.error", handler: name, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }));
      return fail(500, undefined, "internal error: see the app's logs");
    }
  };
  return Object.fromEntries(Object.entries(handlers).map(([name, handler]) => [name, wrap(name, handler)])) as unknown as HttpHandlers;
}
