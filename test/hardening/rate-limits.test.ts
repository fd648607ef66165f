import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { generateSecret } from "../../src/services/secrets";
import { postForm, sessionSetCookie } from "../support/console";
import { ADMIN_TOKEN, BASE, createAccount, createCredential } from "../support/http";
import { basic } from "../support/oauth";

/**
 * The rate limits, on the real Workers Rate Limiting bindings of wrangler.toml (no mocks):
 *
 *   FAILED_CLIENT_AUTH_BY_CLIENT   10 failures / 60 s per client_id
 *   FAILED_AUTH_BY_IP              30 failures / 60 s per client IP (token, introspection, test-auth)
 *   CONSOLE_SIGN_IN_BY_IP          10 failed sign-ins / 60 s per client IP
 *   ADMIN_WRITES_BY_ACTOR         100 writes / 10 s per delegated admin (ADMIN_TOKEN exempt)
 *
 * Windows are fixed, so a window may roll over in the middle of a test: the first 429 must come
 * after more than `limit` counted requests and at most 2 × limit + 1. Every test has its own keys
 * (its own IPs, fresh clients), so no test spends another's budget.
 */

const LIMITS = { byClient: 10, byIp: 30, consoleSignIn: 10, adminWrites: 100 };
/** The most attempts before a 429 must have come: two whole windows, plus one. */
const budget = (limit: number) => 2 * limit + 1;

/** Unique per test (IPv4 from 203.0.113.101 up, IPv6 with a per-run segment), never shared with other test files. */
const RUN = crypto.getRandomValues(new Uint16Array(1))[0]!.toString(16);
let ipCounter = 0;
function freshIp(): string {
  ipCounter += 1;
  return ipCounter % 2 === 0 ? `2001:db8:${RUN}::${ipCounter.toString(16)}` : `203.0.113.${100 + ipCounter}`;
}

async function send(request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

function tokenRequest(clientId: string, clientSecret: string, ip: string): Request {
  return new Request(`${BASE}/oauth/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(clientId, clientSecret), "cf-connecting-ip": ip },
    body: "grant_type=client_credentials",
  });
}

function testAuthRequest(bearer: string, ip: string): Request {
  return new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${bearer}`, "cf-connecting-ip": ip } });
}

function adminWrite(bearer: string, credentialId: string, name: string, ip?: string): Request {
  return new Request(`${BASE}/admin/v1/credentials/${credentialId}`, {
    method: "PATCH",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json", ...(ip ? { "cf-connecting-ip": ip } : {}) },
    body: JSON.stringify({ name }),
  });
}

/** 429 rate_limited in the contract's shape, with a Retry-After of at most the limiter's period. */
async function expectRateLimited(response: Response, period: number, label: string) {
  const text = await response.text();
  expect(response.status, `${label}: ${text}`).toBe(429);
  const retryAfter = response.headers.get("retry-after");
  expect(retryAfter, label).toMatch(/^[1-9][0-9]*$/);
  expect(Number(retryAfter), label).toBeLessThanOrEqual(period);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(Object.keys(body).sort(), label).toEqual(["error", "error_description"]);
  expect(body.error, label).toBe("rate_limited");
}

/**
 * Sends `attempt(i)` until one answers 429 or the budget is spent. Every answer before the 429
 * must satisfy `before`. Returns the 429 and the number of attempts it took.
 */
async function untilLimited(limit: number, attempt: (i: number) => Promise<Response>, before: (response: Response, i: number) => Promise<void>) {
  for (let i = 1; i <= budget(limit); i++) {
    const response = await attempt(i);
    if (response.status === 429) {
      expect(i, "a 429 before the limit was reached").toBeGreaterThan(limit);
      return { response, attempts: i };
    }
    await before(response, i);
  }
  throw new Error(`no 429 within ${budget(limit)} attempts (limit ${limit})`);
}

async function expectInvalidClient(response: Response, i: number) {
  const body = await response.json<{ error: string }>();
  expect({ i, status: response.status, error: body.error }).toEqual({ i, status: 401, error: "invalid_client" });
}

async function expectInvalidToken(response: Response, i: number) {
  const body = await response.json<{ error: string }>();
  expect({ i, status: response.status, error: body.error }).toEqual({ i, status: 401, error: "invalid_token" });
  expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
}

