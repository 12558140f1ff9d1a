import { homedir } from "node:os";
import { join } from "node:path";

/** Where job histories are kept unless --state-dir says otherwise (every job command). */
export const DEFAULT_STATE_DIR = join(homedir(), ".kvbackup", "jobs");
