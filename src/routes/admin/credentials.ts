import { type OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { MAX_ALLOWED_IPS, MAX_GRANTS, MAX_ID_LENGTH, MAX_ROLL_GRACE_SECONDS } from "../../config";
import type { AppEnv } from "../../http/types";
import { cidrProblem } from "../../lib/cidr";
import { jwksProblem } from "../../lib/client-jwks";
import { documentedError, documentedErrors, EXAMPLE_ID, GrantSchema, GrantsSchema, idParam, listSchema, MetadataSchema, NameSchema, NoQuery, OrganizationIdQuery, pageOf, pageQuery, ScopesSchema, Time } from "../../http/schemas";
import * as credentials from "../../services/credentials";
import { organizationOf } from "../../services/organizations";
import { auditContext, listedOrganization } from "./auth";

const CredentialGrantsSchema = GrantsSchema.openapi({ description: `Grants on APIs other than the default one (at most ${MAX_GRANTS}, one per API)` });

/** 1 to MAX_ALLOWED_IPS IPv4/IPv6 CIDRs (a bare address is one host), or null: anywhere. */
const AllowedIpsSchema = z
  .array(
    z
      .string()
      .max(64)
      .superRefine((cidr, ctx) => {
        const problem = cidrProblem(cidr);
        if (problem) ctx.addIssue({ code: "custom", message: `each CIDR must be a valid IPv4 or IPv6 range: one ${problem}` });
      }),
  )
  .min(1, "allowed_ips needs at least one CIDR (null: anywhere)")
  .max(MAX_ALLOWED_IPS, `at most ${MAX_ALLOWED_IPS} CIDRs`)
  .nullable()
  .openapi({ example: ["203.0.113.0/24", "2001:db8::/32"] });

/** A private_key_jwt client's public keys (contract: at most 5; EC P-256, RSA 2048+, Ed25519; unique kids; no private member). */
const JwksSchema = z
  .object({ keys: z.array(z.record(z.string(), z.unknown())) })
  .superRefine((jwks, ctx) => {
    const problem = jwksProblem(jwks);
    if (problem) ctx.addIssue({ code: "custom", message: `jwks ${problem}` });
  })
  .openapi({ example: { keys: [{ kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0", kid: "client-key-1" }] } });

/** When it stops working: a future RFC 3339 time, or null (never). */
const ExpiresAtSchema = z.iso.datetime({ offset: true }).nullable().openapi({ example: "2027-06-30T00:00:00Z" });

export const CredentialSchema = z
  .object({
    id: z.string().openapi({ example: EXAMPLE_ID.cred }),
    name: z.string().openapi({ example: "Billing sync" }),
    type: z.enum(["oauth_client", "api_key"]),
    account_id: z.string().openapi({ example: EXAMPLE_ID.acct }),
    client_id: z.string().optional().openapi({ description: "oauth_client only", example: "kmc_0Jx3Yb8QeR5tUw2ZaLm9Hk3FyP1c" }),
    scopes: z.array(z.string()),
    created_at: Time,
    last_used_at: Time.nullable(),
    hint: z.string().openapi({ description: "The last 4 characters of the current secret", example: "Xy3Q" }),
    previous_secret_expires_at: Time.nullable().openapi({ description: "While a rolled secret's grace period runs" }),
    previous_secret_last_used_at: Time.nullable().openapi({
      description: "During a roll's grace: when the previous secret was last used (to the usage flush, about 15 s); null if not since the roll, or no grace",
    }),
    grants: z.array(GrantSchema).openapi({ description: "Access to APIs other than the default one; `scopes` is the grant on the default API" }),
    expires_at: Time.nullable().openapi({ description: "After this moment it authenticates nowhere; null: never" }),
    allowed_ips: z.array(z.string()).nullable().openapi({ description: "The CIDRs it may be used from; null: anywhere", example: ["203.0.113.0/24"] }),
    leaked_at: Time.nullable().openapi({ description: "When a secret scanner reported its secret (LEAKED_SECRET_ACTION=flag); a roll clears it" }),
    leak_url: z.string().nullable().openapi({ description: "Where the leaked secret was found" }),
    token_endpoint_auth_method: z.enum(["client_secret_basic", "private_key_jwt"]).optional().openapi({ description: "oauth_client only; fixed at creation" }),
    jwks: JwksSchema.optional().openapi({ description: "private_key_jwt only: its public keys" }),
    dpop_bound_access_tokens: z.boolean().openapi({ description: "Its tokens must be DPoP-bound (RFC 9449 §5.2)" }),
    metadata: MetadataSchema.openapi({ description: "A source of custom claims (an API's token_claims); not for secrets" }),
  })
  .openapi("Credential");

const CredentialWithSecretSchema = CredentialSchema.extend({
  client_secret: z.string().optional().openapi({ description: "oauth_client only; shown in this response only" }),
  api_key: z.string().optional().openapi({ description: "api_key only; shown in this response only" }),
}).openapi("CredentialWithSecret");

const NewCredential = z.strictObject({
  name: NameSchema,
  type: z.enum(["oauth_client", "api_key"]).openapi({ description: "`oauth_client` is recommended" }),
  account_id: z.string().max(MAX_ID_LENGTH).openapi({ example: EXAMPLE_ID.acct }),
  scopes: ScopesSchema.default([]),
  grants: CredentialGrantsSchema.optional(),
  expires_at: ExpiresAtSchema.optional(),
  allowed_ips: AllowedIpsSchema.optional(),
  token_endpoint_auth_method: z.enum(["client_secret_basic", "private_key_jwt"]).optional().openapi({ description: "oauth_client only: private_key_jwt needs jwks and gets no secret" }),
  jwks: JwksSchema.optional(),
  dpop_bound_access_tokens: z.boolean().optional(),
  metadata: MetadataSchema.optional(),
});

const CredentialChanges = z.strictObject({
  name: NameSchema.optional(),
  scopes: ScopesSchema.optional(),
  grants: CredentialGrantsSchema.optional(),
  expires_at: ExpiresAtSchema.optional(),
  allowed_ips: AllowedIpsSchema.optional(),
  jwks: JwksSchema.optional().openapi({ description: "private_key_jwt clients: rotate keys by replacing the set" }),
  dpop_bound_access_tokens: z.boolean().optional(),
  metadata: MetadataSchema.optional().openapi({ description: "Replaced whole; null or {} clears it" }),
});

const Roll = z.strictObject({
  expires_in: z
    .number()
    .int()
    .min(0)
    .max(MAX_ROLL_GRACE_SECONDS)
    .default(0)
    .openapi({ description: "Seconds the previous secret keeps working (0: it stops at once)" }),
});

/** Idempotency-Key (as in Stripe's API): a retry with the same key replays the first result, without its secret. */
const IdempotencyHeader = z.object({
  "idempotency-key": z
    .string()
    .regex(/^[\x21-\x7E]{1,255}$/, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    .optional()
    .openapi({ param: { name: "idempotency-key", in: "header" }, example: "3f0c2a9e-create-billing-client" }),
});

const CredentialId = idParam("cred");

const json = <T extends z.ZodType>(schema: T) => ({ content: { "application/json": { schema } } });

const create = createRoute({
  method: "post",
  path: "/credentials",
  tags: ["Credentials"],
  summary: "Create a credential; the response is the only one that ever shows its secret",
  request: { query: NoQuery, headers: IdempotencyHeader, body: { required: true, ...json(NewCredential) } },
  responses: {
    201: { description: "Created, with its secret", ...json(CredentialWithSecretSchema) },
    200: { description: "A retry with the same Idempotency-Key: the first result, without its secret", ...json(CredentialSchema) },
    ...documentedErrors(401, 403, 404, 413, 415, 429, 503),
    400: documentedError(400, "Invalid request, or the account is deactivated"),
  },
});

const list = createRoute({
  method: "get",
  path: "/credentials",
  tags: ["Credentials"],
  summary: "List credentials, newest first",
  request: {
    query: z.strictObject({
      ...pageQuery,
      account_id: z.string().max(MAX_ID_LENGTH).optional().openapi({ param: { name: "account_id", in: "query" }, example: EXAMPLE_ID.acct }),
      type: z.enum(["oauth_client", "api_key"]).optional().openapi({ param: { name: "type", in: "query" } }),
      organization_id: OrganizationIdQuery,
      expires_before: z.iso
        .datetime({ offset: true })
        .optional()
        .openapi({ param: { name: "expires_before", in: "query" }, description: "Only credentials that expire before this moment", example: "2027-01-01T00:00:00Z" }),
    }),
  },
  responses: {
    200: { description: "A page of credentials", ...json(listSchema(CredentialSchema, "CredentialList")) },
    ...documentedErrors(400, 401, 403, 503),
  },
});

const get = createRoute({
  method: "get",
  path: "/credentials/{id}",
  tags: ["Credentials"],
  summary: "Get a credential (never its secret)",
  request: { params: CredentialId, query: NoQuery },
  responses: { 200: { description: "The credential", ...json(CredentialSchema) }, ...documentedErrors(400, 401, 403, 404, 503) },
});

const update = createRoute({
  method: "patch",
  path: "/credentials/{id}",
  tags: ["Credentials"],
  summary: "Rename a credential or change its scopes (for tokens issued after)",
  request: { params: CredentialId, query: NoQuery, body: { required: false, ...json(CredentialChanges) } },
  responses: {
    200: { description: "The credential (no body, or `{}`: unchanged)", ...json(CredentialSchema) },
    ...documentedErrors(400, 401, 403, 404, 413, 415, 429, 503),
    409: documentedError(409, "Another edit of this credential won the race, even after retries"),
  },
});

const remove = createRoute({
  method: "delete",
  path: "/credentials/{id}",
  tags: ["Credentials"],
  summary: "Delete a credential for good: its secret and every token it issued stop working",
  request: { params: CredentialId, query: NoQuery },
  responses: { 204: { description: "Deleted" }, ...documentedErrors(400, 401, 403, 404, 429, 503) },
});

const roll = createRoute({
  method: "post",
  path: "/credentials/{id}/roll",
  tags: ["Credentials"],
  summary: "Replace the secret; the previous one works for expires_in seconds more",
  request: { params: CredentialId, query: NoQuery, headers: IdempotencyHeader, body: { required: false, ...json(Roll) } },
  responses: {
    200: {
      description: "The credential with its new secret (or, for a retry with the same Idempotency-Key, without it)",
      ...json(CredentialWithSecretSchema),
    },
    ...documentedErrors(400, 401, 403, 404, 413, 415, 429, 503),
  },
});

export function registerCredentialRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(create, async (c) => {
    const key = c.req.valid("header")["idempotency-key"];
    const input = c.req.valid("json");
    const own = c.get("adminOrganization");
    // Another organization's account is, to an organization admin, no account at all.
    if (own !== null && (await organizationOf(c.env, "account", input.account_id)) !== own) throw credentials.unknownAccount();
    const result = await credentials.createCredential(c.env, auditContext(c), input, key);
    if ("replayed" in result) {
      c.header("Idempotent-Replayed", "true");
      return c.json(result.credential, 200);
    }
    return c.json(result, 201);
  });
  app.openapi(list, async (c) => {
    const query = c.req.valid("query");
    const { limit, after } = pageOf(query);
    const organization = listedOrganization(c, query.organization_id);
    if (organization === "none") return c.json({ data: [], next_cursor: null }, 200);
    const filter = {
      account_id: query.account_id ?? null,
      organization_id: organization,
      type: query.type ?? null,
      expires_before: query.expires_before === undefined ? null : new Date(query.expires_before).toISOString(),
    };
    return c.json(await credentials.listCredentials(c.env, filter, limit, after), 200);
  });
  app.openapi(get, async (c) => c.json(await credentials.getCredential(c.env, c.req.valid("param").id), 200));
  app.openapi(update, async (c) =>
    c.json(await credentials.updateCredential(c.env, auditContext(c), c.req.valid("param").id, c.req.valid("json") ?? {}), 200),
  );
  app.openapi(remove, async (c) => {
    await credentials.deleteCredential(c.env, auditContext(c), c.req.valid("param").id);
    return c.body(null, 204);
  });
  app.openapi(roll, async (c) => {
    const { expires_in } = c.req.valid("json") ?? { expires_in: 0 };
    const key = c.req.valid("header")["idempotency-key"];
    const result = await credentials.rollCredential(c.env, auditContext(c), c.req.valid("param").id, expires_in, key);
    if ("replayed" in result) {
      c.header("Idempotent-Replayed", "true");
      return c.json(result.credential, 200);
    }
    return c.json(result, 200);
  });
}