async function oauthClient(scopes: string[] = []) {
  const account = await createAccount();
  return createCredential(account.id, "oauth_client", scopes) as Promise<{ id: string; client_id: string; client_secret: string; account_id: string }>;
}

async function accessToken(client: { client_id: string; client_secret: string }, ip = freshIp()): Promise<string> {
  const response = await send(tokenRequest(client.client_id, client.client_secret, ip));
  expect(response.status).toBe(200);
  return (await response.json<{ access_token: string }>()).access_token;
}

describe("failed client authentication at /oauth/token, per client_id (10 per 60 s)", () => {
  it("answers 429 rate_limited with Retry-After within the budget, while another client from another IP still gets its token", async () => {
    const target = await oauthClient();
    const other = await oauthClient();
    const attackerIp = freshIp();
    const { response, attempts } = await untilLimited(
      LIMITS.byClient,
      // A well-formed secret that is not the client's: this costs a D1 read, the case to limit.
      () => send(tokenRequest(target.client_id, generateSecret("client_secret"), attackerIp)),
      expectInvalidClient,
    );
    await expectRateLimited(response, 60, `client_id limited after ${attempts} attempts`);
    // The key is the client_id: a second IP guessing the same client's secret is refused too.
    await expectRateLimited(await send(tokenRequest(target.client_id, generateSecret("client_secret"), freshIp())), 60, "same client_id, another IP");
    // But client_ids are not secret: the attack must not lock the real client out.
    expect((await send(tokenRequest(target.client_id, target.client_secret, freshIp()))).status).toBe(200);
    // Nobody else is affected.
    const ok = await send(tokenRequest(other.client_id, other.client_secret, freshIp()));
    expect(ok.status).toBe(200);
    expect((await ok.json<{ access_token: string }>()).access_token).toBeTruthy();
  });
});

describe("failed authentication per IP (30 per 60 s)", () => {
  it("at /oauth/token with ever-new client_ids from one IP: 429 within the budget; a correct client from another IP is unaffected", async () => {
    const good = await oauthClient();
    const attackerIp = freshIp();
    const { response, attempts } = await untilLimited(
      LIMITS.byIp,
      () => send(tokenRequest(generateSecret("client_id"), generateSecret("client_secret"), attackerIp)),
      expectInvalidClient,
    );
    await expectRateLimited(response, 60, `IP limited after ${attempts} attempts`);
    await expectRateLimited(await send(tokenRequest(generateSecret("client_id"), generateSecret("client_secret"), attackerIp)), 60, "the same IP again");
    expect((await send(tokenRequest(good.client_id, good.client_secret, freshIp()))).status).toBe(200);
  });

  it("at /v1/test-auth with junk bearers from one IP: 429 within the budget; another IP is unaffected", async () => {
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const attackerIp = freshIp();
    const junk = (i: number) => [`junk-${i}`, generateSecret("api_key"), `eyJ${i}.eyJ${i}.sig`][i % 3]!;
    const { response, attempts } = await untilLimited(LIMITS.byIp, (i) => send(testAuthRequest(junk(i), attackerIp)), expectInvalidToken);
    await expectRateLimited(response, 60, `test-auth limited after ${attempts} attempts`);
    // The limit turns failures into 429; it never refuses a key that works, even from that IP
    // (a neighbour's failures must not lock a healthy integration out)...
    expect((await send(testAuthRequest(key.api_key, attackerIp))).status).toBe(200);
    await expectRateLimited(await send(testAuthRequest(generateSecret("api_key"), attackerIp)), 60, "more junk from that IP");
    // ...and from another IP a valid key works and junk is a plain 401.
    const other = freshIp();
    expect((await send(testAuthRequest(key.api_key, other))).status).toBe(200);
    await expectInvalidToken(await send(testAuthRequest("junk", other)), 0);
  });
});

