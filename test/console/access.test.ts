import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { type CryptoKey, type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { getPage, postForm, setCookies, textOf } from "../support/console";
import { ADMIN_TOKEN, BASE, call, json, snapshot, uniqueName } from "../support/http";

/**
 * Cloudflare Access mode for /console and /admin/v1. The vars are empty in wrangler.toml, so these
 * tests call the Worker with an env copy that sets them. Access JWTs are signed here with a key the
 * test makes; its public half is served from <team domain>/cdn-cgi/access/certs by a fetch stub.
 * src/services/access.ts caches the JWKS per isolate per team domain, so every test uses its own.
 */

const AUD = "aud-123";
let teams = 0;

interface AccessSetup {
  team: string;
  kid: string;
  privateKey: CryptoKey;
  served: JWK[];
  certsFetches: () => number;
  send: (request: Request) => Promise<Response>;
  jwt: (overrides?: { email?: string; aud?: string; iss?: string; exp?: number; kid?: string; key?: CryptoKey; alg?: string }) => Promise<string>;
}

async function rsaKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  return { jwk, privateKey };
}

/** A fresh team domain with its own signing key, the certs stub, and a `send` with Access configured. */
async function setupAccess(): Promise<AccessSetup> {
  teams += 1;
  const team = `https://team-${teams}-${Date.now().toString(36)}.cloudflareaccess.com`;
  const kid = `kid-${teams}`;
  const { jwk, privateKey } = await rsaKey(kid);
  const served: JWK[] = [jwk];
  let fetches = 0;
  const realFetch = globalThis.fetch;
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = input instanceof Request ? input.url : String(input);
    if (url === `${team}/cdn-cgi/access/certs`) {
      fetches += 1;
      return Response.json({ keys: served, public_cert: { kid, cert: "unused" } });
    }
    if (url.includes("cloudflareaccess.com")) throw new Error(`unexpected certs fetch: ${url}`);
    return realFetch(input, init);
  });
  const accessEnv = { ...env, CF_ACCESS_TEAM_DOMAIN: team, CF_ACCESS_AUD: AUD };
  const send = async (request: Request) => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, accessEnv as Env, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
  const jwt: AccessSetup["jwt"] = async (overrides = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ email: overrides.email ?? "alice@example.com", type: "app", identity_nonce: "n" })
      .setProtectedHeader({ alg: overrides.alg ?? "RS256", kid: overrides.kid ?? kid })
      .setIssuer(overrides.iss ?? team)
      .setAudience(overrides.aud ?? AUD)
      .setSubject("user-1")
      .setIssuedAt(now - 10)
      .setNotBefore(now - 10)
      .setExpirationTime(overrides.exp ?? now + 300)
      .sign(overrides.key ?? privateKey);
  };
  return { team, kid, privateKey, served, certsFetches: () => fetches, send, jwt };
}

const assertion = (token: string) => ({ "cf-access-jwt-assertion": token });

