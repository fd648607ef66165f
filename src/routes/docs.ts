import type { OpenAPIHono } from "@hono/zod-openapi";
import { secureHeaders } from "hono/secure-headers";
import { settings } from "../config";
import type { AppEnv } from "../http/types";

/**
 * GET /openapi.json (OpenAPI 3.1, generated from the routes' own declarations) and GET /docs,
 * an interactive reference (Scalar). Scalar's script is a static asset of this Worker
 * (public/docs/scalar.js, copied from @scalar/api-reference by scripts/vendor-assets.mjs), so the
 * page works offline, and its CSP is written for this page alone: the console's stays strict.
 *
 * The document describes the API, and nothing else: pages for a browser (this reference, the
 * console) and their assets are left out, so that generated clients and gateways see only what
 * a program calls. test/docs/openapi.test.ts checks that every other route is in it.
 */

const DOCS_CSP = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  // Scalar injects its styles at run time.
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", "data:"],
  fontSrc: ["'self'", "data:"],
  connectSrc: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
};

const DOCS_HTML = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>Keymint API reference</title>
  </head>
  <body>
    <div id="app"></div>
    <script src="/docs/scalar.js"></script>
    <script src="/docs/init.js"></script>
  </body>
</html>`;

const DOCS_INIT = `Scalar.createApiReference("#app", { url: "/openapi.json", withDefaultFonts: false, hideClientButton: true });`;

export function registerDocs(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent("securitySchemes", "adminBearer", {
    type: "http",
    scheme: "bearer",
    description:
      "ADMIN_TOKEN, or an access token whose scope contains `admin`. With Cloudflare Access configured, a `Cf-Access-Jwt-Assertion` header works too.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "clientBasic", {
    type: "http",
    scheme: "basic",
    description:
      "client_secret_basic: client_id and client_secret (RFC 6749 §2.3.1). client_secret_post sends them as `client_id` and `client_secret` in the form instead: that is the empty alternative (`{}`) in these operations' security.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "An API key (km_live_…) or an access token.",
  });

  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Keymint",
      version: "1.0.0",
      description:
        "API credentials at the edge: OAuth 2.0 clients and API keys for service accounts, 60-second ES256 access tokens, revocation that reaches tokens already issued.",
    },
    servers: [{ url: settings(c.env).issuer }],
    // Admin routes by default; every other route states its own.
    security: [{ adminBearer: [] }],
  }));

  app.get("/docs", secureHeaders({ contentSecurityPolicy: DOCS_CSP, crossOriginEmbedderPolicy: false }), (c) => c.html(DOCS_HTML));
  app.get("/docs/init.js", (c) => c.body(DOCS_INIT, 200, { "Content-Type": "text/javascript; charset=utf-8", "Cache-Control": "public, max-age=300" }));
}
