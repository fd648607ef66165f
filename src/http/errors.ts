import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every error code the service answers with, and its status. One table, so a code can never
 * travel with the wrong status. Shape on the wire: {"error": code, "error_description": text}.
 */
export const ERROR_STATUS = {
  invalid_request: 400,
  invalid_grant: 400,
  invalid_scope: 400,
  invalid_target: 400,
  invalid_dpop_proof: 400,
  use_dpop_nonce: 400,
  unauthorized_client: 400,
  unsupported_grant_type: 400,
  unsupported_token_type: 400,
  /** The issuance hook denied the token (contract "Custom claims"). */
  access_denied: 400,
  unauthorized: 401,
  invalid_client: 401,
  invalid_token: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  temporarily_unavailable: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Seconds a client should wait after a 503 before trying again. */
export const RETRY_AFTER_UNAVAILABLE_SECONDS = 5;

/**
 * A failure the client should see. Thrown from anywhere below a route; rendered by onError.
 * `field` names the request field it is about, when it is about one (the console shows the
 * message beside that field); it is never sent: the body is `error` and `error_description` only.
 */
export class ApiError extends Error {
  readonly status: (typeof ERROR_STATUS)[ErrorCode];
  constructor(
    readonly code: ErrorCode,
    readonly description: string,
    readonly headers: Record<string, string> = {},
    readonly field?: string,
  ) {
    super(description);
    this.status = ERROR_STATUS[code];
  }
}

/** A 400 about the value of one request field. */
export const invalidField = (field: string, description: string) => new ApiError("invalid_request", description, {}, field);

export function errorBody(code: ErrorCode, description: string) {
  return { error: code, error_description: description };
}

export function errorResponse(c: Context, error: ApiError): Response {
  for (const [name, value] of Object.entries(error.headers)) c.header(name, value);
  if (error.code === "temporarily_unavailable" && !error.headers["Retry-After"]) {
    c.header("Retry-After", String(RETRY_AFTER_UNAVAILABLE_SECONDS));
  }
  c.header("Cache-Control", "no-store");
  return c.json(errorBody(error.code, error.description), error.status);
}
