import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { call, json } from "../support/http";

/** Hono's `:id` style path → OpenAPI's `{id}` style. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, "{$1}");

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document with the three security schemes", async () => {
    const response = await call("/openapi.json", { token: null });
    expect(response.status).toBe(200);
    const doc = await json(response);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "http://localhost:8787" }]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["adminBearer", "bearer", "clientBasic"]);
    expect(doc.components.schemas.Error.required).toEqual(["error", "error_description"]);
  });

  it("documents every route the app serves", async () => {
    const doc = await json(await call("/openapi.json", { token: null }));
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const served = createApp()
      .routes.filter((route) => route.method !== "ALL" && route.path !== "/openapi.json")
      .map((route) => `${route.method} ${openApiPath(route.path)}`);
    const missing = [...new Set(served)].filter((route) => !documented.has(route));
    expect(missing).toEqual([]);
  });

  it("declares request and response schemas, with the error shape on failures", async () => {
    const doc = await json(await call("/openapi.json", { token: null }));
    const create = doc.paths["/admin/v1/credentials"].post;
    expect(create.requestBody.content["application/json"].schema).toBeDefined();
    expect(create.responses["201"].content["application/json"].schema.$ref).toBe("#/components/schemas/CredentialWithSecret");
    expect(create.responses["400"].content["application/json"].schema.$ref).toBe("#/components/schemas/Error");
    expect(doc.paths["/oauth/token"].post.security).toEqual([{ clientBasic: [] }, {}]);
    expect(doc.paths["/v1/test-auth"].get.security).toEqual([{ bearer: [] }]);
    expect(doc.paths["/healthz"].get.security).toEqual([]);
  });
});

describe("GET /docs", () => {
  it("serves the reference page with a CSP for that page alone", async () => {
    const response = await call("/docs", { token: null });
    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("cdn");
    const html = await response.text();
    expect(html).toContain('<script src="/docs/scalar.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
  });
});
