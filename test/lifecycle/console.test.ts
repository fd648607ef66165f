import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { type JWK, SignJWT, exportJWK, generateKeyPair } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { type Browser, type Send, hiddenValue, signIn, getPage, postForm, signedInBrowser, textOf } from "../support/console";
import { BASE, auditEventsFor, call, createAccount, createCredential, json, uniqueName } from "../support/http";
import { basic, form } from "../support/oauth";

/**
 * The credential lifecycle in the console: expiry (set, change, clear, the 7-day badge and
 * "Expired", MAX_CREDENTIAL_LIFETIME_DAYS), the IP allowlist, the leak banner, private_key_jwt
 * clients (a pasted JWK Set, its refusals, replacing it, no Roll) and DPoP. Every change goes
 * through the console's HTTP forms and is checked in D1. The same rules through the management
 * API are in expiry-and-ips.test.ts.
 */

const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const DAY = 86_400_000;

let browser: Browser;
beforeAll(async () => {
  browser = await signedInBrowser();
});

async function row(id: string): Promise<Record<string, any>> {
  const found = await env.DB.prepare("SELECT * FROM credentials WHERE id = ?").bind(id).first<Record<string, any>>();
  if (!found) throw new Error(`no credential ${id}`);
  return found;
}

async function rowsNamed(name: string) {
  return (await env.DB.prepare("SELECT * FROM credentials WHERE name = ?").bind(name).all<Record<string, any>>()).results;
}

/** A datetime-local value (UTC) `ms` from now, to the minute. */
function inputIn(ms: number): { input: string; iso: string } {
  const at = new Date(Math.floor((Date.now() + ms) / 60_000) * 60_000);
  return { input: at.toISOString().slice(0, 16), iso: at.toISOString() };
}

/** The message of a field's error, and whether the field is marked invalid and autofocused. */
function fieldError(html: string, field: string): { message: string | undefined; marked: boolean } {
  const message = new RegExp(`<div class="field-error" id="${field}-error">([\\s\\S]*?)</div>`).exec(html)?.[1];
  const tag = new RegExp(`<(input|textarea)[^>]*id="${field}"[^>]*>`).exec(html)?.[0] ?? "";
  return { message: message === undefined ? undefined : textOf(message) || undefined, marked: /aria-invalid="true"/.test(tag) && /autofocus/.test(tag) };
}

/** Posts the new-credential form (with a fresh nonce) with these fields. */
async function createInConsole(fields: Record<string, string>, send?: Send, cookie = browser.cookie) {
  const page = await getPage(`/console/credentials/new?account_id=${encodeURIComponent(fields.account_id ?? "")}`, { cookie, ...(send ? { send } : {}) });
  expect(page.status).toBe(200);
  const nonce = hiddenValue(await page.text(), "nonce");
  return postForm("/console/credentials", { nonce, type: "oauth_client", ...fields }, { cookie, ...(send ? { send } : {}) });
}

/** The expiry/allowlist/DPoP form of a credential page, with its current values unless given. */
async function saveSettings(id: string, fields: { expires_at?: string; allowed_ips?: string; dpop?: boolean }, send?: Send, cookie = browser.cookie) {
  return postForm(
    `/console/credentials/${id}/settings`,
    { expires_at: fields.expires_at ?? "", allowed_ips: fields.allowed_ips ?? "", ...(fields.dpop ? { dpop_bound_access_tokens: "true" } : {}) },
    { cookie, ...(send ? { send } : {}) },
  );
}

/** The Worker with other vars (e.g. MAX_CREDENTIAL_LIFETIME_DAYS). */
function withVars(vars: Partial<Env>): Send {
  return async (request) => {
    const ctx = createExecutionContext();
    const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, { ...env, ...vars } as Env, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  };
}

async function ecKey(kid = crypto.randomUUID()) {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid } as JWK & { kid: string };
  const privateJwk = { ...(await exportJWK(privateKey)), kid } as JWK & { kid: string };
  return { privateKey, publicJwk, privateJwk, kid };
}
type Key = Awaited<ReturnType<typeof ecKey>>;

