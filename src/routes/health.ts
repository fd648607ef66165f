import type { Hono } from "hono";
import type { AppEnv } from "../http/types";
import { checkStores } from "../services/health";

/** GET /healthz. Its OpenAPI declaration is in ./health.openapi.ts. */
export const HEALTH_PATH = "/healthz";

export function registerHealthRoute(app: Hono<AppEnv>) {
  app.get(HEALTH_PATH, async (c) => {
    await checkStores(c.env);
    c.header("Cache-Control", "no-store");
    return c.json({ ok: true as const }, 200);
  });
}
