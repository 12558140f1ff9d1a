/**
 * A job id given again resumes the stored job with its stored input. These tell whether the arguments
 * given now ask for that same job, so that other arguments are refused rather than silently ignored.
 */

/** A job id given again with other arguments than the ones its job was started with. */
export class JobArgumentsMismatchError extends Error {
  override readonly name = "JobArgumentsMismatchError";
  constructor(readonly jobId: string, readonly fields: readonly string[]) {
    super(`job ${jobId} was started with other arguments (${fields.join(", ")} differ): give the same ones to resume it, or use a new job id`);
  }
}

/** How a job runs, not what it does: may change between runs of one job. */
const HOW_NOT_WHAT = new Set(["tuning", "retry", "polling"]);
/** Hosts, compared without case. */
const ENDPOINTS = new Set(["vaultUrl", "targetVaultUrl", "hsmUrl"]);

/** The fields of a job's input (vault backup or restore, HSM backup or restore) on which two inputs differ. */
export function differingJobArguments(stored: unknown, requested: object): string[] {
  if (typeof stored !== "object" || stored === null) return [];
  const a = normalize(stored as Record<string, unknown>);
  const b = normalize(requested as Record<string, unknown>);
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((key) => a[key] !== b[key]).sort();
}

function normalize(input: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(input)) {
    if (HOW_NOT_WHAT.has(key) || value === undefined) continue;
    // The same globs in another order, or an endpoint in other case or with a trailing slash, ask for the same job.
    if ((key === "include" || key === "exclude" || key === "kinds") && Array.isArray(value)) out[key] = JSON.stringify([...value].sort());
    else if (ENDPOINTS.has(key) && typeof value === "string") out[key] = value.toLowerCase().replace(/\/+$/, "");
    else if (key.endsWith("Url") && typeof value === "string") out[key] = value.replace(/\/+$/, "");
    else out[key] = JSON.stringify(value);
  }
  // A vault backup's versionDetails defaults to true (and inputs from before it existed have none).
  if ("vaultUrl" in input) out["versionDetails"] = String(input["versionDetails"] !== false);
  // A vault backup stored before kinds existed backed up keys.
  if ("vaultUrl" in input && input["kinds"] === undefined) out["kinds"] = JSON.stringify(["key"]);
  return out;
}