/** A token request authenticated by a client assertion signed with `key` (aud = the issuer). */
async function tokenWithAssertion(clientId: string, key: Key) {
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: "ES256", kid: key.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(BASE)
    .setIssuedAt(now)
    .setExpirationTime(now + 60)
    .sign(key.privateKey);
  return form("/oauth/token", { grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: assertion });
}

async function pkjwtClient(keys: Key[], extra: Record<string, unknown> = {}) {
  const account = await createAccount();
  const response = await call("/admin/v1/credentials", {
    method: "POST",
    body: { name: uniqueName("signer"), type: "oauth_client", account_id: account.id, token_endpoint_auth_method: "private_key_jwt", jwks: { keys: keys.map((key) => key.publicJwk) }, ...extra },
  });
  expect(response.status).toBe(201);
  return json(response);
}

describe("expiry in the console", () => {
  it("sets, changes and clears a credential's expiry on its page, audited as console changes", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "api_key");
    const first = inputIn(10 * DAY);
    const set = await saveSettings(credential.id, { expires_at: first.input });
    expect(set.status).toBe(303);
    expect(set.headers.get("location")).toBe(`/console/credentials/${credential.id}?done=settings-saved`);
    expect((await row(credential.id)).expires_at).toBe(first.iso);

    const page = await (await browser.get(`/console/credentials/${credential.id}`)).text();
    expect(page).toContain(`<time datetime="${first.iso}"`);
    expect(page).toMatch(new RegExp(`<input id="expires_at" name="expires_at" type="datetime-local" step="1" value="${first.input}"`));
    expect(textOf(page)).not.toContain("Expires in"); // 10 days away: no badge yet

    const second = inputIn(3 * DAY);
    expect((await saveSettings(credential.id, { expires_at: second.input })).status).toBe(303);
    expect((await row(credential.id)).expires_at).toBe(second.iso);

    // Saving the form untouched changes nothing and records nothing.
    const before = await auditEventsFor(credential.id);
    const same = await saveSettings(credential.id, { expires_at: second.input });
    expect(same.headers.get("location")).toBe(`/console/credentials/${credential.id}?done=settings-unchanged`);
    expect(await auditEventsFor(credential.id)).toHaveLength(before.length);

    expect((await saveSettings(credential.id, { expires_at: "" })).status).toBe(303);
    expect((await row(credential.id)).expires_at).toBeNull();

    const events = await auditEventsFor(credential.id);
    const lifecycle = events.filter((event) => event.action.startsWith("credential.expiry_")).map((event) => [event.action, event.channel]);
    expect(lifecycle).toEqual([
      ["credential.expiry_cleared", "console"],
      ["credential.expiry_changed", "console"],
      ["credential.expiry_set", "console"],
    ]);
  });

  it("keeps an expiry with milliseconds (set through the API) when the form is saved for another field", async () => {
    const account = await createAccount();
    const expiresAt = new Date(Date.now() + 20 * DAY + 1234).toISOString();
    const created = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName("ms"), type: "api_key", account_id: account.id, expires_at: expiresAt } }));
    const html = await (await browser.get(`/console/credentials/${created.id}`)).text();
    const shown = /<input id="expires_at"[^>]*value="([^"]*)"/.exec(html)![1]!;
    expect(shown).toBe(expiresAt.slice(0, 19));
    expect((await saveSettings(created.id, { expires_at: shown, allowed_ips: "203.0.113.0/24" })).status).toBe(303);
    const stored = await row(created.id);
    expect(stored.expires_at).toBe(expiresAt);
    expect(JSON.parse(stored.allowed_ips)).toEqual(["203.0.113.0/24"]);
  });

  it("refuses a past or malformed expiry with the message on the field, focused, and changes nothing", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "api_key");
    for (const [typed, expected] of [
      [inputIn(-DAY).input, "Expires at: must be in the future."],
      ["2026-02-30T10:00", "Expires at: that date and time does not exist."],
      ["tomorrow", "Expires at: enter a date and time as YYYY-MM-DD HH:MM (UTC)."],
    ] as const) {
      const response = await saveSettings(credential.id, { expires_at: typed });
      expect(response.status, typed).toBe(400);
      const html = await response.text();
      expect(fieldError(html, "expires_at"), typed).toEqual({ message: expected, marked: true });
      expect(html).toContain(`value="${typed}"`); // what was typed comes back
      expect((await row(credential.id)).expires_at).toBeNull();
    }
  });

  it("applies MAX_CREDENTIAL_LIFETIME_DAYS on the create form and the credential page", async () => {
    const send = withVars({ MAX_CREDENTIAL_LIFETIME_DAYS: "30" } as Partial<Env>);
    const cookie = await signIn({ send });
    const account = await createAccount();
    const name = uniqueName("policy");
    const form = await (await getPage("/console/credentials/new", { cookie, send })).text();
    expect(textOf(form)).toContain("Required here: at most 30 days from now.");

    const missing = await createInConsole({ name, account_id: account.id, type: "api_key" }, send, cookie);
    expect(missing.status).toBe(400);
    expect(fieldError(await missing.text(), "expires_at")).toEqual({ message: "Expires at: is required: credentials live at most 30 days here.", marked: true });
    const far = await createInConsole({ name, account_id: account.id, type: "api_key", expires_at: inputIn(31 * DAY).input }, send, cookie);
    expect(far.status).toBe(400);
    expect(fieldError(await far.text(), "expires_at").message).toBe("Expires at: is at most 30 days away here.");
    expect(await rowsNamed(name)).toHaveLength(0);

    const ok = inputIn(29 * DAY);
    const created = await createInConsole({ name, account_id: account.id, type: "api_key", expires_at: ok.input }, send, cookie);
    expect(created.status).toBe(201);
    const [stored] = await rowsNamed(name);
    expect(stored!.expires_at).toBe(ok.iso);

    // On the credential page: clearing is refused under the policy, and the expiry stays.
    const cleared = await saveSettings(stored!.id, { expires_at: "" }, send, cookie);
    expect(cleared.status).toBe(400);
    expect(fieldError(await cleared.text(), "expires_at")).toEqual({ message: "Expires at: is required: credentials live at most 30 days here.", marked: true });
    expect((await row(stored!.id)).expires_at).toBe(ok.iso);
  });

  it("flags credentials ending within 7 days and expired ones, in the list and on the page, in words", async () => {
    const account = await createAccount();
    const soon = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName("soon"), type: "api_key", account_id: account.id, expires_at: new Date(Date.now() + 3 * DAY - 60_000).toISOString() } }));
    const hours = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName("hours"), type: "api_key", account_id: account.id, expires_at: new Date(Date.now() + 5 * 3_600_000 - 60_000).toISOString() } }));
    const later = await json(await call("/admin/v1/credentials", { method: "POST", body: { name: uniqueName("later"), type: "api_key", account_id: account.id, expires_at: new Date(Date.now() + 8 * DAY).toISOString() } }));
    const never = await createCredential(account.id, "api_key");
    const expired = await createCredential(account.id, "api_key");
    const past = new Date(Date.now() - DAY).toISOString();
    await env.DB.prepare("UPDATE credentials SET expires_at = ? WHERE id = ?").bind(past, expired.id).run();

    const list = await (await browser.get(`/console/credentials?account_id=${account.id}`)).text();
    const cell = (id: string) => {
      const rowHtml = new RegExp(`<tr>(?:(?!</tr>)[\\s\\S])*?/console/credentials/${id}[?"][\\s\\S]*?</tr>`).exec(list)![0];
      return textOf(/<td data-label="Expires \(UTC\)">([\s\S]*?)<\/td>/.exec(rowHtml)![1]!);
    };
    expect(cell(soon.id)).toMatch(/ Expires in 3 days$/);
    expect(cell(hours.id)).toMatch(/ Expires in 5 hours$/);
    expect(cell(later.id)).toBe(later.expires_at.replace("T", " ").slice(0, 19));
    expect(cell(never.id)).toBe("Never");
    expect(cell(expired.id)).toBe(`${past.replace("T", " ").slice(0, 19)} Expired`);
    expect(list).toMatch(/<span class="badge warn">Expires in 3 days<\/span>/);
    expect(list).toMatch(/<span class="badge off">Expired<\/span>/);

    const soonPage = textOf(await (await browser.get(`/console/credentials/${soon.id}`)).text());
    expect(soonPage).toContain("Expires in 3 days");
    const expiredPage = textOf(await (await browser.get(`/console/credentials/${expired.id}`)).text());
    expect(expiredPage).toContain("Expired");
    expect(expiredPage).toContain("This credential has expired: it authenticates nowhere.");
    expect(textOf(await (await browser.get(`/console/credentials/${never.id}`)).text())).toContain("Never: it works until it is deleted");
  });
});

