import { OpenAPIHono } from "@hono/zod-openapi";
import { requireJsonBody } from "../../http/middleware";
import type { AppEnv } from "../../http/types";
import { validationHook } from "../../http/validation";
import { registerAccountRoutes } from "./accounts";
import { registerApiRoutes } from "./apis";
import { registerAuditEventRoutes } from "./audit-events";
import { limitWrites, requireAdmin, scopeToOrganization } from "./auth";
import { registerCredentialRoutes } from "./credentials";
import { registerOrganizationRoutes } from "./organizations";
import { registerUsageRoutes } from "./usage";
import { registerWebhookRoutes } from "./webhooks";
import { sendWebhooksAfterChanges } from "../webhook-sender";

/** The management API, mounted at /admin/v1. Every route here is admin-only. */
export function adminApi() {
  const admin = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
  admin.use("*", requireAdmin(), scopeToOrganization(), limitWrites(), requireJsonBody(), sendWebhooksAfterChanges());
  registerOrganizationRoutes(admin);
  registerAccountRoutes(admin);
  registerCredentialRoutes(admin);
  registerApiRoutes(admin);
  registerAuditEventRoutes(admin);
  registerUsageRoutes(admin);
  registerWebhookRoutes(admin);
  return admin;
}
