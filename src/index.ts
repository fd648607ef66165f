import { createApp } from "./app";
import { runScheduledMaintenance } from "./services/maintenance";

/**
 * The Worker's exports: the HTTP app (fetch) and the cron (scheduled) that rotates signing
 * keys and ends rolled secrets' grace periods.
 */
const app = createApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduledMaintenance(env, Math.floor(controller.scheduledTime / 1000)));
  },
} satisfies ExportedHandler<Env>;
