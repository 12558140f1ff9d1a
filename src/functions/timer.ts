import { DefaultAzureCredential } from "@azure/identity";
import * as df from "durable-functions";
import { loadConfig } from "../config";
import { runScheduledBackups } from "../jobs/scheduled";
import { openBackupStore } from "../storage/open-store";

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
    const store = openBackupStore({ storage: config.storage, container: config.container, credential: new DefaultAzureCredential() });
    await runScheduledBackups(new Date(), client, {
      config,
      store,
      log: (record) => context.log(JSON.stringify({ source: "kvbackup", ...record })),
    });
  },
});
