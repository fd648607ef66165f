import { WorkerEntrypoint } from "cloudflare:workers";
import { createHotApp } from "./hot-app";
import { type VerifyOptions, type VerifyResult, verifyForRpc } from "./rpc";
import { runScheduledMaintenance } from "./services/maintenance";
import { applyFanout } from "./services/fanout";
import { applyUsage } from "./services/usage";
import { applyWebhookDeliveries } from "./services/webhook-delivery";

/**
 * The Worker's exports: the HTTP app (fetch), the cron (scheduled) that rotates signing keys,
 * ends rolled secrets' grace periods, backfills the edge read model and applies retention, the
 * consumer of the usage and fan-out Queues (queue), and the Verifier RPC entrypoint for other Workers.
 */
const app = createHotApp();

export default {
  fetch: app.fetch,
  async scheduled(controller, env, ctx) {
    ctx.waitUntil(runScheduledMaintenance(env, Math.floor(controller.scheduledTime / 1000)));
  },
  async queue(batch, env) {
    // A failure throws, and the Queue delivers the batch again. Usage counts are added exactly
    // as often as a batch commits (one D1 batch for up to 500 statements); a fan-out page writes
    // what D1 says, so doing one twice is harmless; a webhook delivery acknowledges each message
    // once its attempt is recorded. Queues are named per environment in wrangler.toml.
    if (batch.queue.startsWith("keymint-fanout")) await applyFanout(env, batch.messages);
    else if (batch.queue.startsWith("keymint-webhooks")) await applyWebhookDeliveries(env, batch.messages);
    else await applyUsage(env, batch.messages);
  },
} satisfies ExportedHandler<Env>;

/**
 * `verify(token, {audience})` for Workers that bind this one as a service (entrypoint "Verifier"). It is the
 * only method: everything else lives in modules that RPC cannot reach.
 */
export class Verifier extends WorkerEntrypoint<Env> {
  verify(token: string, options?: VerifyOptions): Promise<VerifyResult> {
    return verifyForRpc(this.env, this.ctx, token, options);
  }
}

export { JtiStore } from "./durable-objects/jti-store";
