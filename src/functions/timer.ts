import * as df from "durable-functions";
import { loadConfig } from "../config";
import { runScheduledBackups } from "../jobs/scheduled";
import { invocationLogger, servicesFromConfig } from "../composition";

/**
 * The scheduled backup. The host reads the schedule from the KVBACKUP_SCHEDULE app setting (the `%…%`
 * binding expression); the run itself (src/jobs/scheduled.ts) reads it too, to name the slot.
 */
export const SCHEDULED_BACKUP_FUNCTION = { name: "scheduledBackup", schedule: "%KVBACKUP_SCHEDULE%" } as const;

df.app.client.timer(SCHEDULED_BACKUP_FUNCTION.name, {
  schedule: SCHEDULED_BACKUP_FUNCTION.schedule,
  // A missed run is made up when the app wakes; the slot-based ids keep it from duplicating a job.
  runOnStartup: false,
  handler: async (_timer, client, context) => {
    const config = loadConfig();
    await runScheduledBackups(new Date(), client, { config, store: servicesFromConfig(config).store, log: invocationLogger(context) });
  },
});
