import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { describe, expect, it } from "vitest";
import worker, { Verifier } from "../../src/index";
import { cidrProblem, ipAllowed } from "../../src/lib/cidr";
import { BASE, auditEventsFor, call, createAccount, createCredential, expectError, json } from "../support/http";
import { basic, introspect, revoke, testAuth } from "../support/oauth";

/**
 * Credential lifecycle through the management API and the verification paths (contract:
 * expires_at, allowed_ips, MAX_CREDENTIAL_LIFETIME_DAYS). The console's forms for the same are
 * in console.test.ts.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();

async function send(request: Request, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

function tokenRequest(client: { client_id: string; client_secret: string }, ip?: string) {
  return new Request(`${BASE}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.client_id, client.client_secret), ...(ip ? { "cf-connecting-ip": ip } : {}) },
    body: "grant_type=client_credentials",
  });
}

const testAuthFrom = (bearer: string, ip?: string) =>
  new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${bearer}`, ...(ip ? { "cf-connecting-ip": ip } : {}) } });

async function create(body: Record<string, unknown>, bindings: Env = env) {
  const account = await createAccount();
  return send(
    new Request(`${BASE}/admin/v1/credentials`, {
      method: "POST",
      headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "lifecycle", type: "oauth_client", account_id: account.id, ...body }),
    }),
    bindings,
  );
}

const rpc = () => new Verifier(createExecutionContext(), env);

describe("CIDR parsing and matching (src/lib/cidr.ts)", () => {
  it("refuses malformed ranges: masks, host bits, non-dotted IPv4, garbage", () => {
    for (const bad of ["10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/01", "10.0.0.0/", "10.0.0.0/x", "2001:db8::/129", "10.1.2.3/8", "2001:db8::1/32", "127.1", "2130706433", "::ffff:zz", "", "10.0.0.0/8/8", "a".repeat(70)]) {
      expect(cidrProblem(bad), bad).not.toBeNull();
    }
    for (const good of ["0.0.0.0/0", "10.0.0.0/8", "203.0.113.7/32", "203.0.113.7", "::/0", "2001:db8::/32", "2001:db8::1/128", "2001:db8::1"]) {
      expect(cidrProblem(good), good).toBeNull();
    }
  });

  it("matches IPv4 and IPv6, /0, /32, /128, and IPv4-mapped IPv6 against IPv4 ranges", () => {
    expect(ipAllowed("203.0.113.9", ["203.0.113.0/24"])).toBe(true);
    expect(ipAllowed("203.0.114.9", ["203.0.113.0/24"])).toBe(false);
    expect(ipAllowed("::ffff:203.0.113.9", ["203.0.113.0/24"])).toBe(true);
    expect(ipAllowed("2001:db8:1::5", ["2001:db8::/32"])).toBe(true);
    expect(ipAllowed("2001:db9::5", ["2001:db8::/32"])).toBe(false);
    expect(ipAllowed("198.51.100.1", ["0.0.0.0/0"])).toBe(true);
    expect(ipAllowed("2001:db8::1", ["0.0.0.0/0"])).toBe(false); // /0 is per family
    expect(ipAllowed("2001:db8::1", ["::/0"])).toBe(true);
    expect(ipAllowed("203.0.113.7", ["203.0.113.7/32"])).toBe(true);
    expect(ipAllowed("203.0.113.8", ["203.0.113.7/32"])).toBe(false);
    expect(ipAllowed("2001:db8::1", ["2001:db8::1/128"])).toBe(true);
    expect(ipAllowed("2001:db8::2", ["2001:db8::1/128"])).toBe(false);
    expect(ipAllowed(null, ["0.0.0.0/0"])).toBe(false);
    expect(ipAllowed("not an ip", ["0.0.0.0/0"])).toBe(false);
  });
});

describe("expires_at", () => {
  it("an expired credential is refused at every path: token, test-auth, RPC, introspection and revocation client auth", async () => {
    const account = await createAccount();
    const client = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: "soon", type: "oauth_client", account_id: account.id, expires_at: inMs(1_600) } }));
    const key = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: "soon key", type: "api_key", account_id: account.id, expires_at: inMs(1_600) } }));
    const other = await createCredential(account.id, "oauth_client");
    const otherToken = (await json(await send(tokenRequest(other)))).access_token;
    expect((await send(tokenRequest(client))).status).toBe(200);
    expect((await testAuth(key.api_key)).status).toBe(200);
    await sleep(1_700);
    await expectError(await send(tokenRequest(client)), 401, "invalid_client");
    await expectError(await testAuth(key.api_key), 401, "invalid_token");
    expect(await rpc().verify(key.api_key)).toEqual({ valid: false, code: "expired" });
    await expectError(await introspect(client, otherToken), 401, "invalid_client");
    await expectError(await revoke(client, otherToken), 401, "invalid_client");
    expect((await testAuth(otherToken)).status).toBe(200); // the failed revoke revoked nothing
  });

  it("no token outlives its credential: a token minted just before expiry dies at expiry", async () => {
    const expiresAt = inMs(2_500);
    const client = await json(await create({ expires_at: expiresAt }));
    const issued = await json(await send(tokenRequest(client)));
    const claims = decodeJwt(issued.access_token);
    expect(claims.exp! * 1000).toBeLessThanOrEqual(Date.parse(expiresAt));
    expect(issued.expires_in).toBe(claims.exp! - claims.iat!);
    expect(issued.expires_in).toBeLessThan(60);
    expect((await testAuth(issued.access_token)).status).toBe(200);
    await sleep(Date.parse(expiresAt) - Date.now() + 100);
    await expectError(await testAuth(issued.access_token), 401, "invalid_token");
  });

  it("moved earlier by a PATCH, it ends tokens minted before the PATCH on every verification path once it has passed", async () => {
    const client = await json(await create({ expires_at: inMs(86_400_000) }));
    const observer = await createCredential((await createAccount()).id, "oauth_client");
    const token = (await json(await send(tokenRequest(client)))).access_token as string;
    expect(decodeJwt(token).exp! - decodeJwt(token).iat!).toBe(60);
    const expiresAt = inMs(1_500);
    expect((await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { expires_at: expiresAt } })).status).toBe(200);
    // Until the new expiry the token still works...
    expect((await testAuth(token)).status).toBe(200);
    await sleep(Date.parse(expiresAt) - Date.now() + 100);
    // ...and after it, nowhere, although its own exp is nearly a minute away.
    await expectError(await testAuth(token), 401, "invalid_token");
    expect(await json(await introspect(observer, token))).toEqual({ active: false });
    expect(await rpc().verify(token)).toMatchObject({ valid: false });
  });

  it("must be in the future; is audited when set, changed and cleared; ?expires_before= lists by it", async () => {
    await expectError(await create({ expires_at: inMs(-1_000) }), 400, "invalid_request");
    await expectError(await create({ expires_at: "tomorrow" }), 400, "invalid_request");
    const far = inMs(90 * 86_400_000);
    const near = inMs(3 * 86_400_000);
    const client = await json(await create({ expires_at: far }));
    expect(client.expires_at).toBe(far);
    const id = client.id as string;
    expect((await json(await call(`/admin/v1/credentials/${id}`, { method: "PATCH", body: { expires_at: near } }))).expires_at).toBe(near);
    const listed = await json(await call(`/admin/v1/credentials?account_id=${client.account_id}&expires_before=${encodeURIComponent(inMs(7 * 86_400_000))}`));
    expect(listed.data.map((c: { id: string }) => c.id)).toEqual([id]);
    const later = await json(await call(`/admin/v1/credentials?account_id=${client.account_id}&expires_before=${encodeURIComponent(inMs(86_400_000))}`));
    expect(later.data).toEqual([]);
    expect((await json(await call(`/admin/v1/credentials/${id}`, { method: "PATCH", body: { expires_at: null } }))).expires_at).toBeNull();
    const actions = (await auditEventsFor(id)).map((event: { action: string }) => event.action);
    // Events of one change share its moment, so compare without their order within it.
    expect(actions.sort()).toEqual(["credential.create", "credential.expiry_changed", "credential.expiry_cleared", "credential.expiry_set", "credential.update", "credential.update"]);
  });

  it("MAX_CREDENTIAL_LIFETIME_DAYS: expiry required and bounded on create, and existing credentials are held to it when next changed", async () => {
    const policy = { ...env, MAX_CREDENTIAL_LIFETIME_DAYS: "30" } as Env;
    await expectError(await create({}, policy), 400, "invalid_request");
    await expectError(await create({ expires_at: inMs(31 * 86_400_000) }, policy), 400, "invalid_request");
    expect((await create({ expires_at: inMs(29 * 86_400_000) }, policy)).status).toBe(201);
    const old = await json(await create({})); // made before the policy: never expires
    const rename = (body: unknown) =>
      send(
        new Request(`${BASE}/admin/v1/credentials/${old.id}`, {
          method: "PATCH",
          headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" },
          body: JSON.stringify(body),
        }),
        policy,
      );
    await expectError(await rename({ name: "renamed" }), 400, "invalid_request");
    expect((await rename({ name: "renamed", expires_at: inMs(10 * 86_400_000) })).status).toBe(200);
  });
});

describe("allowed_ips", () => {
  const ranges = ["203.0.113.0/24", "2001:db8::/32"];

  it("lets the credential in from its ranges only (IPv4, IPv6, IPv4-mapped), failing elsewhere exactly like a wrong secret", async () => {
    const client = await json(await create({ allowed_ips: ranges }));
    expect(client.allowed_ips).toEqual(ranges);
    for (const ip of ["203.0.113.9", "2001:db8:5::1", "::ffff:203.0.113.200"]) expect((await send(tokenRequest(client, ip))).status, ip).toBe(200);
    const wrongSecret = await send(tokenRequest({ ...client, client_secret: `${client.client_secret.slice(0, -1)}${client.client_secret.endsWith("a") ? "b" : "a"}` }, "203.0.113.9"));
    for (const ip of ["198.51.100.1", "2001:db9::1", undefined]) {
      const outside = await send(tokenRequest(client, ip));
      expect(outside.status, String(ip)).toBe(401);
      expect(await outside.json()).toEqual(await wrongSecret.clone().json());
    }
  });

  it("applies to API keys at test-auth and in the RPC, which needs the caller's ip", async () => {
    const account = await createAccount();
    const key = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: "fenced key", type: "api_key", account_id: account.id, allowed_ips: ranges } }));
    expect((await send(testAuthFrom(key.api_key, "203.0.113.1"))).status).toBe(200);
    await expectError(await send(testAuthFrom(key.api_key, "198.51.100.1")), 401, "invalid_token");
    expect(await rpc().verify(key.api_key, { ip: "2001:db8::9" })).toMatchObject({ valid: true });
    expect(await rpc().verify(key.api_key, { ip: "198.51.100.1" })).toEqual({ valid: false, code: "wrong_secret" });
    expect(await rpc().verify(key.api_key)).toEqual({ valid: false, code: "wrong_secret" });
    // Tokens are not IP-bound: one minted inside verifies from anywhere.
    const client = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: "fenced client", type: "oauth_client", account_id: account.id, allowed_ips: ranges } }));
    const token = (await json(await send(tokenRequest(client, "203.0.113.1")))).access_token;
    expect((await send(testAuthFrom(token, "198.51.100.1"))).status).toBe(200);
  });

  it("counts failures from outside against the credential, never locking out its callers inside", async () => {
    const client = await json(await create({ allowed_ips: ["203.0.113.0/24"] }));
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) statuses.push((await send(tokenRequest(client, `198.51.100.${i + 1}`))).status);
    expect(statuses.filter((status) => status === 429).length).toBeGreaterThan(0);
    expect((await send(tokenRequest(client, "203.0.113.5"))).status).toBe(200);
  });

  it("refuses an IPv4-mapped IPv6 range, naming its IPv4 form, and a zone id, naming it", async () => {
    const mapped = await expectError(await create({ allowed_ips: ["::ffff:203.0.113.0/120"] }), 400, "invalid_request");
    expect(mapped.error_description).toContain("203.0.113.0/24");
    const zoned = await expectError(await create({ allowed_ips: ["fe80::1%eth0"] }), 400, "invalid_request");
    expect(zoned.error_description).toContain("zone id");
    expect(zoned.error_description).not.toContain("host bits");
  });

  it("refuses [], bad masks, host bits, non-dotted IPv4 and more than 32 ranges; PATCH null lifts the allowlist", async () => {
    for (const allowed_ips of [[], ["10.0.0.0/33"], ["10.1.2.3/8"], ["127.1"], Array.from({ length: 33 }, (_, i) => `10.0.${i}.0/24`), ["not an ip"]]) {
      await expectError(await create({ allowed_ips }), 400, "invalid_request");
    }
    const client = await json(await create({ allowed_ips: ["203.0.113.0/24"] }));
    expect((await send(tokenRequest(client, "198.51.100.1"))).status).toBe(401);
    expect((await json(await call(`/admin/v1/credentials/${client.id}`, { method: "PATCH", body: { allowed_ips: null } }))).allowed_ips).toBeNull();
    expect((await send(tokenRequest(client, "198.51.100.1"))).status).toBe(200);
  });
});
