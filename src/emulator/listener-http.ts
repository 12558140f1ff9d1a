/** The HTTP edges of a listener: the api-version check, JSON bodies and bounded body reading. */
import type { IncomingMessage } from "node:http";
import { LATEST_API_VERSION, SUPPORTED_API_VERSIONS, badParameter } from "./service-common";

export const BODY_TOO_LARGE = Symbol("body too large");

export function checkApiVersion(v: string | null): string {
  if (v === null || v === "") throw badParameter("The api-version query parameter is required.");
  if (!SUPPORTED_API_VERSIONS.includes(v)) {
    throw badParameter(
      `The specified version (${v}) is not recognized. Consider using the latest supported version (${LATEST_API_VERSION}).`,
    );
  }
  return v;
}

export function parseJson(raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8")) as unknown;
  } catch {
    throw badParameter("The request body is not valid JSON.");
  }
}

/** The whole body, or a marker when it is over the limit (still drained, so the connection stays usable). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | typeof BODY_TOO_LARGE> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on("end", () => {
      done = true;
      resolve(size > limit ? BODY_TOO_LARGE : Buffer.concat(chunks));
    });
    req.on("error", reject);
    req.on("close", () => {
      if (!done) reject(new Error("request aborted"));
    });
  });
}
