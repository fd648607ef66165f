import { Hono } from "hono";
import type { Context } from "hono";
import { handleFailures, useCommonMiddleware } from "./http/handling";
import type { AppEnv } from "./http/types";
import { registerHotRoutes } from "./routes/hot";

/**
 * The Worker's HTTP entry. Cold start is CPU a client waits for, so module evaluation does only
 * what the hot routes need: the token endpoint, test-auth, introspection, revocation, metadata,
 * JWKS and health, on a plain Hono app, without zod (their OpenAPI declarations live in
 * `*.openapi.ts` files beside them, which only the complete app imports).
 *
 * The admin API, the console, the docs and the secret-scanning endpoint (and every zod schema) are in the complete app
 * (src/app.ts), imported on the first request for one of their paths. esbuild bundles a dynamic
 * import() of a bundled module as a lazily initialised module, so its top-level code (schema
 * construction, route registration) runs then, not at start-up. That app has its own request log,
 * body limit, 404/405 and error handling, so those paths skip this app's middleware.
 */

/**
 * Paths served by the complete app. Every route outside them is a hot route (or no route at all),
 * so each app's 404 vs 405 answer is the same as one app holding every route would give
 * (test/app/hot-app.test.ts checks it).
 */
export const COMPLETE_APP_PATHS = ["/admin/v1", "/admin/v1/*", "/console", "/console/*", "/docs", "/docs/*", "/openapi.json", "/secret-scanning/*"];

export function createHotApp() {
  const app = new Hono<AppEnv>();
  let complete: Promise<Hono<AppEnv>> | undefined;
  const toCompleteApp = async (c: Context<AppEnv>) => {
    complete ??= import("./app").then(
      ({ createApp }) => createApp(),
      (error: unknown) => {
        complete = undefined; // let the next request try again
        throw error;
      },
    );
    return (await complete).fetch(c.req.raw, c.env, c.executionCtx);
  };
  // Registered before the middleware, so these paths reach the complete app untouched.
  for (const path of COMPLETE_APP_PATHS) app.all(path, toCompleteApp);

  useCommonMiddleware(app, { sampleSuccesses: true });
  registerHotRoutes(app);
  handleFailures(app);
  return app;
}
