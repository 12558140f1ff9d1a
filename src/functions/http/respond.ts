import type { HttpRequest, HttpResponseInit } from "@azure/functions";
import type { z } from "zod";
import { firstIssue } from "../../validation";

/** Requests are a few URLs and globs; anything bigger is a mistake or an attack. */
export const MAX_BODY_BYTES = 16 * 1024;

export interface ErrorBody {
  readonly error: { readonly field?: string; readonly reason: string };
  readonly [extra: string]: unknown;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponseInit {
  return { status, jsonBody: body, headers: { "Content-Type": "application/json; charset=utf-8", ...headers } };
}

export function fail(status: number, field: string | undefined, reason: string, extra: Record<string, unknown> = {}): HttpResponseInit {
  const error = field === undefined ? { reason } : { field, reason };
  return json(status, { error, ...extra } satisfies ErrorBody);
}

/** Thrown inside a handler to answer with an error; the guard turns it into the response. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly field: string | undefined,
    readonly reason: string,
    readonly extra: Record<string, unknown> = {},
    options?: ErrorOptions,
  ) {
    super(`${status} ${field ?? ""}: ${reason}`, options);
  }
  toResponse(): HttpResponseInit {
    return fail(this.status, this.field, this.reason, this.extra);
  }
}

/** `field` and `reason` of the first problem; an unknown field is named itself, not its parent object. */
export function describeIssue(error: z.ZodError, prefix = ""): { field: string; reason: string } {
  const issue = error.issues[0]!;
  if (issue.code === "unrecognized_keys") {
    const field = [...issue.path.map(String), issue.keys[0] ?? "?"].join(".");
    return { field: `${prefix}${field}`, reason: "is not a known field" };
  }
  return firstIssue(error, prefix);
}

/** Reads a JSON body (capped, parsed, validated); throws HttpError with 413 or 400 otherwise. */
export async function readBody<T>(request: HttpRequest, schema: z.ZodType<T>): Promise<T> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) throw new HttpError(413, "(body)", `is larger than ${MAX_BODY_BYTES} bytes`);
  const text = await request.text();
  if (Buffer.byteLength(text, "utf8") > MAX_BODY_BYTES) throw new HttpError(413, "(body)", `is larger than ${MAX_BODY_BYTES} bytes`);
  if (text.trim() === "") throw new HttpError(400, "(body)", "is required: a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, "(body)", "is not valid JSON", {}, { cause: error });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const { field, reason } = describeIssue(parsed.error);
    throw new HttpError(400, field, reason);
  }
  return parsed.data;
}

/**
 * The query string as an object for a strict schema. `code` (the function key, when passed in the query)
 * is dropped; a parameter given twice is refused, so no value is silently ignored.
 */
export function readQuery<T>(request: HttpRequest, schema: z.ZodType<T>): T {
  const values: Record<string, string> = {};
  for (const name of new Set(request.query.keys())) {
    if (name === "code") continue;
    const all = request.query.getAll(name);
    if (all.length > 1) throw new HttpError(400, `query.${name}`, "is given more than once");
    values[name] = all[0]!;
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const { field, reason } = describeIssue(parsed.error, "query.");
    throw new HttpError(400, field, reason);
  }
  return parsed.data;
}

/** `https://app.azurewebsites.net` from the request URL: job URLs point back at the same host. */
export function originOf(request: HttpRequest): string {
  try {
    return new URL(request.url).origin;
  } catch {
    return "";
  }
}
