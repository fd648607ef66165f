import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../http/types";
import { errorResponses } from "../http/schemas";
import { checkStores } from "../services/health";

const health = createRoute({
  method: "get",
  path: "/healthz",
  security: [],
  tags: ["Operations"],
  summary: "200 when D1 and KV both answer",
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
    ...errorResponses(503),
  },
});

export function registerHealthRoute(app: OpenAPIHono<AppEnv>) {
  app.openapi(health, async (c) => {
    await checkStores(c.env);
    c.header("Cache-Control", "no-store");
    return c.json({ ok: true as const }, 200);
  });
}
