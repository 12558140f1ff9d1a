import type { JobFailureCode } from "../src/contracts";

/** What an orchestrator throws to end its job as failed: named by its code (src/contracts.ts JobFailureCodes). */
export class JobFailedError extends Error {
  constructor(
    readonly code: JobFailureCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = code;
  }
}
