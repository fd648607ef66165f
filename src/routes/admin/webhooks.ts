import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { MAX_ID_LENGTH, MAX_ROLL_GRACE_SECONDS } from "../../config";
import { invalidField } from "../../http/errors";
import { EXAMPLE_ID, NoQuery, OrganizationIdQuery, Time, documentedErrors, idParam, listSchema, pageOf, pageQuery } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import { MAX_WEBHOOK_URL_LENGTH } from "../../lib/webhook-urls";
import { EVENT_TYPES } from "../../services/webhook-events";
import * as webhooks from "../../services/webhooks";
import { auditContext, listedOrganization } from "./auth";

/** /admin/v1/webhooks (contract "Webhooks"): endpoints, their secrets, a test event, and the deliveries log. */

const EventsSchema = z
  .array(z.enum([...EVENT_TYPES, "*"]))
  .min(1, "events needs at least one event type, or [\"*\"]")
  .max(EVENT_TYPES.length + 1)
  .refine((events) => new Set(events).size === events.length, "events lists each type once")
  .refine((events) => !events.includes("*") || events.length === 1, "\"*\" stands alone")
  .openapi({ description: `Event types (${EVENT_TYPES.join(", ")}), or ["*"] for every one`, example: ["credential.created", "credential.deleted"] });

const UrlSchema = z
  .string()
  .max(MAX_WEBHOOK_URL_LENGTH, `url is at most ${MAX_WEBHOOK_URL_LENGTH} characters`)
  .openapi({ description: "https and a public host (any URL with WEBHOOK_ALLOW_INSECURE_URLS=true)", example: "https://hooks.example.com/keymint" });

const DescriptionSchema = z.string().max(500, "description is at most 500 characters").nullable();

export const EndpointSchema = z
  .object({
    id: z.string().openapi({ example: EXAMPLE_ID.wh }),
    url: z.string(),
    events: z.array(z.string()),
    organization_id: z.string().nullable().openapi({ description: "null: a platform endpoint, which receives every organization's events" }),
    description: z.string().nullable(),
    status: z.enum(["enabled", "disabled"]),
    created_at: Time,
    updated_at: Time,
  })
  .openapi("WebhookEndpoint");

const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().openapi({ description: "whsec_…: verify deliveries with it (standardwebhooks); shown in this response only", example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }),
}).openapi("WebhookEndpointWithSecret");

const DeliverySchema = z
  .object({
    id: z.string().openapi({ example: EXAMPLE_ID.whd }),
    event_id: z.string().openapi({ description: "The webhook-id of every attempt at this event", example: EXAMPLE_ID.msg }),
    event_type: z.string(),
    attempt: z.int(),
    status: z.enum(["succeeded", "failed"]),
    status_code: z.int().nullable().openapi({ description: "The receiver's status; null when it never answered" }),
    error: z.string().nullable(),
    at: Time,
    next_attempt_at: Time.nullable().openapi({ description: "When the next attempt goes; null: none (delivered, or out of retries)" }),
  })
  .openapi("WebhookDelivery");

const NewEndpoint = z.strictObject({
  url: UrlSchema,
  events: EventsSchema,
  organization_id: z.string().max(MAX_ID_LENGTH).nullable().optional().openapi({ description: "Its organization's events only (default: a platform endpoint; an organization's admin: its own)", example: EXAMPLE_ID.org }),
  description: DescriptionSchema.optional(),
});

const EndpointChanges = z.strictObject({
  url: UrlSchema.optional(),
  events: EventsSchema.optional(),
  description: DescriptionSchema.optional(),
  status: z.enum(["enabled", "disabled"]).optional().openapi({ description: "disabled: no deliveries until enabled again" }),
});

const RollSecret = z.strictObject({
  expires_in: z.number().int().min(0).max(MAX_ROLL_GRACE_SECONDS).default(0).openapi({ description: "Seconds the previous secret keeps signing too (0: it stops at once)" }),
});

const WebhookId = idParam("wh");
const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });
const tags = ["Webhooks"];

const create = createRoute({
  method: "post",
  path: "/webhooks",
  tags,
  summary: "Create a webhook endpoint; the response is the only one that shows its secret",
  request: { query: NoQuery, body: { required: true, ...json(NewEndpoint) } },
  responses: { 201: { description: "Created, with its secret", ...json(EndpointWithSecretSchema) }, ...documentedErrors(400, 401, 403, 413, 415, 429, 503) },
});

const list = createRoute({
  method: "get",
  path: "/webhooks",
  tags,
  summary: "List webhook endpoints, newest first",
  request: { query: z.strictObject({ ...pageQuery, organization_id: OrganizationIdQuery }) },
  responses: { 200: { description: "A page of endpoints", ...json(listSchema(EndpointSchema, "WebhookEndpointList")) }, ...documentedErrors(400, 401, 403, 503) },
});

