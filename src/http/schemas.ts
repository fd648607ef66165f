import { CLAIM_NAME, FIXED_SOURCES, MAX_TOKEN_CLAIMS, RESERVED_CLAIMS, isClaimSource, metadataProblem } from "../lib/claims";
import { z } from "@hono/zod-openapi";
import {
  MAX_GRANTS,
  MAX_IDENTIFIER_LENGTH,
  MAX_ID_LENGTH,
  MAX_METADATA_BYTES,
  MAX_METADATA_MEMBERS,
  MAX_METADATA_STRING,
  MAX_NAME_LENGTH,
  MAX_SCOPES,
  PAGE_LIMIT_DEFAULT,
  PAGE_LIMIT_MAX,
} from "../config";
import type { IdPrefix } from "../services/ids";
import { decodeCursor } from "../storage/pagination";
import { ERROR_STATUS, type ErrorCode } from "./errors";

/**
 * Schemas shared by several routes. Route-specific ones live beside their route. They are both
 * the validation and the OpenAPI document: a rule the service enforces belongs in the schema,
 * so the document cannot promise what the service refuses.
 */

export const ErrorSchema = z
  .object({
    error: z.enum(Object.keys(ERROR_STATUS) as [ErrorCode, ...ErrorCode[]]).openapi({ example: "invalid_request" }),
    error_description: z.string().openapi({ example: `name: must be 1 to ${MAX_NAME_LENGTH} characters, without control characters` }),
  })
  .openapi("Error");

/**
 * A name's characters: any Unicode code point except a C0 or C1 control (category Cc), a
 * bidirectional control that can make text display differently from what it is (RLO and
 * friends), or a lone surrogate (no character at all: D1 would store bytes that read back
 * differently). Written without the `u` flag, so that it means the same to JavaScript with or
 * without it (JSON Schema validators use it): a surrogate pair is one code point either way.
 */
const NAME_CHAR = String.raw`(?:[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])`;
const NAME_EDGE = String.raw`(?:(?!\s)${NAME_CHAR})`;
/**
 * White space around (trimmed away), then 1 to MAX_NAME_LENGTH name characters that start and
 * end with something other than white space. The same pattern checks the trimmed name and is the
 * document's `pattern` for the name as sent, so both say exactly what is accepted.
 */
const NAME = new RegExp(String.raw`^\s*${NAME_EDGE}(?:${NAME_CHAR}{0,${MAX_NAME_LENGTH - 2}}${NAME_EDGE})?\s*$`);

/** Names are trimmed, then checked: a blank name is a 400, never an empty name stored. */
export const NameSchema = z
  .string()
  .trim()
  .min(1, { message: "must not be blank", abort: true })
  .regex(NAME, `must be 1 to ${MAX_NAME_LENGTH} characters, without control characters`)
  .openapi({
    description: `Trimmed, then 1 to ${MAX_NAME_LENGTH} Unicode code points, without control characters; not blank.`,
    example: "Billing sync",
  });

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

export const ScopesSchema = z
  .array(z.string().regex(SCOPE_TOKEN, "each scope is 1 to 64 characters of RFC 6749's scope-token set"))
  .max(MAX_SCOPES, `at most ${MAX_SCOPES} scopes`)
  .refine((scopes) => new Set(scopes).size === scopes.length, "scopes must not repeat")
  // zod has no uniqueness check of its own to translate: the refine above is this keyword.
  .openapi({ uniqueItems: true, example: ["events:write"] });

/** An RFC 3339 time in UTC, as every response gives it. */
export const Time = z.iso.datetime().openapi({ example: "2026-11-27T04:15:33.123Z" });

