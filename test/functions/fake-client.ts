import type * as df from "durable-functions";
import type { JobClient } from "../../src/jobs/starter";

/**
 * An in-memory stand-in for the few DurableClient methods the triggers use, with the real client's
 * behaviours that matter: getStatus throws on an unknown id (the extension answers 404), getStatusBy
 * returns the extension's JSON (ISO strings, not Dates), a running id cannot be started again.
 */
export interface FakeInstance {
  name: string;
  instanceId: string;
  createdTime: Date;
  lastUpdatedTime: Date;
  runtimeStatus: string;
  input: unknown;
  output: unknown;
  customStatus: unknown;
}

const ACTIVE = ["Pending", "Running", "ContinuedAsNew", "Suspended"];

export class FakeDurableClient implements JobClient {
  readonly instances = new Map<string, FakeInstance>();
  readonly started: { name: string; instanceId: string; input: unknown }[] = [];
  readonly terminated: { instanceId: string; reason: string }[] = [];
  /** Called after an instance is created: lets a test start a competing job in the race window. */
  afterStart?: (instanceId: string) => Promise<void> | void;

  constructor(private readonly clock: () => Date = () => new Date()) {}

  seed(instance: Partial<FakeInstance> & { instanceId: string; name: string }): FakeInstance {
    const now = this.clock();
    const full: FakeInstance = {
      createdTime: now,
      lastUpdatedTime: now,
      runtimeStatus: "Running",
      input: null,
      output: null,
      customStatus: null,
      ...instance,
    };
    this.instances.set(full.instanceId, full);
    return full;
  }

  startNew = jest.fn(async (name: string, options?: df.StartNewOptions): Promise<string> => {
    const instanceId = options?.instanceId ?? `auto-${this.instances.size}`;
    const existing = this.instances.get(instanceId);
    if (existing && ACTIVE.includes(existing.runtimeStatus)) {
      throw new Error(`The operation failed with an unexpected status code: 409. Details: instance ${instanceId} exists`);
    }
    this.started.push({ name, instanceId, input: options?.input });
    this.seed({ name, instanceId, runtimeStatus: "Pending", input: options?.input ?? null });
    await this.afterStart?.(instanceId);
    return instanceId;
  });

  getStatus = jest.fn(async (instanceId: string): Promise<df.DurableOrchestrationStatus> => {
    const instance = this.instances.get(instanceId);
    if (!instance) {
      throw new Error(
        `DurableClient error: Durable Functions extension replied with HTTP 404 response. This usually means we could not find any data associated with the instanceId provided: ${instanceId}.`,
      );
    }
    return { ...instance, createdTime: new Date(instance.createdTime), lastUpdatedTime: new Date(instance.lastUpdatedTime) } as unknown as df.DurableOrchestrationStatus;
  });

  getStatusBy = jest.fn(async (filter: df.OrchestrationFilter): Promise<df.DurableOrchestrationStatus[]> => {
    return [...this.instances.values()]
      .filter((i) => !filter.createdTimeFrom || i.createdTime >= filter.createdTimeFrom)
      .filter((i) => !filter.createdTimeTo || i.createdTime <= filter.createdTimeTo)
      .filter((i) => !filter.runtimeStatus || filter.runtimeStatus.length === 0 || (filter.runtimeStatus as string[]).includes(i.runtimeStatus))
      .map((i) => ({ ...i, createdTime: i.createdTime.toISOString(), lastUpdatedTime: i.lastUpdatedTime.toISOString() })) as unknown as df.DurableOrchestrationStatus[];
  });

  terminate = jest.fn(async (instanceId: string, reason: string): Promise<void> => {
    const instance = this.instances.get(instanceId);
    if (!instance) throw new Error(`No instance with ID '${instanceId}' found.`);
    this.terminated.push({ instanceId, reason });
    if (ACTIVE.includes(instance.runtimeStatus)) instance.runtimeStatus = "Terminated";
  });

  /** Ends every active job, as if they had finished. */
  completeAll(output: unknown = null): void {
    for (const i of this.instances.values()) {
      if (ACTIVE.includes(i.runtimeStatus)) Object.assign(i, { runtimeStatus: "Completed", output });
    }
  }
}
