/**
 * Vault state on disk as one JSON file, written a short while after changes (never per request)
 * through a temp file and a rename, so a crash leaves either the old or the new state.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
/** What a state file holds: a vault's objects, or a Managed HSM's keys. */
export interface Persistable {
  toJSON(): unknown;
  load(state: never): void;
}

export class StatePersister {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  private closed = false;
  /** Last write failure, kept for inspection; a failed write is retried on the next change. */
  lastError: Error | undefined;

  constructor(
    private readonly store: Persistable,
    readonly file: string,
    private readonly debounceMs = 500,
  ) {}

  /** Loads the file into the (empty) store; false when there is none. */
  async load(): Promise<boolean> {
    let text: string;
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
    this.store.load(JSON.parse(text) as never);
    return true;
  }

  schedule(): void {
    this.dirty = true;
    if (this.timer || this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.debounceMs);
    // A pending write must not keep a finished process alive; close() flushes explicitly.
    this.timer.unref();
  }

  /** Writes now if anything changed; writes never overlap. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.writing = this.writing.then(async () => {
      if (!this.dirty) return;
      this.dirty = false;
      const tmp = `${this.file}.${process.pid}.tmp`;
      try {
        await fs.mkdir(path.dirname(this.file), { recursive: true });
        await fs.writeFile(tmp, JSON.stringify(this.store.toJSON()));
        await fs.rename(tmp, this.file);
        this.lastError = undefined;
      } catch (err) {
        this.dirty = true;
        this.lastError = err as Error;
      }
    });
    return this.writing;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
