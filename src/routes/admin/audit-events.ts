import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { MAX_ID_LENGTH } from "../../config";
import type { AppEnv } from "../../http/types";
import { EXAMPLE_ID, OrganizationIdQuery, Time, documentedErrors, listSchema, pageOf, pageQuery } from "../../http/schemas";
import { listAuditEvents } from "../../services/audit";
import { listedOrganization } from "./auth";

export const AuditEventSchema = z
  .object({
    id: z.string().openapi({ example: "evt_5d2c0f3b9a8e47e1b6c4d2a0f9e8b7c6" }),
    at: Time,
    actor: z.string().openapi({ example: "admin_token" }),
    channel: z.enum(["api", "console", "system"]).openapi({ description: "Where the change came from" }),
    action: z.string().openapi({ example: "credential.create" }),
    target_type: z.string().openapi({ example: "credential" }),
    target_id: z.string().openapi({ example: EXAMPLE_ID.cred }),
    target_name: z.string().nullable().openapi({ description: "The target's name when the event happened", example: "Billing sync" }),
    ip: z.string().nullable().openapi({ description: "The caller's address (CF-Connecting-IP), when known", example: "203.0.113.7" }),
    detail: z.string().nullable().openapi({
      description: "What the action alone does not say: for a secret reported by GitHub's secret scanning, the URL where it was found",
      example: "https://github.com/octo-org/app/blob/3f2a9c1/config/.env",
    }),
    organization_id: z.string().nullable().openapi({ description: "The organization the change is about; null for platform-wide changes (APIs)", example: EXAMPLE_ID.org }),
  })
  .openapi("AuditEvent");

const list = createRoute({
  method: "get",
  path: "/audit-events",
  tags: ["Audit"],
  summary: "List audit events, newest first",
  request: {
    query: z.strictObject({
      ...pageQuery,
      target_id: z.string().max(MAX_ID_LENGTH).optional().openapi({ param: { name: "target_id", in: "query" }, example: EXAMPLE_ID.cred }),
      organization_id: OrganizationIdQuery,
    }),
  },
  responses: {
    200: {
      description: "A page of audit events",
      content: { "application/json": { schema: listSchema(AuditEventSchema, "AuditEventList") } },
    },
    ...documentedErrors(400, 401, 403, 503),
  },
});

export function registerAuditEventRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const { limit, after } = pageOf(query);
    const organization = listedOrganization(c, query.organization_id);
    if (organization === "none") return c.json({ data: [], next_cursor: null }, 200);
    return c.json(await listAuditEvents(c.env, { target_id: query.target_id ?? null, organization_id: organization }, limit, after), 200);
  });
}
