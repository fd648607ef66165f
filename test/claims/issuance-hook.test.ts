import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { decodeJwt } from "jose";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { BASE, call, expectError, json } from "../support/http";
import { basic } from "../support/oauth";
import { created, unique } from "../support/organizations";

/**
 * The issuance hook (contract "Custom claims"): CLAIMS_HOOK is a Worker whose RPC method
 * claims(input) adds claims to a token, or denies it. examples/claims-hook is the real one
 * (bound as wrangler.toml binds it; its KV tables are CLAIMS_HOOK_TABLES here), and
 * test/fixtures/claims-hook-faults misbehaves as the credential's metadata `hook` asks: both run
 * as Workers of their own in workerd. Every failure follows CLAIMS_HOOK_ON_ERROR and is logged
 * with its reason, never a claim's value; no token ever carries a bad claim.
 */

/** The Worker with other vars or another hook: the real bindings, some replaced. */
async function send(request: Request, overrides: Record<string, unknown> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...env, ...overrides } as Env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const tokenRequest = (client: { client_id: string; client_secret: string }, body = "grant_type=client_credentials") =>
  new Request(`${BASE}/oauth/token`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(client.client_id, client.client_secret) }, body });

/** A client in a new organization, its metadata `hook` choosing the fault fixture's behaviour. */
async function client(hook?: string, scopes: string[] = ["read", "write"]) {
  const org = await created(await call("/admin/v1/organizations", { method: "POST", body: { name: unique("Acme"), external_id: `cus_${crypto.randomUUID()}`, metadata: { plan: "gold" } } }));
  const account = await created(await call("/admin/v1/accounts", { method: "POST", body: { name: unique("sync"), type: "service", organization_id: org.id } }));
  const credential = await created(
    await call("/admin/v1/credentials", { method: "POST", body: { name: unique("client"), type: "oauth_client", account_id: account.id, scopes, ...(hook ? { metadata: { hook } } : {}) } }),
  );
  return { org, account, credential };
}

// The default timeout (50 ms), whatever the test bindings give every other test.
const faults = (vars: Record<string, string> = {}) => ({ CLAIMS_HOOK: env.CLAIMS_HOOK_FAULTS, CLAIMS_HOOK_TIMEOUT_MS: "50", ...vars });

let errors: { mock: { calls: unknown[][] } };
const logged = () => errors.mock.calls.map((args) => args.join(" ")).filter((line) => line.includes("claims_hook_failed"));