describe("the IP allowlist in the console", () => {
  it("saves one CIDR per line, clears it with an empty field, and the allowlist is enforced", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    const saved = await saveSettings(client.id, { allowed_ips: " 203.0.113.0/24\r\n\r\n2001:db8::/32\n203.0.113.0/24\n" });
    expect(saved.status).toBe(303);
    expect(JSON.parse((await row(client.id)).allowed_ips)).toEqual(["203.0.113.0/24", "2001:db8::/32"]);
    const page = await (await browser.get(`/console/credentials/${client.id}`)).text();
    expect(page).toMatch(/<textarea id="allowed_ips"[^>]*>203\.0\.113\.0\/24\n2001:db8::\/32<\/textarea>/);
    expect(textOf(page)).toContain("IP allowlist 203.0.113.0/24 2001:db8::/32");

    const token = (ip: string) => form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(client.client_id, client.client_secret), "cf-connecting-ip": ip });
    expect((await token("203.0.113.9")).status).toBe(200);
    expect((await token("198.51.100.1")).status).toBe(401);

    expect((await saveSettings(client.id, { allowed_ips: "  \n" })).status).toBe(303);
    expect((await row(client.id)).allowed_ips).toBeNull();
    expect(textOf(await (await browser.get(`/console/credentials/${client.id}`)).text())).toContain("Anywhere: no allowlist");
    expect((await token("198.51.100.1")).status).toBe(200);
  });

  it("refuses a bad CIDR (host bits, mask, garbage) or more than 32, on the field, and changes nothing", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "api_key");
    await saveSettings(credential.id, { allowed_ips: "10.0.0.0/8" });
    const cases: [string, string][] = [
      ["10.0.0.0/8\n10.1.2.3/8", 'IP allowlist: "10.1.2.3/8" has host bits set.'],
      ["10.0.0.0/33", 'IP allowlist: "10.0.0.0/33" has a mask over /32.'],
      ["2001:db8::/x", 'IP allowlist: "2001:db8::/x" has a malformed mask.'],
      ["example.com", 'IP allowlist: "example.com" is not an IPv4 or IPv6 address.'],
      [Array.from({ length: 33 }, (_, i) => `10.0.${i}.0/24`).join("\n"), "IP allowlist: at most 32 CIDRs (there are 33)."],
    ];
    for (const [typed, message] of cases) {
      const response = await saveSettings(credential.id, { allowed_ips: typed });
      expect(response.status, typed).toBe(400);
      const html = await response.text();
      expect(fieldError(html, "allowed_ips"), typed).toEqual({ message, marked: true });
      expect(JSON.parse((await row(credential.id)).allowed_ips)).toEqual(["10.0.0.0/8"]);
    }
  });
});

