import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { BASE, call, expectError, json } from "../support/http";
import { introspect, testAuth, tokenFor, tokenRequest } from "../support/oauth";
import { created, unique } from "../support/organizations";

/**
 * Custom claims (contract "Custom claims"): metadata on organizations, accounts and credentials,
 * an API's `token_claims` mapping them into its tokens, and the same claims answered by
 * test-auth, the Verifier RPC and introspection. A change applies to tokens minted after it.
 */

const BILLING = env.BILLING_AUDIENCE;

/** Claims every token for the default API carries in this file (set in beforeAll). */
const DEFAULT_MAPPING = {
  tenant: "organization.external_id",
  org_name: "organization.name",
  plan: "organization.metadata.plan",
  oid: "organization.id",
  team: "account.name",
  aid: "account.id",
  region: "account.metadata.region",
  credential_name: "credential.name",
  credid: "credential.id",
  env: "credential.metadata.env",
  missing: "account.metadata.nothing",
};

/** An organization with an account and both kinds of credential, each with metadata. */
async function tenant(metadata = { plan: "gold" }) {
  const org = await created(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("Acme"), external_id: `cus_${crypto.randomUUID()}`, metadata } }));
  const account = await created(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("billing"), type: "service", organization_id: org.id, metadata: { region: "eu" } } }));
  const make = async (type: "oauth_client" | "api_key") =>
    created(await call("/admin/v1/credentials", { method: "POST", body: { name: unique(type), type, account_id: account.id, metadata: { env: "prod" }, grants: [{ api: BILLING, scopes: [] }] } }));
  return { org, account, client: await make("oauth_client"), key: await make("api_key") };
}

type Tenant = Awaited<ReturnType<typeof tenant>>;

const defaultClaims = (t: Tenant, credential: { id: string; name: string } = t.client) => ({
  tenant: t.org.external_id,
  org_name: t.org.name,
  plan: t.org.metadata.plan,
  oid: t.org.id,
  team: t.account.name,
  aid: t.account.id,
  region: "eu",
  credential_name: credential.name,
  credid: credential.id,
  env: "prod",
});

/** The custom claims of a JWT: what is not Keymint's own. */
function customOf(token: string): Record<string, unknown> {
  const { iss, sub, org_id, aud, client_id, cid, iat, exp, jti, scope, cnf, ...custom } = decodeJwt(token);
  return custom;
}

beforeAll(async () => {
  expect((await call("/admin/v1/apis/api_default", { method: "PATCH", body: { token_claims: DEFAULT_MAPPING } })).status).toBe(200);
  const billing = await call("/admin/v1/apis", { method: "POST", body: { name: "Billing", identifier: BILLING, scopes: [], token_claims: { customer: "organization.external_id", tier: "organization.metadata.plan" } } });
  expect(billing.status).toBe(201);
});

describe("metadata in the admin API", () => {
  it("is shown on accounts and credentials, replaced whole by PATCH, and cleared by null or {}", async () => {
    const t = await tenant();
    expect(t.account.metadata).toEqual({ region: "eu" });
    expect(t.client.metadata).toEqual({ env: "prod" });
    expect((await json(await call(`/admin/v1/accounts/${t.account.id}`))).metadata).toEqual({ region: "eu" });
    expect((await json(await call(`/admin/v1/credentials/${t.client.id}`))).metadata).toEqual({ env: "prod" });

    const renamed = await json(await call(`/admin/v1/accounts/${t.account.id}`, { method: "PATCH", body: { name: "billing v2", metadata: { tier: 2, beta: true } } }));
    expect(renamed).toMatchObject({ id: t.account.id, name: "billing v2", metadata: { tier: 2, beta: true }, status: "active", organization_id: t.org.id });
    expect((await json(await call(`/admin/v1/accounts/${t.account.id}`, { method: "PATCH", body: { metadata: {} } }))).metadata).toBeNull();
    expect((await json(await call(`/admin/v1/credentials/${t.key.id}`, { method: "PATCH", body: { metadata: { env: "staging" } } }))).metadata).toEqual({ env: "staging" });
    expect((await json(await call(`/admin/v1/credentials/${t.key.id}`, { method: "PATCH", body: { metadata: null } }))).metadata).toBeNull();
    const events = (await json(await call(`/admin/v1/audit-events?target_id=${t.account.id}`))).data as { action: string; target_name: string }[];
    expect(events.filter((e) => e.action === "account.update").map((e) => e.target_name)).toEqual(["billing v2", "billing v2"]);
    const listed = (await json(await call(`/admin/v1/accounts?organization_id=${t.org.id}`))).data;
    expect(listed[0].metadata).toBeNull();
  });

  it("a PATCH that changes nothing writes no audit event; an unknown account is 404", async () => {
    const t = await tenant();
    await call(`/admin/v1/accounts/${t.account.id}`, { method: "PATCH", body: { metadata: { region: "eu" } } });
    await call(`/admin/v1/accounts/${t.account.id}`, { method: "PATCH", body: {} });
    const events = (await json(await call(`/admin/v1/audit-events?target_id=${t.account.id}`))).data as { action: string }[];
    expect(events.map((e) => e.action)).toEqual(["account.create"]);
    await expectError(await call("/admin/v1/accounts/acct_0000000000000000000000", { method: "PATCH", body: { name: "x" } }), 404, "not_found");
  });
});

