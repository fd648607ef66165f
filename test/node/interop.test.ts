import { Validator } from "@seriousme/openapi-schema-validator";
import * as oauth from "oauth4webapi";
import * as client from "openid-client";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "./dev-server";

/**
 * Interop: two independent OAuth client libraries (panva's openid-client and oauth4webapi)
 * against `npm run dev`, as an integration would use Keymint: RFC 8414 discovery, the client
 * credentials grant with both client authentication methods, introspection and revocation.
 */
describe("OAuth libraries against npm run dev", () => {
  let server: DevServer;
  let clientId: string;
  let clientSecret: string;
  /** An API (RFC 8707 resource) the client has a grant on. */
  let resource: string;

  beforeAll(async () => {
    server = await startDevServer();
    const admin = (path: string, body: unknown) =>
      fetch(`${server.url}/admin/v1${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((response) => response.json());
    const account = await admin("/accounts", { name: "Interop", type: "service" });
    resource = "https://billing.interop.example.com";
    await admin("/apis", { name: "Billing", identifier: resource, scopes: ["invoices:read", "invoices:write"] });
    const credential = await admin("/credentials", {
      name: "interop",
      type: "oauth_client",
      account_id: account.id,
      scopes: ["events:write", "events:read"],
      grants: [{ api: resource, scopes: ["invoices:read"] }],
    });
    clientId = credential.client_id;
    clientSecret = credential.client_secret;
  });
  afterAll(async () => server?.stop());

  describe("openid-client", () => {
    const configure = (auth: client.ClientAuth) =>
      client.discovery(new URL(server.url), clientId, undefined, auth, { algorithm: "oauth2", execute: [client.allowInsecureRequests] });

    for (const [name, auth] of [
      ["client_secret_basic", () => client.ClientSecretBasic(clientSecret)],
      ["client_secret_post", () => client.ClientSecretPost(clientSecret)],
    ] as const) {
      it(`discovers the server and completes the client credentials grant (${name})`, async () => {
        const config = await configure(auth());
        expect(config.serverMetadata().issuer).toBe(server.url);
        const tokens = await client.clientCredentialsGrant(config, { scope: "events:write" });
        expect(tokens.token_type).toBe("bearer");
        expect(tokens.expires_in).toBe(60);
        expect(tokens.scope).toBe("events:write");
        const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!)), {
          issuer: server.url,
          audience: server.url,
          typ: "at+jwt",
        });
        expect(protectedHeader.alg).toBe("ES256");
        expect(payload.client_id).toBe(clientId);
      });
    }

    it("sends resource (RFC 8707) and gets a token for that API", async () => {
      const config = await configure(client.ClientSecretBasic(clientSecret));
      const tokens = await client.clientCredentialsGrant(config, { resource });
      expect(tokens.scope).toBe("invoices:read");
      const { payload } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(config.serverMetadata().jwks_uri!)), { issuer: server.url, audience: resource });
      expect(payload.aud).toBe(resource);
      const other = await client.clientCredentialsGrant(config, { resource: "https://unknown.interop.example.com" }).catch((e: unknown) => e);
      expect(other).toBeInstanceOf(client.ResponseBodyError);
      expect((other as client.ResponseBodyError).error).toBe("invalid_target");
      const atApi = await fetch(`${server.url}/v1/test-auth?audience=${encodeURIComponent(resource)}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(atApi.status).toBe(200);
      const elsewhere = await fetch(`${server.url}/v1/test-auth?audience=${encodeURIComponent(server.url)}`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(elsewhere.status).toBe(401);
    });

    it("introspects and revokes", async () => {
      const config = await configure(client.ClientSecretBasic(clientSecret));
      const { access_token } = await client.clientCredentialsGrant(config);
      const active = await client.tokenIntrospection(config, access_token);
      expect(active).toMatchObject({ active: true, client_id: clientId, scope: "events:write events:read" });
      await client.tokenRevocation(config, access_token);
      expect(await client.tokenIntrospection(config, access_token)).toEqual({ active: false });
    });
  });

  describe("oauth4webapi", () => {
    const discover = async () => {
      const issuer = new URL(server.url);
      return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", [oauth.allowInsecureRequests]: true }));
    };
    const options = { [oauth.allowInsecureRequests]: true };

    for (const [name, auth] of [
      ["client_secret_basic", () => oauth.ClientSecretBasic(clientSecret)],
      ["client_secret_post", () => oauth.ClientSecretPost(clientSecret)],
    ] as const) {
      it(`completes the client credentials grant (${name}), then introspects and revokes`, async () => {
        const as = await discover();
        const c: oauth.Client = { client_id: clientId };
        const response = await oauth.clientCredentialsGrantRequest(as, c, auth(), new URLSearchParams(), options);
        const tokens = await oauth.processClientCredentialsResponse(as, c, response);
        expect(tokens.expires_in).toBe(60);

        const introspected = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth(), tokens.access_token, options));
        expect(introspected.active).toBe(true);
        expect(introspected.sub).toMatch(/^acct_/);

        await oauth.processRevocationResponse(await oauth.revocationRequest(as, c, auth(), tokens.access_token, options));
        const after = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, auth(), tokens.access_token, options));
        expect(after.active).toBe(false);

        const test = await fetch(`${server.url}/v1/test-auth`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        expect(test.status).toBe(401);
      });
    }

    it("sends resource (RFC 8707) and gets a token whose aud is that API", async () => {
      const as = await discover();
      const c: oauth.Client = { client_id: clientId };
      const response = await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretBasic(clientSecret), new URLSearchParams({ resource }), options);
      const tokens = await oauth.processClientCredentialsResponse(as, c, response);
      expect(tokens.scope).toBe("invoices:read");
      const introspected = await oauth.processIntrospectionResponse(as, c, await oauth.introspectionRequest(as, c, oauth.ClientSecretBasic(clientSecret), tokens.access_token, options));
      expect(introspected.aud).toBe(resource);
    });

    it("gets invalid_client for a wrong secret", async () => {
      const as = await discover();
      const c: oauth.Client = { client_id: clientId };
      const response = await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretBasic(`${clientSecret.slice(0, -1)}${clientSecret.endsWith("x") ? "y" : "x"}`), new URLSearchParams(), options);
      const body = await response.clone().json();
      expect(body.error).toBe("invalid_client");
      // A failed Basic auth carries a Basic challenge, which oauth4webapi surfaces as such.
      const error = await oauth.processClientCredentialsResponse(as, c, response).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
      expect((error as oauth.WWWAuthenticateChallengeError).status).toBe(401);
      expect((error as oauth.WWWAuthenticateChallengeError).cause[0]?.scheme).toBe("basic");
    });
  });

  it("serves the API reference and its script offline", async () => {
    const page = await fetch(`${server.url}/docs`);
    expect(page.status).toBe(200);
    const script = await fetch(`${server.url}/docs/scalar.js`);
    expect(script.status).toBe(200);
    expect((await script.text()).length).toBeGreaterThan(100_000);
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    expect(doc.servers).toEqual([{ url: server.url }]);
  });

  it("serves an OpenAPI document that validates against the OpenAPI 3.1 schema", async () => {
    const doc = await (await fetch(`${server.url}/openapi.json`)).json();
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
  });
});
