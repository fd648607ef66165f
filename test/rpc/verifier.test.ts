import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { Verifier } from "../../src/index";
import { generateSecret } from "../../src/services/secrets";
import { BASE, call, createAccount, createCredential, json } from "../support/http";
import { basic, form, tokenFor } from "../support/oauth";

describe("Verifier.verify (RPC)", () => {
  const verifier = () => new Verifier(createExecutionContext(), env);

  it("returns the identity for an access token and for an API key", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["events:write"]);
    const key = await createCredential(account.id, "api_key", ["read"]);
    expect(await verifier().verify(await tokenFor(client))).toEqual({
      valid: true,
      account_id: account.id,
      organization_id: "org_default",
      credential_id: client.id,
      credential_type: "oauth_client",
      scopes: ["events:write"],
      aud: BASE,
      grants: [{ api: BASE, scopes: ["events:write"] }],
      claims: {},
    });
    expect(await verifier().verify(key.api_key)).toEqual({
      valid: true,
      account_id: account.id,
      organization_id: "org_default",
      credential_id: key.id,
      credential_type: "api_key",
      scopes: ["read"],
      aud: BASE,
      grants: [{ api: BASE, scopes: ["read"] }],
      claims: {},
    });
  });

  it("returns a reason, never throws, for bad input", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id);
    const genuine = await tokenFor(client);
    const [header, payload, signature] = genuine.split(".") as [string, string, string];
    // The first character carries six bits of r: changing it always changes the signature.
    const flipped = `${header}.${payload}.${signature.startsWith("A") ? "B" : "A"}${signature.slice(1)}`;
    const cases: [string, unknown, string][] = [
      ["empty string", "", "malformed"],
      ["junk", "junk", "malformed"],
      ["a JWT shape that is not a JWT", "a.b.c", "bad_signature"],
      ["an API key prefix with a broken body", "km_live_x", "malformed"],
      ["a number", 42, "malformed"],
      ["null", null, "malformed"],
      ["undefined", undefined, "malformed"],
      ["an object", { token: "x" }, "malformed"],
      ["a token longer than any we issue", `${header}.${payload}.${"A".repeat(5000)}`, "malformed"],
      ["a well-formed API key nobody holds", generateSecret("api_key"), "unknown"],
      ["a genuine token with a changed signature", flipped, "bad_signature"],
    ];
    const answers: Record<string, unknown> = {};
    for (const [label, input] of cases) answers[label] = await verifier().verify(input as string);
    expect(answers).toEqual(Object.fromEntries(cases.map(([label, , code]) => [label, { valid: false, code }])));
    // The genuine token it was made from is fine (so the changed signature is what failed).
    expect((await verifier().verify(genuine)).valid).toBe(true);
  });

  it("applies the same revocation as Test Auth: a deleted credential's token fails at once", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id);
    const token = await tokenFor(client);
    expect((await verifier().verify(token)).valid).toBe(true);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await verifier().verify(token)).toEqual({ valid: false, code: "revoked" });
  });
});

describe("examples/resource-server through its service binding", () => {
  const api = (path: string, bearer?: string, method = "GET") =>
    env.RESOURCE_SERVER.fetch(`http://example.test${path}`, { method, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} });

  it("lets a valid token in and shows who called", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["events:write"]);
    const response = await api("/api/whoami", await tokenFor(client));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ valid: true, account_id: account.id, credential_id: client.id });
    expect((await api("/api/events", await tokenFor(client), "POST")).status).toBe(202);
  });

  it("turns away missing, junk, revoked and under-scoped credentials", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key", []);
    expect((await api("/api/whoami")).status).toBe(401);
    expect((await api("/api/whoami", "junk")).status).toBe(401);
    expect((await api("/api/events", key.api_key, "POST")).status).toBe(403);
    expect((await call(`/admin/v1/accounts/${account.id}/deactivate`, { method: "POST" })).status).toBe(200);
    const revoked = await api("/api/whoami", key.api_key);
    expect(revoked.status).toBe(401);
    expect(revoked.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });
});

describe("examples/resource-server configured with its API's audience", () => {
  const billing = (path: string, bearer: string) => env.BILLING_SERVER.fetch(`http://example.test${path}`, { headers: { authorization: `Bearer ${bearer}` } });

  it("passes tokens for its API and API keys with a grant on it; turns away the default API's tokens and other keys", async () => {
    const created = await call("/admin/v1/apis", { method: "POST", body: { name: "Billing", identifier: env.BILLING_AUDIENCE, scopes: ["invoices:read"] } });
    expect([201, 409]).toContain(created.status); // one per test run's storage
    const account = await createAccount();
    const grants = [{ api: env.BILLING_AUDIENCE, scopes: ["invoices:read"] }];
    const client = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: "billing client", type: "oauth_client", account_id: account.id, grants } }));
    const key = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: "billing key", type: "api_key", account_id: account.id, grants } }));
    const other = await createCredential(account.id, "api_key");

    const forBilling = await form("/oauth/token", { grant_type: "client_credentials", resource: env.BILLING_AUDIENCE }, { authorization: basic(client.client_id, client.client_secret) });
    const { access_token } = await json(forBilling);
    const inside = await billing("/api/whoami", access_token);
    expect(inside.status).toBe(200);
    expect(await inside.json()).toMatchObject({ valid: true, aud: env.BILLING_AUDIENCE, scopes: ["invoices:read"] });
    expect((await billing("/api/whoami", await tokenFor(client))).status).toBe(401); // a token for the default API
    expect((await billing("/api/whoami", key.api_key)).status).toBe(200);
    expect((await billing("/api/whoami", other.api_key)).status).toBe(401);
  });
});

describe("examples/resource-server with a DPoP-bound token", () => {
  it("lets the token in with the DPoP scheme and a proof for the request, and refuses it as Bearer", async () => {
    const { SignJWT, base64url, exportJWK, generateKeyPair } = await import("jose");
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = await exportJWK(publicKey);
    const proofFor = (htm: string, htu: string, claims: Record<string, unknown> = {}) =>
      new SignJWT({ htm, htu, jti: crypto.randomUUID(), ...claims }).setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk }).setIssuedAt().sign(privateKey);
    const issued = await form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(client.client_id, client.client_secret), dpop: await proofFor("POST", `${BASE}/oauth/token`) });
    const { access_token: token, token_type } = await json(issued);
    expect(token_type).toBe("DPoP");
    const ath = base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token))));
    const url = "http://example.test/api/whoami";
    const inside = await env.RESOURCE_SERVER.fetch(url, { headers: { authorization: `DPoP ${token}`, dpop: await proofFor("GET", url, { ath }) } });
    expect(inside.status).toBe(200);
    const asBearer = await env.RESOURCE_SERVER.fetch(url, { headers: { authorization: `Bearer ${token}` } });
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toContain("DPoP");
  });
});