describe("token_claims on APIs", () => {
  it("is shown on every API, the default one included, and cleared by null", async () => {
    const apis = (await json(await call("/admin/v1/apis"))).data as { id: string; identifier: string; token_claims: unknown }[];
    expect(apis.find((api) => api.id === "api_default")?.token_claims).toEqual(DEFAULT_MAPPING);
    expect(apis.find((api) => api.identifier === BILLING)?.token_claims).toEqual({ customer: "organization.external_id", tier: "organization.metadata.plan" });
    const other = await created(await call("/admin/v1/apis", { method: "POST", body: { name: "Other", identifier: `https://other-${crypto.randomUUID()}.example.com`, token_claims: { t: "organization.id" } } }));
    expect((await json(await call(`/admin/v1/apis/${other.id}`, { method: "PATCH", body: { token_claims: null } }))).token_claims).toBeNull();
  });
});

describe("claims in tokens, test-auth, the RPC and introspection", () => {
  it("a token for the default API carries its mapping; a source with no value leaves its claim out", async () => {
    const t = await tenant();
    const token = await tokenFor(t.client);
    expect(customOf(token)).toEqual(defaultClaims(t));
    expect(decodeJwt(token).missing).toBeUndefined();
  });

  it("test-auth answers a token's claims and an API key's for the API asked about (else the default API's)", async () => {
    const t = await tenant();
    const token = await tokenFor(t.client);
    expect((await json(await testAuth(token))).claims).toEqual(defaultClaims(t));
    expect((await json(await testAuth(t.key.api_key))).claims).toEqual(defaultClaims(t, t.key));
    const asked = await call(`/v1/test-auth?audience=${encodeURIComponent(BILLING)}`, { token: t.key.api_key });
    expect((await json(asked)).claims).toEqual({ customer: t.org.external_id, tier: "gold" });
  });

  it("a token for another API carries that API's claims, not the default API's", async () => {
    const t = await tenant();
    const response = await tokenRequest(t.client, { resource: BILLING });
    expect(response.status).toBe(200);
    const token = (await json(response)).access_token;
    expect(customOf(token)).toEqual({ customer: t.org.external_id, tier: "gold" });
    expect((await json(await testAuth(token))).claims).toEqual({ customer: t.org.external_id, tier: "gold" });
  });

  it("introspection adds them as top-level members", async () => {
    const t = await tenant();
    const token = await tokenFor(t.client);
    const answer = await json(await introspect(t.client, token));
    expect(answer).toMatchObject({ active: true, ...defaultClaims(t), org_id: t.org.id, sub: t.account.id });
  });

  it("the Verifier RPC answers claims, for a token and for an API key, with the audience's claims", async () => {
    const t = await tenant();
    const token = await tokenFor(t.client);
    const viaRpc = await json(await env.RESOURCE_SERVER.fetch(`${BASE}/api/whoami`, { headers: { authorization: `Bearer ${token}` } }));
    expect(viaRpc.claims).toEqual(defaultClaims(t));
    const key = await json(await env.RESOURCE_SERVER.fetch(`${BASE}/api/whoami`, { headers: { authorization: `Bearer ${t.key.api_key}` } }));
    expect(key.claims).toEqual(defaultClaims(t, t.key));
    const billing = await json(await env.BILLING_SERVER.fetch(`${BASE}/api/whoami`, { headers: { authorization: `Bearer ${t.key.api_key}` } }));
    expect(billing.claims).toEqual({ customer: t.org.external_id, tier: "gold" });
  });

  it("a token without any mapping carries none: an API with no token_claims", async () => {
    const t = await tenant();
    const api = await created(await call("/admin/v1/apis", { method: "POST", body: { name: "Plain", identifier: `https://plain-${crypto.randomUUID()}.example.com`, scopes: [] } }));
    await call(`/admin/v1/credentials/${t.client.id}`, { method: "PATCH", body: { grants: [{ api: api.identifier, scopes: [] }] } });
    const token = (await json(await tokenRequest(t.client, { resource: api.identifier }))).access_token;
    expect(customOf(token)).toEqual({});
  });
});

