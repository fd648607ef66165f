import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { ADMIN_ROUTES, runCommonAdminRouteTests } from "../support/admin-routes";
import { createAccount, createCredential } from "../support/http";

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