beforeAll(async () => {
  // The mapped claim the hook's answer is merged over.
  expect((await call("/admin/v1/apis/api_default", { method: "PATCH", body: { token_claims: { plan: "organization.metadata.plan", tenant: "organization.external_id" } } })).status).toBe(200);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("examples/claims-hook, bound as CLAIMS_HOOK", () => {
  it("adds a claim from its table keyed by organization, merged over the mapped claims", async () => {
    const { org, credential } = await client();
    await env.CLAIMS_HOOK_TABLES.put(`plan:${org.external_id}`, "enterprise");
    const response = await send(tokenRequest(credential));
    expect(response.status).toBe(200);
    const claims = decodeJwt((await json(response)).access_token);
    expect(claims).toMatchObject({ plan: "enterprise", tenant: org.external_id, sub: credential.account_id });
  });

  it("leaves a token alone for an organization not in its table", async () => {
    const { org, credential } = await client();
    const claims = decodeJwt((await json(await send(tokenRequest(credential)))).access_token);
    expect(claims).toMatchObject({ plan: "gold", tenant: org.external_id });
  });

  it("denies a listed client: 400 access_denied with the hook's reason, and no token", async () => {
    const { credential } = await client();
    await env.CLAIMS_HOOK_TABLES.put(`blocked:${credential.client_id}`, "unpaid invoice");
    const response = await send(tokenRequest(credential));
    await expectError(response.clone(), 400, "access_denied");
    const body = await json(response);
    expect(body.error_description).toBe("unpaid invoice");
    expect(body.access_token).toBeUndefined();
    await env.CLAIMS_HOOK_TABLES.delete(`blocked:${credential.client_id}`);
    expect((await send(tokenRequest(credential))).status).toBe(200);
  });
});

describe("the hook's input", () => {
  it("is the organization, account, credential, API and the token's scopes, with no secret or digest", async () => {
    const { org, account, credential } = await client("echo");
    const response = await send(tokenRequest(credential, "grant_type=client_credentials&scope=read"), faults());
    expect(response.status).toBe(200);
    const claims = decodeJwt((await json(response)).access_token);
    expect(claims).toMatchObject({ seen_org: org.id, seen_scopes: "read", seen_api: "http://localhost:8787", has_secret: false });
    expect(claims.sub).toBe(account.id);
  });
});

describe("a hook that fails", () => {
  // Each misbehaviour of the fixture, and the reason the log must give.
  const cases: [hook: string, reason: RegExp][] = [
    ["slow", /no answer within 50 ms/],
    ["throw", /the hook threw/],
    ["reserved", /reserved claim \(sub\)/],
    ["oversize", /at most 1024 bytes/],
    ["not_object", /not an object/],
    ["array", /not a plain object/],
    ["nested", /strings, numbers or booleans/],
    ["function", /strings, numbers or booleans|threw/],
    ["cycle", /strings, numbers or booleans/],
    ["symbol", /the hook threw/],
    ["bad_name", /member names/],
    ["extra", /a member other than claims and deny/],
  ];

  for (const [hook, reason] of cases) {
    it(`${hook}: 503 temporarily_unavailable under deny (the default), a token without its claims under omit, logged without values`, async () => {
      errors = vi.spyOn(console, "error");
      const { credential } = await client(hook);
      const denied = await send(tokenRequest(credential), faults());
      await expectError(denied.clone(), 503, "temporarily_unavailable");
      expect(denied.headers.get("retry-after")).not.toBeNull();
      expect((await json(denied)).access_token).toBeUndefined();

      const omitted = await send(tokenRequest(credential), faults({ CLAIMS_HOOK_ON_ERROR: "omit" }));
      expect(omitted.status).toBe(200);
      const claims = decodeJwt((await json(omitted)).access_token);
      // The mapped claims stay; none of the hook's, and Keymint's own are Keymint's.
      expect(claims).toMatchObject({ plan: "gold", sub: credential.account_id, cid: credential.id });
      expect(Object.keys(claims).filter((name) => !["plan", "tenant", "iss", "sub", "org_id", "aud", "client_id", "cid", "iat", "exp", "jti", "scope"].includes(name))).toEqual([]);

      const lines = logged();
      expect(lines).toHaveLength(2);
      for (const line of lines) {
        expect(line).toMatch(reason);
        expect(line).toContain(credential.id);
        for (const value of ["someone-else", "xxxxxxxx", "late", "gold", "hook exploded"]) expect(line).not.toContain(value);
      }
    });
  }

  it("a slow hook within a longer CLAIMS_HOOK_TIMEOUT_MS is waited for", async () => {
    const { credential } = await client("slow");
    const response = await send(tokenRequest(credential), faults({ CLAIMS_HOOK_TIMEOUT_MS: "2000" }));
    expect(response.status).toBe(200);
    expect(decodeJwt((await json(response)).access_token).tier).toBe("late");
  });

  it("a hook answering {deny} is 400 access_denied under either policy, whatever else the answer holds", async () => {
    for (const [hook, reason] of [
      ["deny", "account on hold"],
      ["deny_and_claims", "access denied"],
      ["deny_unicode", "unpaid call billing"],
    ] as const) {
      const { credential } = await client(hook);
      for (const policy of ["deny", "omit"]) {
        const response = await send(tokenRequest(credential), faults({ CLAIMS_HOOK_ON_ERROR: policy }));
        await expectError(response.clone(), 400, "access_denied");
        expect((await json(response)).error_description, `${hook} under ${policy}`).toBe(reason);
      }
    }
  });

  it("a hook that answers well adds its claims", async () => {
    const { credential } = await client("ok");
    const response = await send(tokenRequest(credential), faults());
    expect(decodeJwt((await json(response)).access_token)).toMatchObject({ tier: "gold", plan: "gold" });
  });
});

describe("no hook, and paths the hook is not on", () => {
  it("absent: tokens carry the mapped claims and nothing else", async () => {
    const { org, credential } = await client("throw");
    const response = await send(tokenRequest(credential), { CLAIMS_HOOK: undefined });
    expect(response.status).toBe(200);
    expect(decodeJwt((await json(response)).access_token)).toMatchObject({ plan: "gold", tenant: org.external_id });
  });

  it("test-auth and API keys never call the hook: a failing hook leaves them working", async () => {
    const { account } = await client();
    const key = await created(await call("/admin/v1/credentials", { method: "POST", body: { name: unique("key"), type: "api_key", account_id: account.id, metadata: { hook: "throw" } } }));
    const response = await send(new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${key.api_key}` } }), faults());
    expect(response.status).toBe(200);
    expect((await json(response)).claims).toMatchObject({ plan: "gold" });
  });
});
