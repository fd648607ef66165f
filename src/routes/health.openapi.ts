import { createRoute, z } from "@hono/zod-openapi";
import { documentedErrors } from "../http/schemas";
import { HEALTH_PATH } from "./health";

/** GET /healthz's OpenAPI declaration, apart from its handler so that the hot path never loads zod. */
export const healthRoute = createRoute({
  method: "get",
  path: HEALTH_PATH,
  security: [],
  tags: ["Operations"],
  summary: "200 when D1 and KV both answer",
  responses: {
    200: { description: "Healthy", content: { "application/json": { schema: z.object({ ok: z.literal(true) }) } } },
    ...documentedErrors(503),
  },
});
