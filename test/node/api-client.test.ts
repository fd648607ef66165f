import createClient from "openapi-fetch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { paths } from "../../examples/api-client/schema";
import { type DevServer, startDevServer } from "./dev-server";

/**
 * The README's API tour through a generated client, as a user of the OpenAPI document would
 * write it: the committed types from openapi-typescript (examples/api-client/schema.d.ts, kept
 * current by `npm run openapi:check`) and openapi-fetch, against `npm run dev`. The types are
 * checked by `tsc -p tsconfig.node.json`, so a request or response the document gets wrong
 * fails here twice: at compile time, and at run time.
 */
describe("a client generated from /openapi.json, against npm run dev", () => {
  let server: DevServer;
  beforeAll(async () => {
    server = await startDevServer();
  });
  afterAll(async () => server?.stop());

  const FORM = { "Content-Type": "application/x-www-form-urlencoded" } as const;
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;

  it("takes the README's tour: account, credential, token, test-auth, roll, delete", async () => {
    const admin = createClient<paths>({ baseUrl: server.url, headers: { Authorization: `Bearer ${server.adminToken}` } });
    const anyone = createClient<paths>({ baseUrl: server.url });

    // An account for the integration, and an OAuth 2.0 client for it.
    const account = await admin.POST("/admin/v1/accounts", { body: { name: "Billing sync", type: "service" } });
    expect(account.response.status).toBe(201);
    const accountId = account.data!.id;
    const created = await admin.POST("/admin/v1/credentials", {
      body: { name: "billing-sync prod", type: "oauth_client", account_id: accountId, scopes: ["events:write"] },
    });
    expect(created.response.status).toBe(201);
    // 201 with the secret; 200 (a retry with the same Idempotency-Key) would be without it.
    const credential = created.data!;
    if (!("client_secret" in credential)) throw new Error("a new credential comes with its secret");
    expect(credential).toMatchObject({ account_id: accountId, type: "oauth_client", scopes: ["events:write"] });
    const clientId = credential.client_id!;
    const clientSecret = credential.client_secret!;

    // The client trades its credentials for a 60-second access token ...
    const tokenFor = (secret: string) =>
      anyone.POST("/oauth/token", { body: { grant_type: "client_credentials" }, headers: { ...FORM, Authorization: basic(clientId, secret) } });
    const token = await tokenFor(clientSecret);
    expect(token.response.status).toBe(200);
    expect(token.data).toMatchObject({ token_type: "Bearer", expires_in: 60, scope: "events:write" });
    const accessToken = token.data!.access_token;

    // ... which Test Auth accepts.
    const testAuth = (bearer: string) => anyone.GET("/v1/test-auth", { headers: { Authorization: `Bearer ${bearer}` } });
    const accepted = await testAuth(accessToken);
    // The contract ("APIs and audiences"): test-auth also answers the token's aud and its grants.
    expect(accepted.data).toEqual({
      ok: true,
      account_id: accountId,
      organization_id: "org_default",
      credential_id: credential.id,
      credential_type: "oauth_client",
      scopes: ["events:write"],
      aud: server.url,
      grants: [{ api: server.url, scopes: ["events:write"] }],
      claims: {},
    });

    // API keys work at Test Auth directly.
    const key = (await admin.POST("/admin/v1/credentials", { body: { name: "legacy webhook", type: "api_key", account_id: accountId } })).data!;
    if (!("api_key" in key)) throw new Error("a new API key comes with its secret");
    expect((await testAuth(key.api_key!)).data).toMatchObject({ ok: true, credential_type: "api_key" });

    // Lists never show a secret; the audit log records every change.
    const list = await admin.GET("/admin/v1/credentials", { params: { query: { account_id: accountId, limit: 10 } } });
    expect(list.data!.data.map((item) => item.id).sort()).toEqual([credential.id, key.id].sort());
    expect(JSON.stringify(list.data)).not.toContain(clientSecret);
    const audit = await admin.GET("/admin/v1/audit-events", { params: { query: { target_id: credential.id } } });
    expect(audit.data!.data.map((event) => event.action)).toEqual(["credential.create"]);

    // Roll the secret: the new one works, the old one stops at once (expires_in 0).
    const rolled = await admin.POST("/admin/v1/credentials/{id}/roll", { params: { path: { id: credential.id } }, body: { expires_in: 0 } });
    expect(rolled.response.status).toBe(200);
    const newSecret = rolled.data!.client_secret!;
    expect(newSecret).not.toBe(clientSecret);
    expect((await tokenFor(newSecret)).response.status).toBe(200);
    const refused = await tokenFor(clientSecret);
    expect(refused.response.status).toBe(401);
    expect(refused.error).toMatchObject({ error: "invalid_client" });

    // Delete the client: its secret and the token above stop working at once.
    const deleted = await admin.DELETE("/admin/v1/credentials/{id}", { params: { path: { id: credential.id } } });
    expect(deleted.response.status).toBe(204);
    const rejected = await testAuth(accessToken);
    expect(rejected.response.status).toBe(401);
    expect(rejected.error).toMatchObject({ error: "invalid_token" });
    expect((await admin.GET("/admin/v1/credentials/{id}", { params: { path: { id: credential.id } } })).error).toMatchObject({ error: "not_found" });
  });
});