describe("a leaked secret in the console", () => {
  it("shows a banner with when and where, and the action to roll it; the list row is marked", async () => {
    const account = await createAccount();
    const leaked = await createCredential(account.id, "api_key");
    const clean = await createCredential(account.id, "api_key");
    const at = "2026-03-01T12:34:56.000Z";
    const url = "https://github.com/example/repo/blob/abc123/config.env";
    await env.DB.prepare("UPDATE credentials SET leaked_at = ?, leak_url = ? WHERE id = ?").bind(at, url, leaked.id).run();

    const html = await (await browser.get(`/console/credentials/${leaked.id}`)).text();
    const banner = /<div id="leak-banner" class="notice error" role="alert">([\s\S]*?)<\/div>/.exec(html)?.[1];
    expect(banner).toBeDefined();
    expect(textOf(banner!)).toBe(`This secret was reported leaked. Reported leaked on 2026-03-01 12:34:56 UTC at ${url} . Anyone who found it can use it until it is replaced. Roll the secret now`);
    expect(banner).toContain(`<a class="mono" href="${url}" rel="noreferrer">`);
    expect(banner).toContain(`href="/console/credentials/${leaked.id}/roll"`);
    expect(await (await browser.get(`/console/credentials/${clean.id}`)).text()).not.toContain("leak-banner");

    const list = await (await browser.get(`/console/credentials?account_id=${account.id}`)).text();
    const rowOf = (id: string) => new RegExp(`<tr>(?:(?!</tr>)[\\s\\S])*?/console/credentials/${id}[?"][\\s\\S]*?</tr>`).exec(list)![0];
    expect(textOf(rowOf(leaked.id))).toContain("Reported leaked");
    expect(textOf(rowOf(clean.id))).not.toContain("Reported leaked");

    // A leak URL that is not a web address is shown, never linked.
    await env.DB.prepare("UPDATE credentials SET leak_url = ? WHERE id = ?").bind("javascript:alert(1)", leaked.id).run();
    const odd = await (await browser.get(`/console/credentials/${leaked.id}`)).text();
    expect(odd).not.toContain('href="javascript:');
    expect(textOf(odd)).toContain("at javascript:alert(1) .");

    // Rolling from the banner clears the mark.
    const roll = await (await browser.get(`/console/credentials/${leaked.id}/roll`)).text();
    const rolled = await browser.post(`/console/credentials/${leaked.id}/roll`, { nonce: hiddenValue(roll, "nonce"), expires_in: "0" });
    expect(rolled.status).toBe(200);
    const after = await row(leaked.id);
    expect([after.leaked_at, after.leak_url]).toEqual([null, null]);
    expect(await (await browser.get(`/console/credentials/${leaked.id}`)).text()).not.toContain("leak-banner");
  });
});