describe("failed console sign-in, per IP (10 per 60 s)", () => {
  it("answers 429 with Retry-After to wrong tokens within the budget; the right token still signs in from that IP and from another", async () => {
    const ip = freshIp();
    const signInFrom = (from: string, token: string) => postForm("/console/login", { admin_token: token }, { headers: { "cf-connecting-ip": from }, send });
    let attempts = 0;
    let limited: Response | undefined;
    for (let i = 1; i <= budget(LIMITS.consoleSignIn); i++) {
      const response = await signInFrom(ip, `wrong-token-${i}-${"x".repeat(32)}`);
      if (response.status === 429) {
        attempts = i;
        limited = response;
        break;
      }
      expect(response.status).toBe(401);
      await response.body?.cancel();
    }
    expect(limited, `no 429 within ${budget(LIMITS.consoleSignIn)} attempts`).toBeDefined();
    expect(attempts).toBeGreaterThan(LIMITS.consoleSignIn);
    // The console answers in HTML; the status and Retry-After are what matter.
    expect(limited!.headers.get("retry-after")).toMatch(/^[1-9][0-9]*$/);
    expect(Number(limited!.headers.get("retry-after"))).toBeLessThanOrEqual(60);
    expect(sessionSetCookie(limited!)).toBeUndefined();
    // Only failures count: the right token from the limited IP still signs in, ten times over
    // (a neighbour's guesses must not lock the admin out), while wrong ones stay refused.
    for (let i = 0; i < LIMITS.consoleSignIn; i++) {
      const right = await signInFrom(ip, ADMIN_TOKEN);
      expect(right.status, `the right token from the limited IP, ${i + 1}`).toBe(303);
      expect(sessionSetCookie(right)).toBeDefined();
    }
    expect((await signInFrom(ip, `wrong-token-again-${"x".repeat(32)}`)).status).toBe(429);
    // Another IP signs in.
    const ok = await signInFrom(freshIp(), ADMIN_TOKEN);
    expect(ok.status).toBe(303);
    expect(sessionSetCookie(ok)).toBeDefined();
  });
});

describe("management writes, per delegated admin (100 per 10 s)", () => {
  it(
    "a client:<id> admin gets 429 within the budget, its reads still work, and the bootstrap ADMIN_TOKEN is exempt",
    async () => {
      const admin = await oauthClient(["admin"]);
      const token = await accessToken(admin);
      const account = await createAccount();
      const target = await createCredential(account.id, "api_key");
      // 2 × 100 + 1 writes, sequentially: well under a window's 10 s each 100.
      const { response, attempts } = await untilLimited(
        LIMITS.adminWrites,
        (i) => send(adminWrite(token, target.id, `delegated ${i}`)),
        async (answer, i) => {
          expect({ i, status: answer.status }).toEqual({ i, status: 200 });
          await answer.body?.cancel();
        },
      );
      await expectRateLimited(response, 10, `delegated admin limited after ${attempts} writes`);
      // Reads are not limited.
      const read = await send(new Request(`${BASE}/admin/v1/credentials/${target.id}`, { headers: { authorization: `Bearer ${token}` } }));
      expect(read.status).toBe(200);
      // The limit is per actor, not per IP or route: another delegated admin writes on.
      const second = await oauthClient(["admin"]);
      expect((await send(adminWrite(await accessToken(second), target.id, "second admin"))).status).toBe(200);
      // The bootstrap token is exempt: more writes than the limit, as fast as they can go. Each
      // write of a batch edits its own credential (concurrent edits of one credential may 409).
      const targets = await Promise.all(Array.from({ length: 25 }, () => createCredential(account.id, "api_key")));
      const statuses: number[] = [];
      for (let batch = 0; batch < 6; batch++) {
        const answers = await Promise.all(
          targets.map((each, i) => send(adminWrite(ADMIN_TOKEN, each.id, `bootstrap ${batch}-${i}`, freshIp()))),
        );
        statuses.push(...answers.map((answer) => answer.status));
        await Promise.all(answers.map((answer) => answer.body?.cancel()));
      }
      expect(statuses).toHaveLength(150);
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
    },
    30_000,
  );
});