const get = createRoute({
  method: "get",
  path: "/webhooks/{id}",
  tags,
  summary: "Get a webhook endpoint",
  request: { params: WebhookId, query: NoQuery },
  responses: { 200: { description: "The endpoint", ...json(EndpointSchema) }, ...documentedErrors(400, 401, 403, 404, 503) },
});

const update = createRoute({
  method: "patch",
  path: "/webhooks/{id}",
  tags,
  summary: "Change a webhook endpoint's URL, events or description, or enable or disable it",
  request: { params: WebhookId, query: NoQuery, body: { required: false, ...json(EndpointChanges) } },
  responses: { 200: { description: "The endpoint", ...json(EndpointSchema) }, ...documentedErrors(400, 401, 403, 404, 409, 413, 415, 429, 503) },
});

const remove = createRoute({
  method: "delete",
  path: "/webhooks/{id}",
  tags,
  summary: "Delete a webhook endpoint: no more deliveries to it",
  request: { params: WebhookId, query: NoQuery },
  responses: { 204: { description: "Deleted" }, ...documentedErrors(400, 401, 403, 404, 429, 503) },
});

const roll = createRoute({
  method: "post",
  path: "/webhooks/{id}/roll-secret",
  tags,
  summary: "A new signing secret; during expires_in seconds every delivery is signed with both",
  request: { params: WebhookId, query: NoQuery, body: { required: false, ...json(RollSecret) } },
  responses: { 200: { description: "The endpoint with its new secret", ...json(EndpointWithSecretSchema) }, ...documentedErrors(400, 401, 403, 404, 409, 413, 415, 429, 503) },
});

const test = createRoute({
  method: "post",
  path: "/webhooks/{id}/test",
  tags,
  summary: "Send a webhook.test event to this endpoint",
  request: { params: WebhookId, query: NoQuery },
  responses: {
    202: { description: "Queued", ...json(z.object({ event_id: z.string().openapi({ example: EXAMPLE_ID.msg }) }).openapi("WebhookTestAccepted")) },
    ...documentedErrors(400, 401, 403, 404, 429, 503),
  },
});

const deliveries = createRoute({
  method: "get",
  path: "/webhooks/{id}/deliveries",
  tags,
  summary: "The endpoint's delivery attempts, newest first",
  request: {
    params: WebhookId,
    query: z.strictObject({ ...pageQuery, status: z.enum(["failed", "succeeded"]).optional().openapi({ param: { name: "status", in: "query" } }) }),
  },
  responses: { 200: { description: "A page of attempts", ...json(listSchema(DeliverySchema, "WebhookDeliveryList")) }, ...documentedErrors(400, 401, 403, 404, 503) },
});

export function registerWebhookRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(create, async (c) => {
    const input = c.req.valid("json");
    const own = c.get("adminOrganization");
    // An organization's admin makes its own organization's endpoints, and may name no other.
    if (own !== null && input.organization_id !== undefined && input.organization_id !== own) {
      throw invalidField("organization_id", "organization_id must be your own organization.");
    }
    return c.json(await webhooks.createEndpoint(c.env, auditContext(c), { ...input, organization_id: own ?? input.organization_id ?? null }), 201);
  });
  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const { limit, after } = pageOf(query);
    const organization = listedOrganization(c, query.organization_id);
    if (organization === "none") return c.json({ data: [], next_cursor: null }, 200);
    return c.json(await webhooks.listEndpoints(c.env, organization, limit, after), 200);
  });
  app.openapi(get, async (c) => c.json(await webhooks.getEndpoint(c.env, c.req.valid("param").id), 200));
  app.openapi(update, async (c) => c.json(await webhooks.updateEndpoint(c.env, auditContext(c), c.req.valid("param").id, c.req.valid("json") ?? {}), 200));
  app.openapi(remove, async (c) => {
    await webhooks.deleteEndpoint(c.env, auditContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
  app.openapi(roll, async (c) => c.json(await webhooks.rollSecret(c.env, auditContext(c), c.req.valid("param").id, c.req.valid("json")?.expires_in ?? 0), 200));
  app.openapi(test, async (c) => c.json(await webhooks.sendTestEvent(c.env, c.req.valid("param").id), 202));
  app.openapi(deliveries, async (c) => {
    const query = c.req.valid("query");
    const { limit, after } = pageOf(query);
    return c.json(await webhooks.listDeliveries(c.env, c.req.valid("param").id, query.status ?? null, limit, after), 200);
  });
}
