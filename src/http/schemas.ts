import { z } from "@hono/zod-openapi";
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from "../config";
import { decodeCursor } from "../storage/pagination";

/** Schemas shared by several routes. Route-specific ones live beside their route. */

export const ErrorSchema = z
  .object({
    error: z.string().openapi({ example: "invalid_request" }),
    error_description: z.string().openapi({ example: "name: must be 1 to 100 characters" }),
  })
  .openapi("Error");

// C0 and C1 controls (Unicode category Cc) and the bidirectional controls that can make text
// display differently from what it is (RLO and friends).
const FORBIDDEN_IN_NAME = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

export const NameSchema = z
  .string()
  .trim()
  .refine((name) => {
    const length = [...name].length;
    return length >= 1 && length <= 100;
  }, "must be 1 to 100 characters")
  .refine((name) => !FORBIDDEN_IN_NAME.test(name), "must not contain control characters")
  // A lone surrogate is no character at all: D1 would store bytes that read back differently.
  .refine((name) => name.isWellFormed(), "must be well-formed Unicode")
  .openapi({ example: "Billing sync" });

/** RFC 6749 §3.3 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

export const MAX_SCOPES = 32;

export const ScopesSchema = z
  .array(z.string().regex(SCOPE_TOKEN, "each scope is 1 to 64 characters of RFC 6749's scope-token set"))
  .max(MAX_SCOPES, `at most ${MAX_SCOPES} scopes`)
  .refine((scopes) => new Set(scopes).size === scopes.length, "scopes must not repeat")
  .openapi({ example: ["events:write"] });

export const IdParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" }, example: "cred_4bV9Qm2xTz8LrKp1WcYd0a" }) });

/** `limit` and `cursor`, shared by every list. A repeated parameter arrives as an array and fails. */
export const pageQuery = {
  limit: z
    .string()
    .regex(/^\d{1,3}$/, `limit must be an integer from 1 to ${PAGE_LIMIT_MAX}`)
    .transform(Number)
    .refine((n) => n >= 1 && n <= PAGE_LIMIT_MAX, `limit must be an integer from 1 to ${PAGE_LIMIT_MAX}`)
    .optional()
    .openapi({ param: { name: "limit", in: "query" }, example: "50", type: "integer" }),
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
    .openapi({ param: { name: "cursor", in: "query" }, type: "string" }),
};

export function pageOf(query: { limit?: number | undefined; cursor?: { time: string; id: string } | undefined }) {
  return { limit: query.limit ?? PAGE_LIMIT_DEFAULT, after: query.cursor ?? null };
}

export function listSchema<T extends z.ZodType>(item: T, name: string) {
  return z.object({ data: z.array(item), next_cursor: z.string().nullable() }).openapi(name);
}

/** An error response in the contract's shape, for the OpenAPI document. */
export function errorContent(description: string) {
  return { description, content: { "application/json": { schema: ErrorSchema } } };
}

/** The error responses every admin route can give, for the OpenAPI document. */
export function errorResponses(...statuses: (400 | 401 | 403 | 404 | 413 | 415 | 429 | 503)[]) {
  const descriptions = {
    400: "Invalid request",
    401: "Missing or unknown credential",
    403: "Authenticated, but not allowed",
    404: "Not found",
    413: "Body too large",
    415: "Body is not JSON",
    429: "Rate limited",
    503: "A store is unavailable",
  } as const;
  return Object.fromEntries(
    statuses.map((status) => [status, errorContent(descriptions[status])]),
  ) as Record<(typeof statuses)[number], ReturnType<typeof errorContent>>;
}

/** For routes that take no query parameters: any parameter is a 400, as the contract says. */
export const NoQuery = z.strictObject({});