describe("private_key_jwt clients in the console", () => {
  it("offers the client authentication choice (client secret by default), a JWK Set field and the DPoP checkbox", async () => {
    const html = await (await browser.get("/console/credentials/new")).text();
    const radios = [...html.matchAll(/<input type="radio" name="token_endpoint_auth_method" value="([a-z_]+)"( checked="")?/g)].map((m) => [m[1], Boolean(m[2])]);
    expect(radios).toEqual([
      ["client_secret_basic", true],
      ["private_key_jwt", false],
    ]);
    expect(textOf(html)).toContain("Client secret (Recommended)");
    expect(html).toMatch(/<label for="jwks">JWK Set \(public keys, for private key JWT\)<\/label>\s*<textarea id="jwks" name="jwks"/);
    expect(html).toMatch(/<label class="check">\s*<input type="checkbox" name="dpop_bound_access_tokens" value="true"\s*\/>\s*Require DPoP-bound tokens\s*<\/label>/);
    expect(html).toMatch(/<label for="expires_at">Expires at \(UTC\)<\/label>\s*<input id="expires_at" name="expires_at" type="datetime-local"/);
  });

  it("creates one from a pasted JWK Set: no secret shown, its client_id and handoff, and it gets tokens with an assertion", async () => {
    const account = await createAccount();
    const key = await ecKey("console-key-1");
    const name = uniqueName("pkjwt");
    const response = await createInConsole({
      name,
      account_id: account.id,
      token_endpoint_auth_method: "private_key_jwt",
      jwks: JSON.stringify({ keys: [key.publicJwk] }, null, 2),
      dpop_bound_access_tokens: "",
    });
    expect(response.status).toBe(201);
    const html = await response.text();
    const [stored] = await rowsNamed(name);
    expect(stored!.token_endpoint_auth_method).toBe("private_key_jwt");
    expect(JSON.parse(stored!.jwks)).toEqual({ keys: [{ kty: "EC", crv: "P-256", x: key.publicJwk.x, y: key.publicJwk.y, kid: "console-key-1" }] });
    expect(stored!.dpop_bound_access_tokens).toBe(0);

    expect(html).not.toMatch(/id="client_secret"/);
    expect(html).not.toContain("KEYMINT_CLIENT_SECRET");
    expect(html).toMatch(new RegExp(`<input id="client_id" type="text" readonly="" value="${stored!.client_id}"`));
    const text = textOf(html);
    expect(text).toContain("There is no secret to copy.");
    expect(text).toContain(`client_assertion_type=${ASSERTION_TYPE}`);
    expect(text).toContain(`aud = the issuer, ${BASE}`);
    expect(text).toContain(`${BASE}/oauth/token`);
    expect(text).toContain("console-key-1 EC P-256");
    expect(html).toContain(`KEYMINT_ASSERTION_AUDIENCE=${BASE}`);

    const token = await tokenWithAssertion(stored!.client_id, key);
    expect(token.status).toBe(200);
    expect(((await token.json()) as { token_type: string }).token_type).toBe("Bearer");
  });

  it("refuses a pasted private key, duplicate kids, bad JSON, a JWK Set for a secret client or an API key: on the field, nothing created", async () => {
    const account = await createAccount();
    const key = await ecKey("dup");
    const other = await ecKey("dup");
    const name = uniqueName("refused");
    const cases: [Record<string, string>, string, string][] = [
      [{ token_endpoint_auth_method: "private_key_jwt", jwks: JSON.stringify({ keys: [key.privateJwk] }) }, "jwks", "JWK Set: keys[0] holds a private member: send public keys only."],
      [{ token_endpoint_auth_method: "private_key_jwt", jwks: JSON.stringify({ keys: [key.publicJwk, other.publicJwk] }) }, "jwks", 'JWK Set: keys[1] repeats the kid "dup".'],
      [{ token_endpoint_auth_method: "private_key_jwt", jwks: "{not json" }, "jwks", "JWK Set: this is not valid JSON."],
      [{ token_endpoint_auth_method: "private_key_jwt", jwks: JSON.stringify([key.publicJwk]) }, "jwks", 'JWK Set: must be {"keys": [...]}.'],
      [{ token_endpoint_auth_method: "private_key_jwt", jwks: "" }, "jwks", 'JWK Set: paste {"keys": [...]} with the client\'s public keys.'],
      [{ token_endpoint_auth_method: "client_secret_basic", jwks: JSON.stringify({ keys: [key.publicJwk] }) }, "jwks", "JWK Set: only a private key JWT client has one. Choose Private key JWT above, or empty this field."],
      [
        { type: "api_key", token_endpoint_auth_method: "private_key_jwt", jwks: JSON.stringify({ keys: [key.publicJwk] }) },
        "token_endpoint_auth_method",
        "Client authentication: a private key JWT is for OAuth 2.0 clients. Choose that type, or Client secret.",
      ],
      [{ type: "api_key", dpop_bound_access_tokens: "true" }, "dpop_bound_access_tokens", "Require DPoP-bound tokens: only OAuth 2.0 clients get tokens. Uncheck it for an API key."],
    ];
    for (const [fields, field, message] of cases) {
      const response = await createInConsole({ name, account_id: account.id, ...fields });
      expect(response.status, message).toBe(400);
      const html = await response.text();
      expect(textOf(new RegExp(`<div class="field-error" id="${field}-error">([\\s\\S]*?)</div>`).exec(html)?.[1] ?? ""), message).toBe(message);
      expect(html, message).toMatch(new RegExp(`<(input|textarea)[^>]*(id="${field}"|name="${field}")[^>]*aria-invalid="true"`));
      if (fields.jwks) expect(html).toContain(fields.jwks.replaceAll('"', "&quot;").slice(0, 30)); // what was pasted comes back
    }
    expect(await rowsNamed(name)).toHaveLength(0);
  });

  it("checks a pasted JWK Set in the page too: console.js carries the same rules", async () => {
    const script = await (await browser.get("/console/assets/copy.js")).text();
    expect(script).toContain('const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];');
    expect(script).toContain("repeats the kid");
    expect(script).toContain("it must hold 1 to 5 keys.");
  });

  it("shows the auth method and key ids, replaces the JWK Set (rotation, audited), and offers no Roll", async () => {
    const first = await ecKey("first");
    const second = await ecKey("second");
    const client = await pkjwtClient([first]);
    const page = await (await browser.get(`/console/credentials/${client.id}`)).text();
    const text = textOf(page);
    expect(text).toContain("Client authentication Private key JWT private_key_jwt");
    expect(text).toContain("Public keys first EC P-256");
    expect(text).not.toContain("Secret ends in");
    expect(page).not.toContain(`/console/credentials/${client.id}/roll`);
    expect(text).not.toContain("Roll secret");
    expect(page).toMatch(/<label for="jwks">JWK Set<\/label>\s*<textarea id="jwks" name="jwks"[^>]*required=""/);

    // No roll page and no roll, even when asked for directly.
    const rollPage = await browser.get(`/console/credentials/${client.id}/roll`);
    expect(rollPage.status).toBe(400);
    const before = await row(client.id);
    const roll = await browser.post(`/console/credentials/${client.id}/roll`, { nonce: "a".repeat(32), expires_in: "0" });
    expect(roll.status).toBe(400);
    expect(await row(client.id)).toEqual(before);

    // Rotation: the new set replaces the old; the removed key stops working at once.
    expect((await tokenWithAssertion(client.client_id, first)).status).toBe(200);
    const replaced = await browser.post(`/console/credentials/${client.id}/jwks`, { jwks: JSON.stringify({ keys: [second.publicJwk] }) });
    expect(replaced.status).toBe(303);
    expect(replaced.headers.get("location")).toBe(`/console/credentials/${client.id}?done=keys-saved`);
    expect(JSON.parse((await row(client.id)).jwks).keys.map((key: { kid: string }) => key.kid)).toEqual(["second"]);
    expect((await tokenWithAssertion(client.client_id, first)).status).toBe(401);
    expect((await tokenWithAssertion(client.client_id, second)).status).toBe(200);
    const events = await auditEventsFor(client.id);
    expect(events.filter((event) => event.action === "credential.jwks_changed").map((event) => event.channel)).toEqual(["console"]);
    expect(textOf(await (await browser.get(`/console/credentials/${client.id}`)).text())).toContain("Public keys second EC P-256");

    // A private key or duplicate kids are refused on the field, and the set stays.
    for (const [jwks, message] of [
      [{ keys: [second.privateJwk] }, "JWK Set: keys[0] holds a private member: send public keys only."],
      [{ keys: [second.publicJwk, { ...first.publicJwk, kid: "second" }] }, 'JWK Set: keys[1] repeats the kid "second".'],
    ] as const) {
      const refused = await browser.post(`/console/credentials/${client.id}/jwks`, { jwks: JSON.stringify(jwks) });
      expect(refused.status).toBe(400);
      const html = await refused.text();
      expect(textOf(/<div class="field-error" id="jwks-error">([\s\S]*?)<\/div>/.exec(html)![1]!)).toBe(message);
      expect(html).toMatch(/<textarea id="jwks"[^>]*aria-invalid="true"/);
      expect(JSON.parse((await row(client.id)).jwks).keys.map((key: { kid: string }) => key.kid)).toEqual(["second"]);
    }

    // A secret client has no keys to replace.
    const account = await createAccount();
    const secretClient = await createCredential(account.id, "oauth_client");
    const wrong = await browser.post(`/console/credentials/${secretClient.id}/jwks`, { jwks: JSON.stringify({ keys: [second.publicJwk] }) });
    expect(wrong.status).toBe(400);
    expect((await row(secretClient.id)).jwks).toBeNull();
    const secretPage = textOf(await (await browser.get(`/console/credentials/${secretClient.id}`)).text());
    expect(secretPage).toContain("Client authentication Client secret client_secret_basic");
    expect(secretPage).toContain("Roll secret");
  });
});

