import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import { Verifier } from "../../src/index";
import { auditEventsFor, call, createAccount, createCredential, expectError, json, sha256Hex } from "../support/http";
import { introspect, testAuth, tokenFor, tokenRequest } from "../support/oauth";
import { accountIn, createOrg, unique } from "../support/organizations";

/**
 * Deactivating an organization (contract "Organizations (tenants)" and "Revocation guarantees"):
 * the guarantees of an account deactivation for every account in it, at any size; and its grant
 * ceiling, at credential creation and at token time.
 */

const rpc = () => new Verifier(createExecutionContext(), env);

async function tenant() {
  const org = await createOrg();
  const account = await accountIn(org.id);
  const client = await createCredential(account.id, "oauth_client", ["read"]);
  const key = await createCredential(account.id, "api_key", ["read"]);
  return { org, account, client, key };
}

const deactivate = (id: string) => call(`/admin/v1/organizations/${id}/deactivate`, { method: "POST" });
const activate = (id: string) => call(`/admin/v1/organizations/${id}/activate`, { method: "POST" });

/** What every path says of an organization's client, API key and earlier token. */
async function paths(t: Awaited<ReturnType<typeof tenant>>, earlier: string, observer: { client_id: string; client_secret: string }) {
  return {
    token: (await tokenRequest(t.client)).status,
    apiKey: (await testAuth(t.key.api_key)).status,
    earlierToken: (await testAuth(earlier)).status,
    introspected: (await json(await introspect(observer, earlier))).active,
    rpc: (await rpc().verify(earlier)).valid,
  };
}

describe("deactivating an organization", () => {
  it("stops its credentials and their earlier tokens at once on every path, leaves others alone, and activation revives the credentials only", async () => {
    const t = await tenant();
    const other = await tenant();
    const observer = await createCredential((await createAccount()).id, "oauth_client");
    const earlier = await tokenFor(t.client);
    const otherToken = await tokenFor(other.client);
    expect(await paths(t, earlier, observer)).toEqual({ token: 200, apiKey: 200, earlierToken: 200, introspected: true, rpc: true });

    const deactivatedAt = Date.now();
    const deactivated = await deactivate(t.org.id);
    expect(deactivated.status).toBe(200);
    expect((await json(deactivated)).status).toBe("deactivated");
    expect(await paths(t, earlier, observer)).toEqual({ token: 401, apiKey: 401, earlierToken: 401, introspected: false, rpc: false });
    await expectError(await tokenRequest(t.client), 401, "invalid_client");
    // Another organization is untouched.
    expect((await testAuth(otherToken)).status).toBe(200);
    expect((await tokenRequest(other.client)).status).toBe(200);
    const events = (await auditEventsFor(t.org.id)).map((event: { action: string }) => event.action);
    expect(events).toContain("organization.deactivate");

    // Idempotent: 200, unchanged, no second event.
    expect((await json(await deactivate(t.org.id))).status).toBe("deactivated");
    expect((await auditEventsFor(t.org.id)).filter((event: { action: string }) => event.action === "organization.deactivate")).toHaveLength(1);

    const activated = await json(await activate(t.org.id));
    expect(activated.status).toBe("active");
    const after = await paths(t, earlier, observer);
    expect(after).toEqual({ token: 200, apiKey: 200, earlierToken: 401, introspected: false, rpc: false });
    // A token counts again once its iat is after the deactivation's second (rounded up).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (Math.ceil(deactivatedAt / 1000) + 2) * 1000 - Date.now())));
    expect((await testAuth(await tokenFor(t.client))).status).toBe(200);
  }, 30_000); // it waits up to 3 s for the second after the deactivation

  it("refuses new accounts and credentials in it while deactivated; the default organization cannot be deactivated", async () => {
    const t = await tenant();
    expect((await deactivate(t.org.id)).status).toBe(200);
    await expectError(await call("/admin/v1/accounts", { method: "POST", body: { name: "late", type: "service", organization_id: t.org.id } }), 400, "invalid_request");
    await expectError(await call("/admin/v1/credentials", { method: "POST", body: { name: "late", type: "api_key", account_id: t.account.id } }), 400, "invalid_request");
    await expectError(await deactivate("org_default"), 400, "invalid_request");
    expect((await json(await call("/admin/v1/organizations/org_default"))).status).toBe("active");
  });

  it(
    "holds at 2,000 credentials: every edge entry follows, through the fan-out queue beyond the first pages, and back on activation",
    async () => {
      const org = await createOrg();
      const accounts = await Promise.all(Array.from({ length: 8 }, () => accountIn(org.id)));
      const credentials: { type: string; client_id?: string; client_secret?: string; api_key?: string }[] = [];
      for (const account of accounts) {
        for (let start = 0; start < 250; start += 25) {
          const batch = await Promise.all(
            Array.from({ length: 25 }, (_, i) => createCredential(account.id, (start + i) % 2 === 0 ? "oauth_client" : "api_key", ["read"])),
          );
          credentials.push(...batch);
        }
      }
      expect(credentials).toHaveLength(2_000);
      const keys = await Promise.all(
        credentials.map(async (c) => (c.type === "oauth_client" ? `credential:client_id:${c.client_id}` : `credential:digest:${await sha256Hex(c.api_key!)}`)),
      );
      /** How many of the 2,000 entries say the organization is active. */
      const activeEntries = async () => {
        let active = 0;
        for (let i = 0; i < keys.length; i += 100) {
          const found = await env.REVOCATIONS.get<{ organization_active?: boolean }>(keys.slice(i, i + 100), "json");
          for (const entry of found.values()) if (entry && entry.organization_active !== false) active++;
        }
        return active;
      };
      const until = async (want: number) => {
        const deadline = Date.now() + 90_000;
        let seen = await activeEntries();
        while (seen !== want && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          seen = await activeEntries();
        }
        return seen;
      };
      expect(await activeEntries()).toBe(2_000);
      const firstClient = credentials.find((c) => c.type === "oauth_client")!;
      const lastClient = credentials.findLast((c) => c.type === "oauth_client")!;
      const lastKey = credentials.findLast((c) => c.type === "api_key")!;
      const earlier = await tokenFor(lastClient as never);

      expect((await deactivate(org.id)).status).toBe(200);
      // Tokens are refused at once, whatever the size: the organization's marker.
      expect((await testAuth(earlier)).status).toBe(401);
      expect(await until(0)).toBe(0);
      await expectError(await tokenRequest(firstClient as never), 401, "invalid_client");
      await expectError(await tokenRequest(lastClient as never), 401, "invalid_client");
      expect((await testAuth(lastKey.api_key!)).status).toBe(401);

      expect((await activate(org.id)).status).toBe(200);
      expect(await until(2_000)).toBe(2_000);
      expect((await tokenRequest(lastClient as never)).status).toBe(200);
      expect((await testAuth(lastKey.api_key!)).status).toBe(200);
      expect((await testAuth(earlier)).status).toBe(401);
    },
    240_000,
  );
});

