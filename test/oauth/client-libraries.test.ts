import { exports } from "cloudflare:workers";
import * as oauth from "oauth4webapi";
import * as openid from "openid-client";
import { beforeAll, describe, expect, it } from "vitest";
import { call, createAccount, createCredential, json } from "../support/http";
import { testAuth } from "../support/oauth";

/** OAuth client libraries against the Worker in-process: oauth4webapi (a strict RFC client) and openid-client. */

const ISSUER = new URL("http://localhost:8787");

interface Seen {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | null;
}

function transport() {
  const seen: Seen[] = [];
  const options = {
    [oauth.allowInsecureRequests]: true,
    [oauth.customFetch]: async (url: string, init: oauth.CustomFetchOptions<string, unknown>) => {
      const request = new Request(url, init as RequestInit);
      seen.push({ url, method: request.method, headers: { ...init.headers }, body: request.body ? new TextDecoder().decode(await request.clone().arrayBuffer()) : null });
      return exports.default.fetch(request);
    },
  };
  return { seen, options };
}

async function discover(options: ReturnType<typeof transport>["options"]) {
  return oauth.processDiscoveryResponse(ISSUER, await oauth.discoveryRequest(ISSUER, { ...options, algorithm: "oauth2" }));
}

describe("RFC 8414 metadata", () => {
  it("publishes the endpoints, grant, auth methods and ES256", async () => {
    const response = await call("/.well-known/oauth-authorization-server", { token: null });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const metadata = await json(response);
    expect(metadata).toMatchObject({
      issuer: "http://localhost:8787",
      token_endpoint: "http://localhost:8787/oauth/token",
      jwks_uri: "http://localhost:8787/.well-known/jwks.json",
      introspection_endpoint: "http://localhost:8787/oauth/introspect",
      revocation_endpoint: "http://localhost:8787/oauth/revoke",
      grant_types_supported: ["client_credentials"],
    });
    expect([...metadata.token_endpoint_auth_methods_supported].sort()).toEqual(["client_secret_basic", "client_secret_post", "private_key_jwt"]);
    expect(metadata.token_endpoint_auth_signing_alg_values_supported).toEqual(["ES256", "PS256", "RS256", "EdDSA"]);
    expect(metadata.dpop_signing_alg_values_supported).toEqual(["ES256", "PS256", "RS256", "EdDSA"]);
    expect(metadata.introspection_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["client_secret_basic", "client_secret_post"]));
    expect(metadata.revocation_endpoint_auth_methods_supported).toEqual(expect.arrayContaining(["client_secret_basic", "client_secret_post"]));
    expect(metadata.token_endpoint_auth_methods_supported).not.toContain("none");
    // RFC 9068 access tokens are ES256; whichever field a client reads says so.
    expect(metadata.access_token_signing_alg_values_supported).toEqual(["ES256"]);
  });

  it("is accepted by oauth4webapi's discovery (issuer matches)", async () => {
    const { options, seen } = transport();
    const as = await discover(options);
    expect(seen.map((s) => s.url)).toEqual(["http://localhost:8787/.well-known/oauth-authorization-server"]);
    expect(as.issuer).toBe("http://localhost:8787");
    expect(as.token_endpoint).toBe("http://localhost:8787/oauth/token");
  });
});

