import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { MAX_NAME_LENGTH } from "../../config";
import {
  EXAMPLE_ID,
  GrantSchema,
  GrantsSchema,
  MetadataSchema,
  NameSchema,
  NoQuery,
  Time,
  documentedError,
  documentedErrors,
  idParam,
  listSchema,
  pageOf,
  pageQuery,
} from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import { createConsoleLink } from "../../services/console-links";
import * as organizations from "../../services/organizations";
import { auditContext } from "./auth";
import { EXTERNAL_ID } from "../../http/schemas";

const ExternalIdSchema = z
  .string()
  .regex(EXTERNAL_ID, "external_id must be 1 to 255 printable ASCII characters")
  .openapi({ description: "Your own id for this customer: unique, 1 to 255 printable ASCII characters", example: "cus_8a7d2c" });

const CeilingSchema = GrantsSchema.nullable().openapi({
  description: "The ceiling on every credential of the organization: only the APIs named are open to them (the default API always is), with at most these scopes; null: no ceiling",
});

export const OrganizationSchema = z
  .object({
    id: z.string().openapi({ example: EXAMPLE_ID.org }),
    name: z.string().openapi({ example: "Acme Corp" }),
    external_id: z.string().nullable().openapi({ example: "cus_8a7d2c" }),
    status: z.enum(["active", "deactivated"]),
    metadata: MetadataSchema,
    grants: z.array(GrantSchema).nullable().openapi({ description: "The ceiling on its credentials' grants; null: none" }),
    created_at: Time,
    updated_at: Time,
  })
  .openapi("Organization");

const NewOrganization = z.strictObject({
  name: NameSchema,
  external_id: ExternalIdSchema.nullable().optional(),
  metadata: MetadataSchema.optional(),
  grants: CeilingSchema.optional(),
});
const OrganizationChanges = z.strictObject({
  name: NameSchema.optional(),
  external_id: ExternalIdSchema.nullable().optional(),
  metadata: MetadataSchema.optional(),
  grants: CeilingSchema.optional(),
});
const OrganizationId = idParam("org");
const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const create = createRoute({
  method: "post",
  path: "/organizations",
  tags: ["Organizations"],
  summary: "Create an organization (a customer of your APIs)",
  request: { query: NoQuery, body: { required: true, ...json(NewOrganization) } },
  responses: {
    201: { description: "Created", ...json(OrganizationSchema) },
    ...documentedErrors(400, 401, 403, 413, 415, 429, 503),
    409: documentedError(409, "Another organization has this external_id"),
  },
});

const list = createRoute({
  method: "get",
  path: "/organizations",
  tags: ["Organizations"],
  summary: "List organizations, newest first; the default one is always there",
  request: {
    query: z.strictObject({
      ...pageQuery,
      external_id: z.string().max(255).optional().openapi({ param: { name: "external_id", in: "query" }, description: "Exactly this external_id", example: "cus_8a7d2c" }),
      q: z.string().min(1).max(MAX_NAME_LENGTH).optional().openapi({ param: { name: "q", in: "query" }, description: "Name contains", example: "Acme" }),
    }),
  },
  responses: { 200: { description: "A page of organizations", ...json(listSchema(OrganizationSchema, "OrganizationList")) }, ...documentedErrors(400, 401, 403, 503) },
});

const get = createRoute({
  method: "get",
  path: "/organizations/{id}",
  tags: ["Organizations"],
  summary: "Get an organization",
  request: { params: OrganizationId, query: NoQuery },
  responses: { 200: { description: "The organization", ...json(OrganizationSchema) }, ...documentedErrors(400, 401, 403, 404, 503) },
});

