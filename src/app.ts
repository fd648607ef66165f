import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ApiError, type ErrorCode, StoreUnavailableError, errorResponse } from "./http/errors";
import { limitBody, requestContext } from "./http/middleware";
import type { AppEnv } from "./http/types";
import { validationHook } from "./http/validation";
import { adminApi } from "./routes/admin";
import { consoleApp, consoleNotFound } from "./routes/console";
import { registerDocs } from "./routes/docs";
import { registerHealthRoute } from "./routes/health";
import { registerIntrospectionRoutes } from "./routes/oauth/introspect-revoke";
import { registerMetadataRoutes } from "./routes/oauth/metadata";
import { registerTokenRoute } from "./routes/oauth/token";
import { SECRET_SCANNING_PATH, registerSecretScanningRoute } from "./routes/secret-scanning";
import { registerTestAuthRoute } from "./routes/test-auth";

const HTTP_EXCEPTION_CODES: Record<number, ErrorCode> = {
  400: "invalid_request",
  401: "unauthorized",
  403: "forbidden",
  404: "not_found",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

/** Every failure leaves here in the contract's shape; nothing internal reaches the client. */
function onError(error: Error, c: Context<AppEnv>): Response {
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
function methodMatcher(app: OpenAPIHono<AppEnv>): (path: string) => string[] {
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

export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  app.use("*", requestContext());

  // The secret-scanning route sets its own, larger limit (GitHub's reports, up to 1 MiB).
  const defaultLimit = limitBody();
  app.use("*", (c, next) => (c.req.path === SECRET_SCANNING_PATH ? next() : defaultLimit(c, next)));

  registerHealthRoute(app);
  registerTokenRoute(app);
  registerIntrospectionRoutes(app);
  registerMetadataRoutes(app);
  registerTestAuthRoute(app);
  registerSecretScanningRoute(app);
  app.route("/admin/v1", adminApi());
  app.route("/console", consoleApp());
  registerDocs(app);

  const methodsFor = methodMatcher(app);
  app.notFound((c) => {
    const allowed = methodsFor(c.req.path);
    if (allowed.length) {
      return errorResponse(
        c,
        new ApiError("method_not_allowed", `Use ${allowed.join(", ")} on this path.`, { Allow: allowed.join(", ") }),
      );
    }
    if (c.req.path === "/console" || c.req.path.startsWith("/console/")) return consoleNotFound(c);
    return errorResponse(c, new ApiError("not_found", "No such route."));
  });
  app.onError(onError);
  return app;
}