describe("well-behaved clients are never limited", () => {
  it("more successful token requests and test-auth calls from one IP than any failure limit allows all succeed", async () => {
    const client = await oauthClient();
    const account = await createAccount();
    const key = await createCredential(account.id, "api_key");
    const ip = freshIp();
    const rounds = LIMITS.byIp + 10; // past both the per-client (10) and the per-IP (30) limits
    for (let i = 0; i < rounds; i++) {
      const tokenResponse = await send(tokenRequest(client.client_id, client.client_secret, ip));
      expect({ i, status: tokenResponse.status }).toEqual({ i, status: 200 });
      const { access_token } = await tokenResponse.json<{ access_token: string }>();
      const [byToken, byKey] = await Promise.all([send(testAuthRequest(access_token, ip)), send(testAuthRequest(key.api_key, ip))]);
      expect({ i, token: byToken.status, key: byKey.status }).toEqual({ i, token: 200, key: 200 });
      await Promise.all([byToken.body?.cancel(), byKey.body?.cancel()]);
    }
  });

  it("a few failures (under the limit) do not stop the same client from one IP", async () => {
    const client = await oauthClient();
    const ip = freshIp();
    for (let i = 0; i < LIMITS.byClient - 2; i++) {
      await expectInvalidClient(await send(tokenRequest(client.client_id, generateSecret("client_secret"), ip)), i);
    }
    for (let i = 0; i < 20; i++) expect((await send(tokenRequest(client.client_id, client.client_secret, ip))).status).toBe(200);
  });
});

describe("introspecting inactive tokens is not a failed authentication", () => {
  it("a resource server that introspects 60 junk tokens is never refused, at introspection or at its own /oauth/token", async () => {
    const server = await oauthClient();
    const ip = freshIp();
    const junk = (i: number) => [`junk-${i}`, `eyJ${i}.eyJ${i}.sig`, generateSecret("api_key")][i % 3]!;
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const response = await send(
        new Request(`${BASE}/oauth/introspect`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", authorization: basic(server.client_id, server.client_secret), "cf-connecting-ip": ip },
          body: new URLSearchParams({ token: junk(i) }).toString(),
        }),
      );
      expect(await response.json()).toEqual({ active: false });
      statuses.push(response.status);
    }
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect((await send(tokenRequest(server.client_id, server.client_secret, ip))).status).toBe(200);
  });
});

describe("a correct credential is never refused for its neighbours' failures", () => {
  it("an IP over its failure limit (unknown client_ids) still gets tokens and API-key checks for correct credentials", async () => {
    const account = await createAccount();
    const healthy = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    const ip = freshIp();
    let limited = 0;
    for (let i = 0; i < 40; i++) {
      const response = await send(tokenRequest(generateSecret("client_id"), generateSecret("client_secret"), ip));
      if (response.status === 429) limited++;
      else expect(response.status).toBe(401);
    }
    expect(limited, "the IP is over its limit").toBeGreaterThan(0);
    // Unknown values from that IP stay refused...
    expect((await send(tokenRequest(generateSecret("client_id"), generateSecret("client_secret"), ip))).status).toBe(429);
    // ...but correct ones go through.
    expect((await send(tokenRequest(healthy.client_id, healthy.client_secret, ip))).status).toBe(200);
    expect((await send(testAuthRequest(key.api_key, ip))).status).toBe(200);
  });

  it("a client whose secret keeps failing counts against its client_id, not against its IP", async () => {
    const account = await createAccount();
    const failing = await createCredential(account.id, "oauth_client");
    const key = await createCredential(account.id, "api_key");
    const ip = freshIp();
    const wrongSecret = generateSecret("client_secret");
    const statuses: number[] = [];
    // More failures than the per-IP limit (30 a minute) allows.
    for (let i = 0; i < 40; i++) statuses.push((await send(tokenRequest(failing.client_id, wrongSecret, ip))).status);
    expect(statuses.filter((status) => status === 429).length, "the client_id is over its limit").toBeGreaterThan(0);
    // Neighbours behind the same IP are not refused...
    const other = await createCredential(account.id, "oauth_client");
    expect((await send(tokenRequest(other.client_id, other.client_secret, ip))).status).toBe(200);
    expect((await send(testAuthRequest(key.api_key, ip))).status).toBe(200);
    expect((await send(tokenRequest(generateSecret("client_id"), generateSecret("client_secret"), ip))).status).toBe(401);
    // ...and the targeted client's correct secret still works (client_ids are not secret).
    expect((await send(tokenRequest(failing.client_id, failing.client_secret, ip))).status).toBe(200);
  });
});
