import { exportJWK, generateKeyPair } from "jose";
import * as oauth from "oauth4webapi";
import * as client from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "./dev-server";

/**
 * private_key_jwt and DPoP through two independent client libraries (oauth4webapi and
 * openid-client) against `npm run dev`, with server nonces required (DPOP_NONCE_REQUIRED=true),
 * so each library also meets the use_dpop_nonce challenge and answers it.
 */
describe("private_key_jwt and DPoP with real client libraries", () => {
  let server: DevServer;
  let clientId: string;
  let privateKey: CryptoKey;
  const kid = "interop-key-1";

  beforeAll(async () => {
    server = await startDevServer(["--var", "DPOP_NONCE_REQUIRED:true"]);
    const pair = await generateKeyPair("ES256", { extractable: true });
    privateKey = pair.privateKey as CryptoKey;
    const admin = (path: string, body: unknown) =>
      fetch(`${server.url}/admin/v1${path}`, {
        method: "POST",
        headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      }).then((response) => response.json());
    const account = await admin("/accounts", { name: "Interop signer", type: "service" });
    const credential = await admin("/credentials", {
      name: "interop signer",
      type: "oauth_client",
      account_id: account.id,
      scopes: ["events:read"],
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid }] },
      dpop_bound_access_tokens: true,
    });
    expect(credential.client_secret).toBeUndefined();
    clientId = credential.client_id;
  });
  afterAll(async () => server?.stop());

  it("oauth4webapi: PrivateKeyJwt client auth and a DPoP-bound token, through the nonce challenge", async () => {
    const options = { [oauth.allowInsecureRequests]: true };
    const issuer = new URL(server.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...options }));
    expect(as.token_endpoint_auth_methods_supported).toContain("private_key_jwt");
    expect(as.dpop_signing_alg_values_supported).toContain("ES256");
    const c: oauth.Client = { client_id: clientId };
    const auth = oauth.PrivateKeyJwt({ key: privateKey, kid });
    const dpopKeys = await oauth.generateKeyPair("ES256");
    const DPoP = oauth.DPoP(c, dpopKeys);
    const request = () => oauth.clientCredentialsGrantRequest(as, c, auth, new URLSearchParams(), { ...options, DPoP });
    let tokens: oauth.TokenEndpointResponse;
    try {
      tokens = await oauth.processClientCredentialsResponse(as, c, await request());
      throw new Error("expected the nonce challenge first");
    } catch (error) {
      expect(oauth.isDPoPNonceError(error)).toBe(true);
      tokens = await oauth.processClientCredentialsResponse(as, c, await request()); // DPoP now holds the nonce
    }
    expect(tokens.token_type).toBe("dpop");
    // The resource side: a proof for GET /v1/test-auth with ath, and the current nonce.
    const url = new URL(`${server.url}/v1/test-auth`);
    let response = await oauth.protectedResourceRequest(tokens.access_token, "GET", url, new Headers(), null, { ...options, DPoP });
    if (response.status === 401) response = await oauth.protectedResourceRequest(tokens.access_token, "GET", url, new Headers(), null, { ...options, DPoP });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, credential_type: "oauth_client" });
    // The same token as a plain bearer token is refused.
    const bearer = await fetch(url, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(bearer.status).toBe(401);
  });

  it("openid-client: PrivateKeyJwt client auth and DPoP, retrying the nonce challenge by itself", async () => {
    const config = await client.discovery(new URL(server.url), clientId, undefined, client.PrivateKeyJwt({ key: privateKey, kid }), {
      algorithm: "oauth2",
      execute: [client.allowInsecureRequests],
    });
    const DPoP = client.getDPoPHandle(config, await client.randomDPoPKeyPair("ES256"));
    const tokens = await client.clientCredentialsGrant(config, { scope: "events:read" }, { DPoP });
    expect(tokens.token_type).toBe("dpop");
    expect(tokens.scope).toBe("events:read");
    const response = await client.fetchProtectedResource(config, tokens.access_token, new URL(`${server.url}/v1/test-auth`), "GET", undefined, undefined, { DPoP });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ ok: true, scopes: ["events:read"] });
  });
});