/** Example ids of each kind, in the real format (`src/services/ids.ts`). */
export const EXAMPLE_ID: Record<IdPrefix, string> = {
  acct: "acct_7Hq2LmZ0pX4bN8rVt1sKcE",
  cred: "cred_4bV9Qm2xTz8LrKp1WcYd0a",
  api: "api_9Tk3Wq7ZbR2mXc5NvL0pHs",
  org: "org_2Wx8Lq5ZcN1mRb7TvK3pJd",
  wh: "wh_6Rt1Zp8KqW3mLx5NcV0bJd",
  msg: "msg_3Jd9Xk2PqT7mWz1LcR5vBn",
  whd: "whd_8Nq4Lz1XcV6mTp3WkR9bJs",
};

/** The `{id}` path parameter of a route about one account (`acct`) or credential (`cred`). */
export function idParam(prefix: IdPrefix) {
  return z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: EXAMPLE_ID[prefix] }) });
}

const LIMIT_RULE = `limit must be an integer from 1 to ${PAGE_LIMIT_MAX}`;

/**
 * A query value is a string: plain decimal digits become a number for the schema to check, and
 * anything else ("1e1", " 5", a repeated parameter's array) stays as it is and fails it.
 */
const queryInteger = (value: unknown) => (typeof value === "string" && /^\d{1,6}$/.test(value) ? Number(value) : value);

/** `limit` and `cursor`, shared by every list. A repeated parameter arrives as an array and fails. */
export const pageQuery = {
  limit: z
    .preprocess(queryInteger, z.int(LIMIT_RULE).min(1, LIMIT_RULE).max(PAGE_LIMIT_MAX, LIMIT_RULE))
    .optional()
    .openapi({ param: { name: "limit", in: "query" }, default: PAGE_LIMIT_DEFAULT, example: 20 }),
  cursor: z
    .string()
    .max(200)
    .transform((cursor, ctx) => {
      const position = decodeCursor(cursor);
      if (!position) {
        ctx.addIssue({ code: "custom", message: "cursor is not one this service issued" });
        return z.NEVER;
      }
      return position;
    })
    .optional()
    .openapi({
      param: { name: "cursor", in: "query" },
      description: "Opaque: the `next_cursor` of the previous page. Any other value is a 400.",
    }),
};

export function pageOf(query: { limit?: number | undefined; cursor?: { time: string; id: string } | undefined }) {
  return { limit: query.limit ?? PAGE_LIMIT_DEFAULT, after: query.cursor ?? null };
}

export function listSchema<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      data: z.array(item),
      next_cursor: z.string().nullable().openapi({ description: "Pass as `cursor` for the next page; null on the last one." }),
    })
    .openapi(name);
}

/** 429 and 503 say when to try again. */
const RetryAfter = z.object({
  "Retry-After": z.int().min(1).openapi({ description: "Seconds to wait before trying again" }),
});

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 503;

const ERROR_DESCRIPTIONS: Record<ErrorStatus, string> = {
  400: "Invalid request",
  401: "Missing or unknown credential",
  403: "Authenticated, but not allowed",
  404: "Not found",
  409: "Conflict",
  413: "Body too large",
  415: "Body is not JSON",
  429: "Too many failures (or writes): rate limited",
  503: "A store is unavailable",
};

/** One error response in the contract's shape, as the OpenAPI document declares it (the response itself: errors.ts). */
export function documentedError(status: ErrorStatus, description: string = ERROR_DESCRIPTIONS[status]) {
  return {
    description,
    ...(status === 429 || status === 503 ? { headers: RetryAfter } : {}),
    content: { "application/json": { schema: ErrorSchema } },
  };
}

/** Error responses with their usual descriptions, for the OpenAPI document. */
export function documentedErrors<S extends ErrorStatus>(...statuses: S[]) {
  return Object.fromEntries(statuses.map((status) => [status, documentedError(status)])) as Record<S, ReturnType<typeof documentedError>>;
}

/** A grant as the admin API shows it: an API's identifier and the scopes granted on it. */
export const GrantSchema = z
  .object({
    api: z.string().max(MAX_IDENTIFIER_LENGTH).openapi({ description: "The API's identifier", example: "https://billing.example.com" }),
    scopes: ScopesSchema,
  })
  .openapi("CredentialGrant");

