import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { call, json } from "../support/http";

/** The console and the reference itself are pages, not API: the document leaves them out. */
const isPage = (path: string) => /^\/(console|docs)(\/|$)/.test(path);

/** Hono's `:id` style path → OpenAPI's `{id}` style. */
const openApiPath = (path: string) => path.replace(/:([A-Za-z_]+)/g, "{$1}");

describe("GET /openapi.json", () => {
  it("is an OpenAPI 3.1 document with its security schemes (GitHub's two signature headers included)", async () => {
    const response = await call("/openapi.json", { token: null });
    expect(response.status).toBe(200);
    const doc = await json(response);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "http://localhost:8787" }]);
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["adminBearer", "bearer", "clientBasic", "githubKeyIdentifier", "githubSignature"]);
    expect(doc.components.schemas.Error.required).toEqual(["error", "error_description"]);
  });

  it("documents every route the app serves, except the pages for a browser", async () => {
    const doc = await json(await call("/openapi.json", { token: null }));
    const documented = new Set<string>();
    for (const [path, operations] of Object.entries(doc.paths as Record<string, Record<string, unknown>>)) {
      for (const method of Object.keys(operations)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const served = createApp()
      .routes.filter((route) => route.method !== "ALL" && route.path !== "/openapi.json" && !isPage(route.path))
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

/** Every schema in the document that carries an `example`, with its JSON pointer. */
function schemasWithExamples(node: unknown, pointer = ""): string[] {
  if (typeof node !== "object" || node === null) return [];
  const found = Object.entries(node).flatMap(([key, child]) =>
    schemasWithExamples(child, `${pointer}/${key.replaceAll("~", "~0").replaceAll("/", "~1")}`),
  );
  return "example" in node && ("type" in node || "enum" in node || "$ref" in node) ? [pointer, ...found] : found;
}

describe("GET /openapi.json, examples and pages", () => {
  it("gives examples that are valid against their own schemas", async () => {
    const doc = await json(await call("/openapi.json", { token: null }));
    const ajv = new Ajv2020({ strict: false });
    addFormats(ajv);
    ajv.addSchema(doc, "doc");
    const pointers = schemasWithExamples(doc);
    expect(pointers.length).toBeGreaterThan(10);
    const invalid = pointers.filter((pointer) => {
      const schema = pointer.split("/").slice(1).reduce((node: any, key) => node[key.replaceAll("~1", "/").replaceAll("~0", "~")], doc);
      return !ajv.validate({ $ref: `doc#${pointer}` }, schema.example);
    });
    expect(invalid).toEqual([]);
  });

  it("accepts exactly the names its schema allows (trimmed, 1-100 code points, no controls, not blank)", async () => {
    const doc = await json(await call("/openapi.json", { token: null }));
    const ajv = new Ajv2020({ strict: false });
    const valid = ajv.compile({ ...doc.paths["/admin/v1/accounts"].post.requestBody.content["application/json"].schema });
    const char = fc.oneof(
      { weight: 4, arbitrary: fc.constantFrom("a", "Z", "é", "😀", "請") },
      { weight: 2, arbitrary: fc.constantFrom(" ", "\t", "\n", "\u00A0", "\u3000", "\uFEFF") },
      { weight: 1, arbitrary: fc.constantFrom("\u0000", "\u007F", "\u0085", "\u202E", "\u2067", "\uD800", "\uDC00") },
    );
    const name = fc.oneof(fc.string({ unit: char, maxLength: 8 }), fc.string({ unit: char, minLength: 95, maxLength: 106 }));
    await fc.assert(
      fc.asyncProperty(name, async (name) => {
        const body = { name, type: "service" };
        const response = await call("/admin/v1/accounts", { method: "POST", body });
        expect(response.status, JSON.stringify(name)).toBe(valid(body) ? 201 : 400);
        if (response.status === 201) expect((await json(response)).name).toBe(name.trim());
      }),
      { seed: 17, numRuns: 80 },
    );
  });

  it("leaves the pages for a browser out", async () => {
    const doc = await json(await call("/openapi.json", { token: null }));
    expect(Object.keys(doc.paths).filter((path) => /^\/(console|docs)(\/|$)/.test(path))).toEqual([]);
    expect(doc.paths["/admin/v1/accounts"]).toBeDefined();
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