describe("oauth4webapi client credentials grant", () => {
  let account: any;
  let credential: any;
  beforeAll(async () => {
    account = await createAccount();
    credential = await createCredential(account.id, "oauth_client", ["orders:read", "orders:write"]);
  });

  for (const method of ["client_secret_basic", "client_secret_post"] as const) {
    it(`completes with ${method}, and the token validates as an RFC 9068 JWT`, async () => {
      const { options, seen } = transport();
      const as = await discover(options);
      const client: oauth.Client = { client_id: credential.client_id };
      const auth = method === "client_secret_basic" ? oauth.ClientSecretBasic(credential.client_secret) : oauth.ClientSecretPost(credential.client_secret);

      const response = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams({ scope: "orders:read" }), options);
      const result = await oauth.processClientCredentialsResponse(as, client, response);
      expect(result.token_type).toBe("bearer"); // oauth4webapi lowercases it
      expect(result.expires_in).toBe(60);
      expect(result.scope).toBe("orders:read");

      const tokenCall = seen.find((s) => s.url === "http://localhost:8787/oauth/token")!;
      const authorization = Object.entries(tokenCall.headers).find(([name]) => name.toLowerCase() === "authorization")?.[1];
      const body = new URLSearchParams(tokenCall.body ?? "");
      if (method === "client_secret_basic") {
        expect(authorization).toMatch(/^Basic /);
        expect(body.has("client_secret")).toBe(false);
      } else {
        expect(authorization).toBeUndefined();
        expect(body.get("client_secret")).toBe(credential.client_secret);
      }

      // The resource-server side of oauth4webapi: typ at+jwt, iss, aud, required claims, JWKS signature.
      const claims = await oauth.validateJwtAccessToken(
        as,
        new Request("https://api.example/resource", { headers: { authorization: `Bearer ${result.access_token}` } }),
        "http://localhost:8787",
        options,
      );
      expect(claims).toMatchObject({ sub: account.id, client_id: credential.client_id, cid: credential.id, scope: "orders:read" });
      expect(seen.some((s) => s.url === "http://localhost:8787/.well-known/jwks.json")).toBe(true);

      expect((await testAuth(result.access_token)).status).toBe(200);
    });
  }

  it("surfaces invalid_client to oauth4webapi for a wrong secret", async () => {
    const { options } = transport();
    const as = await discover(options);
    const client: oauth.Client = { client_id: credential.client_id };
    const other = await createCredential(account.id, "oauth_client", []);
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(other.client_secret), new URLSearchParams(), options);
    expect(response.status).toBe(401);
    const error = await oauth.processClientCredentialsResponse(as, client, response.clone()).catch((e: unknown) => e);
    // The Basic challenge reaches the library, which reports it as such.
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    expect((error as oauth.WWWAuthenticateChallengeError).cause.map((challenge) => challenge.scheme)).toEqual(["basic"]);
    expect(await json(response)).toMatchObject({ error: "invalid_client" });
  });

  it("introspects and revokes through oauth4webapi", async () => {
    const { options } = transport();
    const as = await discover(options);
    const client: oauth.Client = { client_id: credential.client_id };
    const auth = oauth.ClientSecretBasic(credential.client_secret);
    const token = (await oauth.processClientCredentialsResponse(as, client, await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams(), options)))
      .access_token;

    const active = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token, options));
    expect(active).toMatchObject({ active: true, client_id: credential.client_id, sub: account.id, scope: "orders:read orders:write" });

    await oauth.processRevocationResponse(await oauth.revocationRequest(as, client, auth, token, options));
    const inactive = await oauth.processIntrospectionResponse(as, client, await oauth.introspectionRequest(as, client, auth, token, options));
    expect(inactive.active).toBe(false);
    expect((await testAuth(token)).status).toBe(401);
  });
});

describe("openid-client (the higher-level client built on oauth4webapi)", () => {
  it("discovers, gets a token with client_secret_post and client_secret_basic, introspects and revokes", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "oauth_client", ["jobs:run"]);
    const fetcher: openid.CustomFetch = (url, init) => exports.default.fetch(new Request(url, init as RequestInit));
    for (const auth of [openid.ClientSecretPost(credential.client_secret), openid.ClientSecretBasic(credential.client_secret)]) {
      const config = await openid.discovery(ISSUER, credential.client_id, undefined, auth, {
        algorithm: "oauth2",
        execute: [openid.allowInsecureRequests],
        [openid.customFetch]: fetcher,
      });
      expect(config.serverMetadata().issuer).toBe("http://localhost:8787");
      const tokens = await openid.clientCredentialsGrant(config, { scope: "jobs:run" });
      expect(tokens.token_type).toBe("bearer");
      expect(tokens.expires_in).toBe(60);
      expect((await testAuth(tokens.access_token)).status).toBe(200);
      expect((await openid.tokenIntrospection(config, tokens.access_token)).active).toBe(true);
      await openid.tokenRevocation(config, tokens.access_token);
      expect((await openid.tokenIntrospection(config, tokens.access_token)).active).toBe(false);
      expect((await testAuth(tokens.access_token)).status).toBe(401);
    }
  });
});