/** At most MAX_GRANTS grants, one per API. */
export const GrantsSchema = z
  .array(z.strictObject({ api: z.string().max(MAX_IDENTIFIER_LENGTH), scopes: ScopesSchema }))
  .max(MAX_GRANTS, `at most ${MAX_GRANTS} grants`)
  .refine((grants) => new Set(grants.map((grant) => grant.api)).size === grants.length, "one grant per API");

/**
 * `metadata` (the contract): an object of at most 16 members named like claims, each a string of
 * at most 256 characters, a finite number or a boolean, at most 1,024 bytes as JSON; null or {}
 * clears it. Not a place for secrets. Checked on the raw body (src/lib/claims.ts): a record
 * schema alone would drop a `__proto__` member silently instead of refusing it.
 */
export const MetadataSchema = z
  .preprocess(
    (raw, ctx) => {
      if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
        const problem = metadataProblem(raw as Record<string, unknown>);
        if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
      }
      return raw;
    },
    z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).nullable(),
  )
  .openapi({
    description: `At most ${MAX_METADATA_MEMBERS} members named like claims (a-z, 0-9, _), strings of at most ${MAX_METADATA_STRING} characters, numbers or booleans, ${MAX_METADATA_BYTES} bytes as JSON; null or {} clears it. Not for secrets.`,
    example: { plan: "enterprise", region: "eu" },
  });

/**
 * An API's `token_claims` (the contract): at most 16 claims, each named like metadata and not one
 * Keymint sets, mapped to a source (src/lib/claims.ts).
 */
export const TokenClaimsSchema = z
  .preprocess(
    (raw, ctx) => {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return raw;
      const names = Object.keys(raw);
      if (names.length > MAX_TOKEN_CLAIMS) ctx.addIssue({ code: "custom", message: `token_claims has at most ${MAX_TOKEN_CLAIMS} claims` });
      const badName = names.find((name) => !CLAIM_NAME.test(name) || name in Object.prototype);
      if (badName !== undefined) ctx.addIssue({ code: "custom", message: `token_claims: "${badName.slice(0, 40)}" is not a claim name (a lower-case letter, then up to 39 of a-z, 0-9 and _)` });
      const reserved = names.find((name) => RESERVED_CLAIMS.has(name));
      if (reserved !== undefined) ctx.addIssue({ code: "custom", message: `token_claims: ${reserved} is set by Keymint and cannot be mapped` });
      for (const [name, source] of Object.entries(raw)) {
        if (typeof source === "string" && !isClaimSource(source)) {
          ctx.addIssue({ code: "custom", message: `token_claims.${name.slice(0, 40)}: "${source.slice(0, 80)}" is not a source (${FIXED_SOURCES.join(", ")}, or <organization|account|credential>.metadata.<name>)` });
        }
      }
      return raw;
    },
    z.record(z.string(), z.string().max(100)).nullable(),
  )
  .openapi({
    description: `Claims every token for this API carries: claim name → source (${FIXED_SOURCES.join(", ")}, or organization.metadata.<name>, account.metadata.<name>, credential.metadata.<name>). At most ${MAX_TOKEN_CLAIMS}; reserved claims (${[...RESERVED_CLAIMS].join(" ")}) → 400. A source with no value leaves the claim out. null or {} clears it.`,
    example: { tenant: "organization.external_id", plan: "organization.metadata.plan" },
  });

/** An organization's `external_id`, your own id for a customer (the contract): 1 to 255 printable ASCII characters. */
export const EXTERNAL_ID = /^[\x20-\x7E]{1,255}$/;

/** `?organization_id=`: a list of one organization's rows. */
export const OrganizationIdQuery = z
  .string()
  .min(1)
  .max(MAX_ID_LENGTH)
  .optional()
  .openapi({ param: { name: "organization_id", in: "query" }, description: "Only this organization's", example: EXAMPLE_ID.org });

/** For routes that take no query parameters: any parameter is a 400, as the contract says. */
export const NoQuery = z.strictObject({});
