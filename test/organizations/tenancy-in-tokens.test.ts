import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { Verifier } from "../../src/index";
import { BASE, call, createAccount, createCredential, json } from "../support/http";
import { basic, form, introspect, revoke, testAuth, tokenFor } from "../support/oauth";
import { createOrg, unique } from "../support/organizations";

/**
 * Organizations in tokens and verification (contract "Organizations (tenants)", access-token
 * claims, test-auth): a token carries `org_id`, the organization of its credential's account;
 * test-auth and the verify RPC answer `organization_id`, introspection `org_id`.
 */

const DEFAULT_ORG = "org_default";

const rpc = () => new Verifier(createExecutionContext(), env);

/** An organization with one account, an OAuth client and an API key in it. */
async function tenant(body: Record<string, unknown> = {}) {
  const org = await createOrg(body);
  const created = await call("/admin/v1/accounts", { method: "POST", body: { name: unique("account"), type: "service", organization_id: org.id } });
  expect(created.status, await created.clone().text()).toBe(201);
  const account = await json(created);
  expect(account.organization_id).toBe(org.id);
  const client = await createCredential(account.id, "oauth_client", ["read", "write"]);
  const key = await createCredential(account.id, "api_key", ["read"]);
  return { org, account, client, key };
}

/** A client in the default organization, to introspect other clients' tokens. */
async function observer() {
  return createCredential((await createAccount()).id, "oauth_client");
}

describe("org_id in access tokens", () => {
  it("a token minted by a credential of an account in an organization carries org_id: that organization's id", async () => {
    const { org, account, client } = await tenant();
    const claims = decodeJwt(await tokenFor(client, "read"));
    expect(claims).toMatchObject({ org_id: org.id, sub: account.id, cid: client.id, client_id: client.client_id, scope: "read", aud: BASE });
  });

  it("a token of a credential in the default organization carries org_id: org_default", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id);
    expect(decodeJwt(await tokenFor(client)).org_id).toBe(DEFAULT_ORG);
  });

  it("two organizations' tokens carry their own ids", async () => {
    const a = await tenant();
    const b = await tenant();
    expect(decodeJwt(await tokenFor(a.client)).org_id).toBe(a.org.id);
    expect(decodeJwt(await tokenFor(b.client)).org_id).toBe(b.org.id);
  });

  it("org_id is the organization's id, not its name or external_id, and stays after the organization is renamed", async () => {
    const { org, client } = await tenant({ external_id: `cus_${crypto.randomUUID()}` });
    const patched = await call(`/admin/v1/organizations/${org.id}`, {
      method: "PATCH",
      body: { name: unique("renamed"), external_id: `cus_${crypto.randomUUID()}` },
    });
    expect(patched.status).toBe(200);
    expect(decodeJwt(await tokenFor(client)).org_id).toBe(org.id);
  });

  it("a token for another API (RFC 8707 resource) carries org_id too, and test-auth answers it there", async () => {
    const identifier = `https://tenancy-${crypto.randomUUID()}.example.com`;
    expect((await call("/admin/v1/apis", { method: "POST", body: { name: unique("api"), identifier, scopes: ["invoices:read"] } })).status).toBe(201);
    const { org, account } = await tenant();
    const response = await call("/admin/v1/credentials", {
      method: "POST",
      body: { name: unique("client"), type: "oauth_client", account_id: account.id, grants: [{ api: identifier, scopes: ["invoices:read"] }] },
    });
    expect(response.status, await response.clone().text()).toBe(201);
    const client = await json(response);
    const issued = await form("/oauth/token", { grant_type: "client_credentials", resource: identifier }, { authorization: basic(client.client_id, client.client_secret) });
    expect(issued.status, await issued.clone().text()).toBe(200);
    const { access_token } = await json(issued);
    expect(decodeJwt(access_token)).toMatchObject({ org_id: org.id, aud: identifier });

    const checked = await call(`/v1/test-auth?audience=${encodeURIComponent(identifier)}`, { token: access_token });
    expect(checked.status).toBe(200);
    expect(await json(checked)).toMatchObject({ ok: true, organization_id: org.id, aud: identifier });
    expect(await rpc().verify(access_token, { audience: identifier })).toMatchObject({ valid: true, organization_id: org.id });
  });
});