describe("a change applies to tokens minted after it", () => {
  it("organization, account and credential metadata and names, and the mapping itself", async () => {
    const t = await tenant();
    const before = await tokenFor(t.client);
    await call(`/admin/v1/organizations/${t.org.id}`, { method: "PATCH", body: { name: "Acme renamed", metadata: { plan: "platinum" } } });
    await call(`/admin/v1/accounts/${t.account.id}`, { method: "PATCH", body: { name: "billing renamed", metadata: { region: "us" } } });
    await call(`/admin/v1/credentials/${t.client.id}`, { method: "PATCH", body: { name: "client renamed", metadata: { env: "staging" } } });
    const after = customOf(await tokenFor(t.client));
    expect(after).toMatchObject({ org_name: "Acme renamed", plan: "platinum", team: "billing renamed", region: "us", credential_name: "client renamed", env: "staging" });
    // The token minted before keeps what it was signed with.
    expect(customOf(before)).toMatchObject({ plan: "gold", region: "eu", env: "prod" });
    // API keys follow at once too.
    expect((await json(await testAuth(t.key.api_key))).claims).toMatchObject({ plan: "platinum", team: "billing renamed", region: "us", env: "prod" });

    await call("/admin/v1/apis/api_default", { method: "PATCH", body: { token_claims: { only: "organization.metadata.plan" } } });
    try {
      expect(customOf(await tokenFor(t.client))).toEqual({ only: "platinum" });
    } finally {
      await call("/admin/v1/apis/api_default", { method: "PATCH", body: { token_claims: DEFAULT_MAPPING } });
    }
    expect(customOf(await tokenFor(t.client))).toMatchObject({ plan: "platinum" });
  });

  it("a metadata PATCH racing a deactivation: the deactivation holds, and the metadata is there after activation", async () => {
    for (let round = 0; round < 4; round++) {
      const t = await tenant();
      const [patched, deactivated] = await Promise.all([
        call(`/admin/v1/accounts/${t.account.id}`, { method: "PATCH", body: { metadata: { region: `r${round}` } } }),
        call(`/admin/v1/accounts/${t.account.id}/deactivate`, { method: "POST" }),
      ]);
      expect([patched.status, deactivated.status]).toEqual([200, 200]);
      await expectError(await tokenRequest(t.client), 401, "invalid_client");
      await expectError(await testAuth(t.key.api_key), 401, "invalid_token");
      const row = await env.DB.prepare("SELECT status, metadata FROM accounts WHERE id = ?").bind(t.account.id).first<{ status: string; metadata: string }>();
      expect(row).toEqual({ status: "deactivated", metadata: JSON.stringify({ region: `r${round}` }) });
      expect((await call(`/admin/v1/accounts/${t.account.id}/activate`, { method: "POST" })).status).toBe(200);
      expect(customOf(await tokenFor(t.client)).region).toBe(`r${round}`);
    }
  });

  it("an organization metadata PATCH racing its deactivation: the deactivation holds for tokens and API keys", async () => {
    for (let round = 0; round < 3; round++) {
      const t = await tenant();
      const [patched, deactivated] = await Promise.all([
        call(`/admin/v1/organizations/${t.org.id}`, { method: "PATCH", body: { metadata: { plan: `p${round}` } } }),
        call(`/admin/v1/organizations/${t.org.id}/deactivate`, { method: "POST" }),
      ]);
      expect([patched.status, deactivated.status]).toEqual([200, 200]);
      await expectError(await tokenRequest(t.client), 401, "invalid_client");
      await expectError(await testAuth(t.key.api_key), 401, "invalid_token");
      expect((await call(`/admin/v1/organizations/${t.org.id}/activate`, { method: "POST" })).status).toBe(200);
      expect(customOf(await tokenFor(t.client)).plan).toBe(`p${round}`);
    }
  });

  it("a credential metadata PATCH racing its deletion: the deletion holds", async () => {
    const t = await tenant();
    const [patched, deleted] = await Promise.all([
      call(`/admin/v1/credentials/${t.key.id}`, { method: "PATCH", body: { metadata: { env: "raced" } } }),
      call(`/admin/v1/credentials/${t.key.id}`, { method: "DELETE" }),
    ]);
    expect(deleted.status).toBe(204);
    expect([200, 404]).toContain(patched.status);
    await expectError(await testAuth(t.key.api_key), 401, "invalid_token");
    expect(await env.DB.prepare("SELECT id FROM credentials WHERE id = ?").bind(t.key.id).first()).toBeNull();
  });
});
