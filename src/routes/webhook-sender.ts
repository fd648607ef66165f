import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../http/types";
import { sendOutboxLater } from "../services/webhook-outbox";

/**
 * After a request that may have changed something (any method but GET and HEAD, answered below
 * 400), the webhook outbox goes to the queue in the background: the events its change wrote in
 * its own D1 batch are delivered without holding up the answer. The cron catches up on any miss.
 */
export function sendWebhooksAfterChanges(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await next();
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.res.status < 400) sendOutboxLater(c.env, c.executionCtx);
  };
}