describe("an organization's grant ceiling", () => {
  async function api(scopes: string[]) {
    const response = await call("/admin/v1/apis", { method: "POST", body: { name: unique("api"), identifier: `https://${crypto.randomUUID()}.ceiling.example.com`, scopes } });
    expect(response.status, await response.clone().text()).toBe(201);
    return json(response);
  }

  it("bounds what its credentials are given at creation and by PATCH: 400 beyond it, nothing stored", async () => {
    const billing = await api(["read", "write"]);
    const org = await createOrg({ grants: [{ api: billing.identifier, scopes: ["read"] }, { api: "http://localhost:8787", scopes: ["a"] }] });
    const account = await accountIn(org.id);
    const create = (body: Record<string, unknown>) => call("/admin/v1/credentials", { method: "POST", body: { name: unique("c"), type: "oauth_client", account_id: account.id, ...body } });
    await expectError(await create({ grants: [{ api: billing.identifier, scopes: ["read", "write"] }] }), 400, "invalid_request");
    await expectError(await create({ scopes: ["a", "b"] }), 400, "invalid_request");
    const other = await api(["read"]);
    await expectError(await create({ grants: [{ api: other.identifier, scopes: ["read"] }] }), 400, "invalid_request");
    expect((await json(await call(`/admin/v1/credentials?account_id=${account.id}`))).data).toEqual([]);
    const fits = await json(await create({ scopes: ["a"], grants: [{ api: billing.identifier, scopes: ["read"] }] }));
    await expectError(await call(`/admin/v1/credentials/${fits.id}`, { method: "PATCH", body: { scopes: ["a", "b"] } }), 400, "invalid_request");
    expect((await json(await call(`/admin/v1/credentials/${fits.id}`))).scopes).toEqual(["a"]);
  });

  it("bounds tokens minted after it: the intersection, and a lowered ceiling applies to the next token", async () => {
    const billing = await api(["read", "write"]);
    const org = await createOrg();
    const account = await accountIn(org.id);
    const client = await json(
      await call("/admin/v1/credentials", { method: "POST", body: { name: unique("c"), type: "oauth_client", account_id: account.id, scopes: ["a", "b"], grants: [{ api: billing.identifier, scopes: ["read", "write"] }] } }),
    );
    const scopeFor = async (resource?: string) => {
      const response = await tokenRequest(client, resource ? { resource } : {});
      return response.status === 200 ? (decodeJwt((await json(response)).access_token).scope as string) : (await json(response)).error;
    };
    expect(await scopeFor()).toBe("a b");
    expect(await scopeFor(billing.identifier)).toBe("read write");

    const lowered = await call(`/admin/v1/organizations/${org.id}`, { method: "PATCH", body: { grants: [{ api: billing.identifier, scopes: ["read"] }, { api: "http://localhost:8787", scopes: ["a"] }] } });
    expect(lowered.status, await lowered.clone().text()).toBe(200);
    expect(await scopeFor()).toBe("a");
    expect(await scopeFor(billing.identifier)).toBe("read");

    // A ceiling that does not name an API closes it; the default API stays open.
    expect((await call(`/admin/v1/organizations/${org.id}`, { method: "PATCH", body: { grants: [] } })).status).toBe(200);
    expect(await scopeFor(billing.identifier)).toBe("invalid_target");
    expect(await scopeFor()).toBe("a b");

    // No ceiling again: everything the credential holds.
    expect((await call(`/admin/v1/organizations/${org.id}`, { method: "PATCH", body: { grants: null } })).status).toBe(200);
    expect(await scopeFor(billing.identifier)).toBe("read write");
  });
});
