import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../http/types";
import { MAX_ID_LENGTH } from "../../config";
import { EXAMPLE_ID, MetadataSchema, NameSchema, NoQuery, OrganizationIdQuery, Time, documentedErrors, idParam, listSchema, pageOf, pageQuery } from "../../http/schemas";
import * as accounts from "../../services/accounts";
import { auditContext, listedOrganization } from "./auth";

export const AccountSchema = z
  .object({
    id: z.string().openapi({ example: EXAMPLE_ID.acct }),
    name: z.string().openapi({ example: "Billing integration" }),
    type: z.enum(["service", "user"]),
    status: z.enum(["active", "deactivated"]),
    organization_id: z.string().openapi({ description: "Its organization (org_default unless one was named); never changes", example: EXAMPLE_ID.org }),
    metadata: MetadataSchema.openapi({ description: "A source of custom claims (an API's token_claims); not for secrets" }),
    created_at: Time,
  })
  .openapi("Account");

const NewAccount = z.strictObject({
  name: NameSchema,
  type: z.enum(["service", "user"]).openapi({ description: "`service` is recommended: a stable identity for an integration." }),
  organization_id: z.string().max(MAX_ID_LENGTH).optional().openapi({ description: "An active organization (default: org_default)", example: EXAMPLE_ID.org }),
  metadata: MetadataSchema.optional(),
});

const AccountChanges = z.strictObject({
  name: NameSchema.optional(),
  metadata: MetadataSchema.optional().openapi({ description: "Replaced whole; null or {} clears it. Tokens minted after it carry the new values." }),
});

const AccountId = idParam("acct");

const AccountResponse = { content: { "application/json": { schema: AccountSchema } } };

const create = createRoute({
  method: "post",
  path: "/accounts",
  tags: ["Accounts"],
  summary: "Create an account",
  request: { query: NoQuery, body: { required: true, content: { "application/json": { schema: NewAccount } } } },
  responses: { 201: { description: "Created", ...AccountResponse }, ...documentedErrors(400, 401, 403, 413, 415, 429, 503) },
});

const list = createRoute({
  method: "get",
  path: "/accounts",
  tags: ["Accounts"],
  summary: "List accounts, newest first",
  request: { query: z.strictObject({ ...pageQuery, organization_id: OrganizationIdQuery }) },
  responses: {
    200: { description: "A page of accounts", content: { "application/json": { schema: listSchema(AccountSchema, "AccountList") } } },
    ...documentedErrors(400, 401, 403, 503),
  },
});

const get = createRoute({
  method: "get",
  path: "/accounts/{id}",
  tags: ["Accounts"],
  summary: "Get an account",
  request: { params: AccountId, query: NoQuery },
  responses: { 200: { description: "The account", ...AccountResponse }, ...documentedErrors(400, 401, 403, 404, 503) },
});

const update = createRoute({
  method: "patch",
  path: "/accounts/{id}",
  tags: ["Accounts"],
  summary: "Rename an account or replace its metadata",
  request: { params: AccountId, query: NoQuery, body: { required: false, content: { "application/json": { schema: AccountChanges } } } },
  responses: { 200: { description: "The account", ...AccountResponse }, ...documentedErrors(400, 401, 403, 404, 413, 415, 429, 503) },
});

const statusChange = (action: "activate" | "deactivate") =>
  createRoute({
    method: "post",
    path: `/accounts/{id}/${action}`,
    tags: ["Accounts"],
    summary:
      action === "deactivate"
        ? "Deactivate an account: its credentials and their tokens stop working"
        : "Activate an account: its credentials work again, tokens issued before stay revoked",
    request: { params: AccountId, query: NoQuery },
    responses: { 200: { description: "The account", ...AccountResponse }, ...documentedErrors(400, 401, 403, 404, 413, 415, 429, 503) },
  });

const remove = createRoute({
  method: "delete",
  path: "/accounts/{id}",
  tags: ["Accounts"],
  summary: "Delete an account and all its credentials",
  request: { params: AccountId, query: NoQuery },
  responses: { 204: { description: "Deleted" }, ...documentedErrors(400, 401, 403, 404, 429, 503) },
});

export function registerAccountRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(create, async (c) => {
    const input = c.req.valid("json");
    const own = c.get("adminOrganization");
    // An organization admin's accounts go to its organization; naming another is naming an unknown one.
    if (own !== null && input.organization_id !== undefined && input.organization_id !== own) throw accounts.unknownOrganization();
    return c.json(await accounts.createAccount(c.env, auditContext(c), { ...input, organization_id: input.organization_id ?? own ?? undefined }), 201);
  });
  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const { limit, after } = pageOf(query);
    const organization = listedOrganization(c, query.organization_id);
    if (organization === "none") return c.json({ data: [], next_cursor: null }, 200);
    return c.json(await accounts.listAccounts(c.env, organization, limit, after), 200);
  });
  app.openapi(get, async (c) => c.json(await accounts.getAccount(c.env, c.req.valid("param").id), 200));
  app.openapi(update, async (c) => c.json(await accounts.updateAccount(c.env, auditContext(c), c.req.valid("param").id, c.req.valid("json") ?? {}), 200));
  app.openapi(statusChange("deactivate"), async (c) =>
    c.json(await accounts.deactivateAccount(c.env, auditContext(c), c.req.valid("param").id), 200),
  );
  app.openapi(statusChange("activate"), async (c) =>
    c.json(await accounts.activateAccount(c.env, auditContext(c), c.req.valid("param").id), 200),
  );
  app.openapi(remove, async (c) => {
    await accounts.deleteAccount(c.env, auditContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