const update = createRoute({
  method: "patch",
  path: "/organizations/{id}",
  tags: ["Organizations"],
  summary: "Rename an organization, or change its external_id, metadata (replaced whole) or ceiling",
  request: { params: OrganizationId, query: NoQuery, body: { required: true, ...json(OrganizationChanges) } },
  responses: {
    200: { description: "The organization", ...json(OrganizationSchema) },
    ...documentedErrors(400, 401, 403, 404, 413, 415, 429, 503),
    409: documentedError(409, "Another organization has this external_id, or another edit won the race"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/organizations/{id}",
  tags: ["Organizations"],
  summary: "Delete an organization that has no accounts (the default one cannot be deleted)",
  request: { params: OrganizationId, query: NoQuery },
  responses: {
    204: { description: "Deleted" },
    ...documentedErrors(400, 401, 403, 404, 429, 503),
    409: documentedError(409, "The organization still has accounts"),
  },
});

function statusChange(action: "deactivate" | "activate") {
  return createRoute({
    method: "post",
    path: `/organizations/{id}/${action}`,
    tags: ["Organizations"],
    summary:
      action === "deactivate"
        ? "Deactivate an organization: every credential of every account in it stops, and every token they minted (idempotent)"
        : "Activate an organization again: its credentials work again, never its earlier tokens (idempotent)",
    request: { params: OrganizationId, query: NoQuery },
    responses: { 200: { description: "The organization", ...json(OrganizationSchema) }, ...documentedErrors(400, 401, 403, 404, 429, 503) },
  });
}

/** An email address as people write them: one @, no spaces or controls, at most 254 characters (RFC 5321). */
const EmailSchema = z
  .string()
  .max(254)
  .regex(/^[^\s@\x00-\x1F\x7F]+@[^\s@\x00-\x1F\x7F]+\.[^\s@\x00-\x1F\x7F]+$/, "email must be an email address")
  .openapi({ example: "dana@acme.example" });

const NewConsoleLink = z.strictObject({ email: EmailSchema, role: z.enum(["admin", "viewer"]) });
const ConsoleLinkSchema = z
  .object({
    url: z.string().openapi({ description: "Open it in the person's browser (redirect to it): single use, for 5 minutes", example: "https://keymint.example.com/console/link/eyJ…" }),
    expires_at: Time,
  })
  .openapi("ConsoleLink");

const consoleLink = createRoute({
  method: "post",
  path: "/organizations/{id}/console-links",
  tags: ["Organizations"],
  summary: "A single-use, 5-minute link that opens the organization's console for a named person, as an admin or a viewer",
  request: { params: OrganizationId, query: NoQuery, body: { required: true, ...json(NewConsoleLink) } },
  responses: { 201: { description: "The link", ...json(ConsoleLinkSchema) }, ...documentedErrors(400, 401, 403, 404, 413, 415, 429, 503) },
});

export function registerOrganizationRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(create, async (c) => c.json(await organizations.createOrganization(c.env, auditContext(c), c.req.valid("json")), 201));
  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const { limit, after } = pageOf(query);
    // An organization admin's list holds its own organization alone.
    const filter = { id: c.get("adminOrganization"), external_id: query.external_id ?? null, q: query.q ?? null };
    return c.json(await organizations.listOrganizations(c.env, filter, limit, after), 200);
  });
  app.openapi(get, async (c) => c.json(await organizations.getOrganization(c.env, c.req.valid("param").id), 200));
  app.openapi(update, async (c) => c.json(await organizations.updateOrganization(c.env, auditContext(c), c.req.valid("param").id, c.req.valid("json")), 200));
  app.openapi(statusChange("deactivate"), async (c) => c.json(await organizations.deactivateOrganization(c.env, auditContext(c), c.req.valid("param").id), 200));
  app.openapi(statusChange("activate"), async (c) => c.json(await organizations.activateOrganization(c.env, auditContext(c), c.req.valid("param").id), 200));
  app.openapi(consoleLink, async (c) => c.json(await createConsoleLink(c.env, auditContext(c), c.req.valid("param").id, c.req.valid("json")), 201));
  app.openapi(remove, async (c) => {
    await organizations.deleteOrganization(c.env, auditContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
