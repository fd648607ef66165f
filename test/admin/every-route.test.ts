import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { ADMIN_ROUTES, runCommonAdminRouteTests } from "../support/admin-routes";
import { call, createAccount, createCredential, expectError, json, snapshot } from "../support/http";
import { testAuth, tokenFor } from "../support/oauth";

/**
 * What every /admin/v1 route must do alike: the route table (test/support/admin-routes.ts) lists
 * every route the app serves, each route refuses missing or wrong credentials and bad bodies the
 * same way, and an access token opens it only with scope admin.
 */

describe("the common admin route table", () => {
  it("lists every /admin/v1 route the app serves", () => {
    const served = createApp()
      .routes.filter((route) => route.path.startsWith("/admin/v1/") && route.method !== "ALL")
      .map((route) => `${route.method} ${route.path.replace(/:id/g, "{id}")}`);
    const covered = ADMIN_ROUTES.map((route) => `${route.method} ${route.path.replace(/cred_0+/g, "{id}")}`);
    expect(new Set(covered)).toEqual(new Set(served));
  });
});

runCommonAdminRouteTests(ADMIN_ROUTES, async () => {
  const account = await createAccount();
  const key = await createCredential(account.id, "api_key", ["admin"]);
  const client = await createCredential(account.id, "oauth_client", ["admin"]);
  return [
    { label: "an API key, even with scope admin", token: key.api_key, status: 401, code: "unauthorized" },
    { label: "a client secret", token: client.client_secret, status: 401, code: "unauthorized" },
  ];
});

/**
 * The contract's 403 row: a valid access token without scope `admin` is known but not allowed,
 * on every admin route; the same kind of token with `admin` is let through (the control).
 */
describe("access tokens on admin routes", () => {
  async function tokenWithScopes(scopes: string[]) {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", scopes);
    return tokenFor(client);
  }

  for (const route of ADMIN_ROUTES) {
    const send = (token: string) => call(route.path, { method: route.method, body: route.body, token });

    it(`${route.method} ${route.path}: scope admin:read ${route.method === "GET" ? "reads" : "gets 403 forbidden and changes nothing"}`, async () => {
      const token = await tokenWithScopes(["admin:read"]);
      const before = await snapshot();
      const response = await send(token);
      if (route.method === "GET") expect(response.status, await response.clone().text()).not.toBe(403);
      else await expectError(response, 403, "forbidden");
      expect(await snapshot()).toBe(before);
    });

    it(`${route.method} ${route.path}: 403 forbidden without scope admin, and nothing changes`, async () => {
      // No scopes at all, and scopes that merely look like admin.
      for (const scopes of [[], ["read", "administrator", "admin:write", "admin:readonly"]]) {
        const token = await tokenWithScopes(scopes);
        expect((await testAuth(token)).status, "the token itself is valid").toBe(200);
        const before = await snapshot();
        const response = await send(token);
        expect(response.headers.get("content-type"), `scopes ${scopes}`).toMatch(/^application\/json/);
        const body = await expectError(response, 403, "forbidden");
        expect(Object.keys(body).sort(), `scopes ${scopes}`).toEqual(["error", "error_description"]);
        expect(await snapshot(), `scopes ${scopes}`).toBe(before);
      }
    });

    it(`${route.method} ${route.path}: with scope admin, answers as the admin token does`, async () => {
      const token = await tokenWithScopes(["read", "admin"]);
      const response = await send(token);
      expect([401, 403], `${route.method} ${route.path}`).not.toContain(response.status);
      const control = await call(route.path, { method: route.method, body: route.body });
      expect(response.status).toBe(control.status);
      if (response.status >= 400) expect((await json(response)).error).toBe((await json(control)).error);
    });
  }
});
