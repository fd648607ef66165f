import type { Context, Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { StoreUnavailableError } from "../storage/guarded";
import { ApiError, type ErrorCode, errorResponse } from "./errors";
import { limitBody, requestContext } from "./middleware";
import type { AppEnv } from "./types";

/**
 * What every app of this Worker shares (the hot app in src/hot-app.ts and the complete one in
 * src/app.ts): the request log and body limit around every route, 404 vs 405, and the one error
 * handler. Nothing here loads zod.
 */

const HTTP_EXCEPTION_CODES: Record<number, ErrorCode> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

/** Every failure leaves here in the contract's shape; nothing internal reaches the client. */
export function onError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof ApiError) return errorResponse(c, error);
  if (error instanceof HTTPException && HTTP_EXCEPTION_CODES[error.status]) {
    return errorResponse(c, new ApiError(HTTP_EXCEPTION_CODES[error.status]!, error.message || "Invalid request."));
  }
  if (!(error instanceof StoreUnavailableError)) {
    // Unexpected: log the kind of error, not its message (it could quote input).
    console.error(JSON.stringify({ request_id: c.get("requestId"), error: error.name }));
  }
  return errorResponse(c, new ApiError("temporarily_unavailable", "The service could not complete this request; try again."));
}

/** Matches a request path against every registered route, to tell 404 from 405. Built once. */
function methodMatcher(app: Hono<AppEnv>): (path: string) => string[] {
  let routes: { method: string; pattern: RegExp }[] | undefined;
  return (path) => {
    routes ??= app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => {
        const escaped = route.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&");
        return { method: route.method, pattern: new RegExp(`^${escaped.replace(/:[^/]+/g, "[^/]+").replace(/\*/g, ".*")}$`) };
      });
    const allowed = new Set(routes.filter((route) => route.pattern.test(path)).map((route) => route.method));
    if (allowed.has("GET")) allowed.add("HEAD");
    return [...allowed].sort();
  };
}

/**
 * The request log and the body limit: call before registering any route. `sampleSuccesses`:
 * successful requests are logged only in part (src/http/middleware.ts).
 */
export function useCommonMiddleware(app: Hono<AppEnv>, options: { ownBodyLimit?: string[]; sampleSuccesses?: boolean } = {}): void {
  app.use("*", requestContext({ sampleSuccesses: options.sampleSuccesses ?? false }));
  const limit = limitBody();
  const own = new Set(options.ownBodyLimit ?? []);
  // Routes that set a body limit of their own (larger than the default) skip the default one.
  app.use("*", own.size === 0 ? limit : (c, next) => (own.has(c.req.path) ? next() : limit(c, next)));
}

/**
 * 405 (with Allow) for a known path and another method, else `notFound` (a plain 404 by default),
 * and the error handler. Call after registering every route.
 */
export function handleFailures(app: Hono<AppEnv>, notFound: (c: Context<AppEnv>) => Response | Promise<Response> = plainNotFound): void {
  const methodsFor = methodMatcher(app);
  app.notFound((c) => {
    const allowed = methodsFor(c.req.path);
    if (allowed.length) {
      return errorResponse(
        c,
        new ApiError("method_not_allowed", `Use ${allowed.join(", ")} on this path.`, { Allow: allowed.join(", ") }),
      );
    }
    return notFound(c);
  });
  app.onError(onError);
}

function plainNotFound(c: Context<AppEnv>): Response {
  return errorResponse(c, new ApiError("not_found", "No such route."));
}
