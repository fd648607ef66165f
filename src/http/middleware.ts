import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { MAX_BODY_BYTES } from "../config";
import { ApiError } from "./errors";
import type { AppEnv } from "./types";

/**
 * One JSON log line per request and an X-Request-Id header. The line names the route pattern,
 * never the raw URL's query, a header value, a body or a secret.
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = crypto.randomUUID();
    const started = Date.now();
    c.set("requestId", requestId);
    // Set before the handler runs, so that the response it makes (c.json, c.body, an error's)
    // carries it from the start: set afterwards, Hono copies the whole Response to add a header.
    c.header("X-Request-Id", requestId);
    await next();
    if (!c.res.headers.has("x-request-id")) c.header("X-Request-Id", requestId); // a Response made without c
    console.log(
      JSON.stringify({
        request_id: requestId,
        method: c.req.method,
        route: c.req.routePath,
        status: c.res.status,
        duration_ms: Date.now() - started,
        credential_id: c.get("credentialId") ?? null,
        actor: c.get("actor") ?? null,
      }),
    );
  };
}

/** 413 for any body over MAX_BODY_BYTES, checked as it streams (no trust in Content-Length). */
export function limitBody(maxBytes = MAX_BODY_BYTES): MiddlewareHandler<AppEnv> {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError("payload_too_large", `The body is larger than ${maxBytes} bytes.`);
    },
  });
}

function hasBody(headers: Headers): boolean {
  const length = headers.get("content-length");
  return (length !== null && length !== "0") || headers.has("transfer-encoding");
}

/** Management writes take JSON only: any other body gets 415 before it is read. */
export function requireJsonBody(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (c.req.method === "POST" || c.req.method === "PATCH" || c.req.method === "PUT") {
      const type = c.req.header("content-type");
      const isJson = type !== undefined && /^application\/json\s*(;|$)/i.test(type.trim());
      if (!isJson && (type !== undefined || hasBody(c.req.raw.headers))) {
        throw new ApiError("unsupported_media_type", "Send the body as application/json.");
      }
      // JSON is UTF-8 (RFC 8259 §8.1). A lenient decode would turn invalid bytes into U+FFFD and
      // store a name the client never sent; refuse them instead. The bytes stay cached for the
      // JSON validator (Hono reuses a body it has already read).
      if (isJson) {
        const bytes = await c.req.arrayBuffer();
        try {
          new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
        } catch {
          throw new ApiError("invalid_request", "The body is not valid UTF-8.");
        }
      }
    }
    await next();
  };
}