describe("GET /v1/test-auth answers organization_id", () => {
  it("for an access token of an organization's credential", async () => {
    const { org, account, client } = await tenant();
    const response = await testAuth(await tokenFor(client));
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({
      ok: true,
      account_id: account.id,
      organization_id: org.id,
      credential_id: client.id,
      credential_type: "oauth_client",
    });
  });

  it("for an API key of an organization's account", async () => {
    const { org, account, key } = await tenant();
    const response = await testAuth(key.api_key);
    expect(response.status).toBe(200);
    expect(await json(response)).toMatchObject({
      ok: true,
      account_id: account.id,
      organization_id: org.id,
      credential_id: key.id,
      credential_type: "api_key",
    });
  });

  it("org_default for an access token and an API key of the default organization", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id);
    const key = await createCredential(account.id, "api_key");
    expect(await json(await testAuth(await tokenFor(client)))).toMatchObject({ ok: true, organization_id: DEFAULT_ORG });
    expect(await json(await testAuth(key.api_key))).toMatchObject({ ok: true, organization_id: DEFAULT_ORG });
  });
});

describe("introspection answers org_id", () => {
  it("for an active token, whoever introspects it", async () => {
    const { org, account, client } = await tenant();
    const token = await tokenFor(client, "write");
    for (const caller of [client, await observer()]) {
      const response = await introspect(caller, token);
      expect(response.status).toBe(200);
      expect(await json(response)).toMatchObject({ active: true, org_id: org.id, sub: account.id, scope: "write" });
    }
  });

  it("org_default for a token of the default organization", async () => {
    const client = await observer();
    expect(await json(await introspect(client, await tokenFor(client)))).toMatchObject({ active: true, org_id: DEFAULT_ORG });
  });

  it("nothing but active: false once the token is revoked", async () => {
    const { client } = await tenant();
    const token = await tokenFor(client);
    expect((await revoke(client, token)).status).toBe(200);
    expect(await json(await introspect(client, token))).toEqual({ active: false });
  });
});

describe("the verify RPC answers organization_id", () => {
  it("for an access token and an API key of an organization", async () => {
    const { org, account, client, key } = await tenant();
    expect(await rpc().verify(await tokenFor(client, "read"))).toMatchObject({
      valid: true,
      account_id: account.id,
      organization_id: org.id,
      credential_id: client.id,
      credential_type: "oauth_client",
      scopes: ["read"],
    });
    expect(await rpc().verify(key.api_key)).toMatchObject({
      valid: true,
      account_id: account.id,
      organization_id: org.id,
      credential_id: key.id,
      credential_type: "api_key",
      scopes: ["read"],
    });
  });

  it("org_default for the default organization's credentials", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id);
    const key = await createCredential(account.id, "api_key");
    expect(await rpc().verify(await tokenFor(client))).toMatchObject({ valid: true, organization_id: DEFAULT_ORG });
    expect(await rpc().verify(key.api_key)).toMatchObject({ valid: true, organization_id: DEFAULT_ORG });
  });

  it("an invalid result stays {valid: false, code}, with no organization", async () => {
    const { client } = await tenant();
    const token = await tokenFor(client);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "DELETE" })).status).toBe(204);
    expect(await rpc().verify(token)).toEqual({ valid: false, code: "revoked" });
  });

  it("reaches a resource server through its service binding (examples/resource-server)", async () => {
    const { org, client } = await tenant();
    const response = await env.RESOURCE_SERVER.fetch("http://example.test/api/whoami", { headers: { authorization: `Bearer ${await tokenFor(client)}` } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ valid: true, organization_id: org.id });
  });
});
