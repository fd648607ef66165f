import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { errorResponse, ApiError } from "./http/errors";
import { handleFailures, useCommonMiddleware } from "./http/handling";
import type { AppEnv } from "./http/types";
import { validationHook } from "./http/validation";
import { adminApi } from "./routes/admin";
import { consoleApp, consoleNotFound } from "./routes/console";
import { registerDocs } from "./routes/docs";
import { registerHotRoutes } from "./routes/hot";
import { healthRoute } from "./routes/health.openapi";
import { introspectRoute, revokeRoute } from "./routes/oauth/introspect-revoke.openapi";
import { jwksRoute, metadataRoute } from "./routes/oauth/metadata.openapi";
import { tokenRoute } from "./routes/oauth/token.openapi";
import { testAuthRoute } from "./routes/test-auth.openapi";
import { SECRET_SCANNING_PATH, registerSecretScanningRoute } from "./routes/secret-scanning";

/**
 * The complete app: every route, each declared for the OpenAPI document. The Worker loads it on
 * the first request for the admin API, the console or the docs (src/hot-app.ts); the hot routes
 * are served by the hot app, which shares their handlers, so here they are registered for the
 * document and the route list only. Tests build it to list and document every route.
 */
export function createApp() {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  // The secret-scanning route sets its own, larger limit (GitHub's reports, up to 1 MiB).
  useCommonMiddleware(app, { ownBodyLimit: [SECRET_SCANNING_PATH] });

  registerHotRoutes(app);
  // The hot routes take no zod-validated input (the OAuth forms are read by readForm), so
  // registering their declarations is all app.openapi() would add to them.
  for (const route of [healthRoute, tokenRoute, introspectRoute, revokeRoute, metadataRoute, jwksRoute, testAuthRoute]) {
    app.openAPIRegistry.registerPath(route);
  }
  registerSecretScanningRoute(app);
  app.route("/admin/v1", adminApi());
  app.route("/console", consoleApp());
  registerDocs(app);

  handleFailures(app, (c: Context<AppEnv>) => {
    if (c.req.path === "/console" || c.req.path.startsWith("/console/")) return consoleNotFound(c);
    return errorResponse(c, new ApiError("not_found", "No such route."));
  });
  return app;
}
