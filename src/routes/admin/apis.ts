import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { MAX_IDENTIFIER_LENGTH } from "../../config";
import { isApiIdentifier } from "../../http/identifiers";
import { documentedError, documentedErrors, EXAMPLE_ID, idParam, listSchema, NameSchema, NoQuery, pageOf, pageQuery, ScopesSchema, Time, TokenClaimsSchema } from "../../http/schemas";
import type { AppEnv } from "../../http/types";
import * as apis from "../../services/apis";
import { auditContext } from "./auth";

export const ApiSchema = z
  .object({
    id: z.string().openapi({ example: EXAMPLE_ID.api }),
    name: z.string().openapi({ example: "Billing API" }),
    identifier: z.string().openapi({ description: "The `aud` of its tokens, byte for byte", example: "https://billing.example.com" }),
    scopes: z.array(z.string()).nullable().openapi({ description: "The scopes it understands; null for the default API (any scope)" }),
    token_claims: TokenClaimsSchema.openapi({ description: "Custom claims every token for it carries: claim name → source; null: none" }),
    created_at: Time,
    updated_at: Time,
  })
  .openapi("Api");

/** An API's identifier: an absolute https URI (http only for localhost), no fragment, at most 2,000 characters. */
export const IdentifierSchema = z
  .string()
  .max(MAX_IDENTIFIER_LENGTH)
  .refine(isApiIdentifier, "identifier must be an absolute https URI (http only for localhost) without a fragment")
  .openapi({ example: "https://billing.example.com", format: "uri" });

const NewApi = z.strictObject({ name: NameSchema, identifier: IdentifierSchema, scopes: ScopesSchema.default([]), token_claims: TokenClaimsSchema.optional() });
const ApiChanges = z.strictObject({
  name: NameSchema.optional(),
  scopes: ScopesSchema.optional(),
  token_claims: TokenClaimsSchema.optional().openapi({ description: "Replaced whole (the default API's too); null or {} clears it. Tokens minted after it carry the new claims." }),
});
const ApiId = idParam("api");
const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const create = createRoute({
  method: "post",
  path: "/apis",
  tags: ["APIs"],
  summary: "Create an API: its identifier becomes the aud of the tokens minted for it",
  request: { query: NoQuery, body: { required: true, ...json(NewApi) } },
  responses: {
    201: { description: "Created", ...json(ApiSchema) },
    ...documentedErrors(400, 401, 403, 413, 415, 429, 503),
    409: documentedError(409, "Another API (or the default API) has this identifier"),
  },
});

const list = createRoute({
  method: "get",
  path: "/apis",
  tags: ["APIs"],
  summary: "List APIs, newest first; the default API is always there",
  request: { query: z.strictObject(pageQuery) },
  responses: { 200: { description: "A page of APIs", ...json(listSchema(ApiSchema, "ApiList")) }, ...documentedErrors(400, 401, 403, 503) },
});

const get = createRoute({
  method: "get",
  path: "/apis/{id}",
  tags: ["APIs"],
  summary: "Get an API",
  request: { params: ApiId, query: NoQuery },
  responses: { 200: { description: "The API", ...json(ApiSchema) }, ...documentedErrors(400, 401, 403, 404, 503) },
});

const update = createRoute({
  method: "patch",
  path: "/apis/{id}",
  tags: ["APIs"],
  summary: "Rename an API, or replace its scopes or claim mapping; a scope removed is removed from every grant",
  request: { params: ApiId, query: NoQuery, body: { required: false, ...json(ApiChanges) } },
  responses: {
    200: { description: "The API", ...json(ApiSchema) },
    ...documentedErrors(401, 403, 404, 413, 415, 429, 503),
    400: documentedError(400, "Invalid request, or the default API's scopes"),
    409: documentedError(409, "Another change to this API won the race, even after retries"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/apis/{id}",
  tags: ["APIs"],
  summary: "Delete an API: its grants go, and every token minted for it stops verifying",
  request: { params: ApiId, query: NoQuery },
  responses: {
    204: { description: "Deleted" },
    ...documentedErrors(401, 403, 404, 429, 503),
    400: documentedError(400, "Invalid request, or the default API"),
  },
});

export function registerApiRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(create, async (c) => c.json(await apis.createApi(c.env, auditContext(c), c.req.valid("json")), 201));
  app.openapi(list, async (c) => {
    const { limit, after } = pageOf(c.req.valid("query"));
    return c.json(await apis.listApis(c.env, limit, after), 200);
  });
  app.openapi(get, async (c) => c.json(await apis.getApi(c.env, c.req.valid("param").id), 200));
  app.openapi(update, async (c) => c.json(await apis.updateApi(c.env, auditContext(c), c.req.valid("param").id, c.req.valid("json") ?? {}), 200));
  app.openapi(remove, async (c) => {
    await apis.deleteApi(c.env, auditContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
}