describe("console with Cloudflare Access", () => {
  let access: AccessSetup;
  beforeEach(async () => {
    access = await setupAccess();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it("opens console pages for a valid Access assertion and names the user", async () => {
    const token = await access.jwt({ email: "alice@example.com" });
    for (const path of ["/console/credentials", "/console/accounts", "/console/audit", "/console/credentials/new"]) {
      const response = await getPage(path, { send: access.send, headers: assertion(token) });
      expect(response.status, path).toBe(200);
      expect(textOf(await response.text())).toContain("Signed in as alice@example.com");
    }
    expect(access.certsFetches()).toBe(1); // the JWKS is cached after the first fetch
  });

  it("records audit actor access:<email> for a change made through the console", async () => {
    const token = await access.jwt({ email: "bob@example.com" });
    const name = uniqueName("access account");
    const created = await postForm("/console/accounts", { name, type: "service" }, { send: access.send, headers: assertion(token) });
    expect(created.status).toBe(303);
    expect(created.headers.get("location")).toBe("/console/accounts?done=create");

    const account = await env.DB.prepare("SELECT id FROM accounts WHERE name = ?").bind(name).first<{ id: string }>();
    expect(account).not.toBeNull();
    const events = await env.DB.prepare("SELECT actor, action FROM audit_events WHERE target_id = ?").bind(account!.id).all();
    expect(events.results).toEqual([{ actor: "access:bob@example.com", action: "account.create" }]);

    // A credential made through the console form is audited the same way, and its secret is shown once.
    const form = await getPage("/console/credentials/new", { send: access.send, headers: assertion(token) });
    const nonce = /name="nonce" value="([^"]+)"/.exec(await form.text())![1]!;
    const credential = await postForm(
      "/console/credentials",
      { nonce, name: uniqueName("access credential"), type: "api_key", account_id: account!.id },
      { send: access.send, headers: assertion(token) },
    );
    expect(credential.status).toBe(201);
    expect(await credential.text()).toMatch(/value="km_live_/);
    const credentialEvents = await env.DB.prepare("SELECT actor FROM audit_events WHERE action = 'credential.create' AND actor = ?")
      .bind("access:bob@example.com")
      .all();
    expect(credentialEvents.results).toHaveLength(1);
  });

  it("does not offer the admin-token login and ignores session cookies while Access is on", async () => {
    const login = await getPage("/console/login", { send: access.send });
    expect(login.status).toBe(303);
    expect(login.headers.get("location")).toBe("/console/credentials");
    const post = await postForm("/console/login", { admin_token: ADMIN_TOKEN }, { send: access.send });
    expect(post.status).toBe(303);
    expect(setCookies(post)).toEqual([]);

    // A session cookie made while Access was off does not get in.
    const session = await postForm("/console/login", { admin_token: ADMIN_TOKEN });
    const cookie = setCookies(session)[0]!.split(";")[0]!;
    const response = await getPage("/console/credentials", { send: access.send, cookie });
    expect(response.status).toBe(401);
  });

  it("still opens an organization's console from a console link (its customers have no Access login), and only that", async () => {
    const org = await json(await call("/admin/v1/organizations", { method: "POST", body: { name: uniqueName("access org") } }));
    const link = await json(await call(`/admin/v1/organizations/${org.id}/console-links`, { method: "POST", body: { email: "dana@acme.example", role: "admin" } }));
    const opened = await getPage(new URL(link.url).pathname, { send: access.send });
    expect(opened.status).toBe(200);
    const cookie = setCookies(opened)[0]!.split(";")[0]!;
    const page = await getPage("/console/credentials", { send: access.send, cookie });
    expect(page.status).toBe(200);
    const text = textOf(await page.text());
    expect(text).toContain(org.name);
    expect(text).toContain("dana@acme.example");
    expect((await getPage("/console/organizations", { send: access.send, cookie })).status).toBe(404);
    // The link's session comes first: with a staff member's Access assertion too, the browser sees that organization alone.
    const both = await getPage("/console/organizations", { send: access.send, cookie, headers: assertion(await access.jwt({ email: "staff@example.com" })) });
    expect(both.status).toBe(404);
  });

  it("answers 401 (not a redirect) without an assertion", async () => {
    for (const path of ["/console/credentials", "/console/accounts", "/console/audit", "/console"]) {
      const response = await getPage(path, { send: access.send });
      expect(response.status, path).toBe(401);
      expect(response.headers.get("location")).toBeNull();
      expect(response.headers.get("content-type")).toMatch(/^text\/html/);
      expect(textOf(await response.text())).toContain("Cloudflare Access");
    }
    const before = await snapshot();
    const post = await postForm("/console/accounts", { name: uniqueName("no assertion"), type: "service" }, { send: access.send });
    expect(post.status).toBe(401);
    expect(await snapshot()).toBe(before);
  });

  describe("refuses a bad assertion with 401 on the console and the management API", () => {
    const cases: [string, (a: AccessSetup) => Promise<string>][] = [
      ["wrong audience", (a) => a.jwt({ aud: "aud-other" })],
      ["wrong issuer", (a) => a.jwt({ iss: "https://other-team.cloudflareaccess.com" })],
      ["expired", (a) => a.jwt({ exp: Math.floor(Date.now() / 1000) - 120 })],
      ["unknown kid", async (a) => a.jwt({ kid: "kid-nobody-has", key: (await rsaKey("kid-nobody-has")).privateKey })],
      ["signed by another key under the right kid", async (a) => a.jwt({ key: (await rsaKey(a.kid)).privateKey })],
      ["no email claim", (a) => a.jwt({ email: "" })],
      ["garbage", async () => "not.a.jwt"],
      ["alg none", async (a) => {
        const header = btoa(JSON.stringify({ alg: "none", kid: a.kid })).replace(/=+$/, "");
        const payload = btoa(JSON.stringify({ iss: a.team, aud: AUD, email: "eve@example.com", exp: Math.floor(Date.now() / 1000) + 300 })).replace(/=+$/, "");
        return `${header}.${payload}.`;
      }],
    ];
    for (const [label, make] of cases) {
      it(label, async () => {
        const token = await make(access);
        const page = await getPage("/console/credentials", { send: access.send, headers: assertion(token) });
        expect(page.status).toBe(401);
        expect(page.headers.get("location")).toBeNull();

        const before = await snapshot();
        const post = await postForm("/console/accounts", { name: uniqueName("bad assertion"), type: "service" }, { send: access.send, headers: assertion(token) });
        expect(post.status).toBe(401);

        const api = await access.send(
          new Request(`${BASE}/admin/v1/accounts`, {
            method: "POST",
            headers: { ...assertion(token), "content-type": "application/json" },
            body: JSON.stringify({ name: uniqueName("bad assertion api"), type: "service" }),
          }),
        );
        expect(api.status).toBe(401);
        expect(((await api.json()) as { error: string }).error).toBe("unauthorized");
        expect(await snapshot()).toBe(before);
      });
    }
  });

  it("lets /admin/v1 in with the Access assertion, actor access:<email>", async () => {
    const token = await access.jwt({ email: "carol@example.com" });
    const response = await access.send(
      new Request(`${BASE}/admin/v1/accounts`, {
        method: "POST",
        headers: { ...assertion(token), "content-type": "application/json" },
        body: JSON.stringify({ name: uniqueName("api via access"), type: "service" }),
      }),
    );
    expect(response.status).toBe(201);
    const account = (await response.json()) as { id: string };
    const events = await env.DB.prepare("SELECT actor, action FROM audit_events WHERE target_id = ?").bind(account.id).all();
    expect(events.results).toEqual([{ actor: "access:carol@example.com", action: "account.create" }]);

    const list = await access.send(new Request(`${BASE}/admin/v1/accounts`, { headers: assertion(token) }));
    expect(list.status).toBe(200);
    const none = await access.send(new Request(`${BASE}/admin/v1/accounts`));
    expect(none.status).toBe(401);
    // The admin token keeps working beside Access.
    const bearer = await access.send(new Request(`${BASE}/admin/v1/accounts`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }));
    expect(bearer.status).toBe(200);
  });

  it("ignores the assertion when Access is not configured", async () => {
    const token = await access.jwt();
    const page = await getPage("/console/credentials", { headers: assertion(token) });
    expect(page.status).toBe(303);
    expect(page.headers.get("location")).toBe("/console/login");
    const api = await getPage("/admin/v1/accounts", { headers: assertion(token) });
    expect(api.status).toBe(401);
    expect(access.certsFetches()).toBe(0);
  });

  it("refetches the certs for an unknown kid, at most once per 30 s", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
    const ok = await access.jwt();
    expect((await getPage("/console/audit", { send: access.send, headers: assertion(ok) })).status).toBe(200);
    expect(access.certsFetches()).toBe(1);

    // Access rotates its key: the new kid is not in the cached set, and the cooldown holds the refetch back.
    const rotated = await rsaKey("kid-rotated");
    access.served.push(rotated.jwk);
    const fresh = await access.jwt({ kid: "kid-rotated", key: rotated.privateKey });
    expect((await getPage("/console/audit", { send: access.send, headers: assertion(fresh) })).status).toBe(401);
    expect(access.certsFetches()).toBe(1);

    // After the cooldown, an unknown kid fetches the certs again and the new key is accepted.
    vi.setSystemTime(Date.now() + 31_000);
    const later = await access.jwt({ kid: "kid-rotated", key: rotated.privateKey });
    expect((await getPage("/console/audit", { send: access.send, headers: assertion(later) })).status).toBe(200);
    expect(access.certsFetches()).toBe(2);
    // Known kids do not refetch.
    expect((await getPage("/console/audit", { send: access.send, headers: assertion(later) })).status).toBe(200);
    expect(access.certsFetches()).toBe(2);
  });
});
