import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { MAX_BODY_BYTES } from "../config";
import { ApiError } from "./errors";
import type { AppEnv } from "./types";

/** REQUEST_LOG_SAMPLE_RATE when it is empty or not a number from 0 to 1. */
export const DEFAULT_REQUEST_LOG_SAMPLE_RATE = 0.01;

let sampleRate: { from: string | undefined; rate: number } | undefined;

/** The share of successful hot-route requests that are logged (parsed once per isolate). */
function successSampleRate(env: Env): number {
  const from = env.REQUEST_LOG_SAMPLE_RATE;
  if (sampleRate?.from !== from) {
    const rate = Number(from);
    sampleRate = { from, rate: from !== undefined && from.trim() !== "" && rate >= 0 && rate <= 1 ? rate : DEFAULT_REQUEST_LOG_SAMPLE_RATE };
  }
  return sampleRate.rate;
}

/**
 * One JSON log line per request and an X-Request-Id header. The line names the route pattern,
 * never the raw URL's query, a header value, a body or a secret.
 *
 * With `sampleSuccesses` (the hot app: token, test-auth, introspection, revocation, metadata),
 * a request that succeeded is logged with probability REQUEST_LOG_SAMPLE_RATE (default 1%):
 * the line was the largest CPU cost of those routes over their floors (docs/performance.md), and
 * what it said is also in the usage rollups (per credential and hour) and the platform's own
 * invocation log. Every failure (status 400 and up) is logged, and so is every admin, console or
 * docs request.
 */
export function requestContext(options: { sampleSuccesses?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const requestId = crypto.randomUUID();
    const started = Date.now();
    c.set("requestId", requestId);
    // Set before the handler runs, so that the response it makes (c.json, c.body, an error's)
    // carries it from the start: set afterwards, Hono copies the whole Response to add a header.
    c.header("X-Request-Id", requestId);
    await next();
    if (!c.res.headers.has("x-request-id")) c.header("X-Request-Id", requestId); // a Response made without c
    if (options.sampleSuccesses && c.res.status < 400 && Math.random() >= successSampleRate(c.env)) return;
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
