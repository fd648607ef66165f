import type { Hono } from "hono";
import type { AppEnv } from "../http/types";
import { registerHealthRoute } from "./health";
import { registerIntrospectionRoutes } from "./oauth/introspect-revoke";
import { registerMetadataRoutes } from "./oauth/metadata";
import { registerTokenRoute } from "./oauth/token";
import { registerTestAuthRoute } from "./test-auth";

/**
 * The hot routes: what integrations call, all the time. Registered on the hot app (src/hot-app.ts)
 * and, beside their OpenAPI declarations, on the complete app (src/app.ts). No zod here.
 */
export function registerHotRoutes(app: Hono<AppEnv>): void {
  registerHealthRoute(app);
  registerTokenRoute(app);
  registerIntrospectionRoutes(app);
  registerMetadataRoutes(app);
  registerTestAuthRoute(app);
}