describe("DPoP in the console", () => {
  it("requires DPoP-bound tokens from the create form and toggles it on the credential page", async () => {
    const account = await createAccount();
    const name = uniqueName("dpop");
    const created = await createInConsole({ name, account_id: account.id, dpop_bound_access_tokens: "true" });
    expect(created.status).toBe(201);
    const [stored] = await rowsNamed(name);
    expect(stored!.dpop_bound_access_tokens).toBe(1);
    const shown = textOf(await created.text());
    expect(shown).toContain("This client must send a DPoP proof header");

    const page = await (await browser.get(`/console/credentials/${stored!.id}`)).text();
    expect(textOf(page)).toContain("DPoP Required its tokens must be DPoP-bound");
    expect(page).toMatch(/<input type="checkbox" name="dpop_bound_access_tokens" value="true" checked=""/);

    expect((await saveSettings(stored!.id, {})).status).toBe(303);
    expect((await row(stored!.id)).dpop_bound_access_tokens).toBe(0);
    expect(textOf(await (await browser.get(`/console/credentials/${stored!.id}`)).text())).toContain("DPoP Not required");
    expect((await saveSettings(stored!.id, { dpop: true })).status).toBe(303);
    expect((await row(stored!.id)).dpop_bound_access_tokens).toBe(1);

    // An API key has no DPoP setting; sending one anyway is refused.
    const key = await createCredential(account.id, "api_key");
    expect(await (await browser.get(`/console/credentials/${key.id}`)).text()).not.toContain('name="dpop_bound_access_tokens"');
    const refused = await saveSettings(key.id, { dpop: true });
    expect(refused.status).toBe(400);
    expect((await row(key.id)).dpop_bound_access_tokens).toBe(0);
  });

  it("a client that requires DPoP gets no Bearer token", async () => {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client");
    expect((await saveSettings(client.id, { dpop: true })).status).toBe(303);
    const response = await form("/oauth/token", { grant_type: "client_credentials" }, { authorization: basic(client.client_id, client.client_secret) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe("invalid_dpop_proof");
  });
});

describe("CSRF on the new console forms", () => {
  it("refuses cross-site posts to /settings and /jwks with 403, and nothing changes", async () => {
    const key = await ecKey("csrf");
    const client = await pkjwtClient([key]);
    const before = await row(client.id);
    for (const origin of ["https://evil.example", "http://localhost:8788", "null"]) {
      const settings = await browser.post(`/console/credentials/${client.id}/settings`, { expires_at: inputIn(DAY).input, allowed_ips: "10.0.0.0/8", dpop_bound_access_tokens: "true" }, { origin });
      expect(settings.status).toBe(403);
      expect(textOf(await settings.text())).toContain("Forms must be sent from this console, not from another site.");
      const jwks = await browser.post(`/console/credentials/${client.id}/jwks`, { jwks: JSON.stringify({ keys: [{ ...key.publicJwk, kid: "evil" }] }) }, { origin });
      expect(jwks.status).toBe(403);
    }
    expect((await browser.post(`/console/credentials/${client.id}/settings`, { allowed_ips: "10.0.0.0/8" }, { origin: null })).status).toBe(403);
    expect(await row(client.id)).toEqual(before);
    // The same post from the console itself is accepted (the control).
    expect((await browser.post(`/console/credentials/${client.id}/settings`, { allowed_ips: "10.0.0.0/8" })).status).toBe(303);
    expect(JSON.parse((await row(client.id)).allowed_ips)).toEqual(["10.0.0.0/8"]);
  });
});
