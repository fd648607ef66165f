import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Browser, createViaConsole, getPage, hiddenValue, postForm, shownSecret, signedInBrowser, textOf } from "../support/console";
import { createAccount, createCredential, snapshot, uniqueName } from "../support/http";

/** CSRF protection on every console POST, and the security headers on every console page. */

/** The text of a page's (first) h1, or undefined when it has none. */
function h1Of(html: string): string | undefined {
  const match = /<h1[^>]*>([\s\S]*?)<\/h1>/.exec(html);
  return match ? textOf(match[1]!) : undefined;
}

/** The console's answer to a cross-site form: 403 and its own page, not any other 403 (or 404). */
async function expectCsrfRefusal(response: Response, label: string) {
  expect(response.status, label).toBe(403);
  expect(response.headers.get("content-type"), label).toMatch(/^text\/html; charset=utf-8/i);
  const html = await response.text();
  expect(h1Of(html), label).toBe("Request refused");
  expect(textOf(html), label).toContain("Forms must be sent from this console, not from another site.");
}

/** A form nonce: 32 base62 characters, as the console's forms carry. */
function freshNonce(): string {
  const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  return [...crypto.getRandomValues(new Uint8Array(32))].map((byte) => alphabet[byte % 62]).join("");
}

let browser: Browser;
beforeAll(async () => {
  browser = await signedInBrowser();
});

describe("console CSRF protection", () => {
  it("refuses a cross-site POST with a valid session: 403 and no row changed", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id, "api_key");
    const form = await browser.get("/console/credentials/new");
    const nonce = hiddenValue(await form.text(), "nonce");

    // Each form post, with what the same post from the console itself answers (the control
    // below): status, then Location for a redirect or the shown-once secret for a page.
    const attempts: { path: string; fields: Record<string, string>; status: number; then: string | RegExp }[] = [
      { path: "/console/accounts", fields: { name: uniqueName("csrf"), type: "service" }, status: 303, then: "/console/accounts?done=create" },
      { path: "/console/credentials", fields: { nonce, name: uniqueName("csrf"), type: "api_key", account_id: account.id }, status: 201, then: /^km_live_/ },
      { path: `/console/credentials/${credential.id}/roll`, fields: { nonce, expires_in: "0" }, status: 200, then: /^km_live_/ },
      { path: `/console/credentials/${credential.id}/delete`, fields: {}, status: 303, then: "/console/credentials?done=deleted" },
      { path: `/console/accounts/${account.id}/deactivate`, fields: {}, status: 303, then: "/console/accounts?done=deactivate" },
      { path: `/console/accounts/${account.id}/delete`, fields: {}, status: 303, then: "/console/accounts?done=delete" },
      { path: "/console/logout", fields: {}, status: 303, then: "/console/login?signed_out=1" },
    ];
    const before = await snapshot();
    for (const { path, fields } of attempts) {
      for (const origin of ["https://evil.example", "http://localhost:8788", "https://localhost:8787", "null"]) {
        const response = await browser.post(path, fields, { origin });
        await expectCsrfRefusal(response, `${path} from ${origin}`);
        expect(response.headers.get("set-cookie"), path).toBeNull();
      }
      // No Origin at all (and no Sec-Fetch-Site) is refused too.
      await expectCsrfRefusal(await browser.post(path, fields, { origin: null }), `${path} without Origin`);
      // Sec-Fetch-Site: cross-site does not help.
      await expectCsrfRefusal(await browser.post(path, fields, { origin: "https://evil.example", headers: { "sec-fetch-site": "cross-site" } }), `${path} cross-site`);
      // Neither does a multipart or text/plain body.
      for (const type of ["multipart/form-data; boundary=x", "text/plain"]) {
        await expectCsrfRefusal(await browser.post(path, fields, { origin: "https://evil.example", headers: { "content-type": type } }), `${path} as ${type}`);
      }
    }
    expect(await snapshot()).toBe(before);
    // The session survived the refused logout.
    const after = await browser.get("/console/credentials");
    expect(after.status).toBe(200);
    expect(h1Of(await after.text())).toBe("Credentials");

    // The control: each of those routes exists and does its job when posted from the console
    // itself, so the 403s above came from the CSRF check, not from a missing route. (A second
    // session, since the last one signs out.)
    const own = await signedInBrowser();
    for (const { path, fields, status, then } of attempts) {
      const response = await own.post(path, "nonce" in fields ? { ...fields, nonce: freshNonce() } : fields);
      expect(response.status, path).toBe(status);
      if (typeof then === "string") expect(response.headers.get("location"), path).toBe(then);
      else expect(shownSecret(await response.text(), "api_key"), path).toMatch(then);
    }
    expect(await env.DB.prepare("SELECT count(*) AS n FROM accounts WHERE id = ?").bind(account.id).first("n")).toBe(0);
    // Signed out: the console sends it to the sign-in page.
    const signedOut = await own.get("/console/credentials");
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get("location")).toBe("/console/login");
  });

  it("refuses a cross-site sign-in (login CSRF) and sets no cookie", async () => {
    const response = await postForm("/console/login", { admin_token: env.ADMIN_TOKEN }, { origin: "https://evil.example" });
    await expectCsrfRefusal(response, "cross-site sign-in");
    expect(response.headers.get("set-cookie")).toBeNull();
    // The control: the same form from the console itself signs in.
    const own = await postForm("/console/login", { admin_token: env.ADMIN_TOKEN });
    expect(own.status).toBe(303);
    expect(own.headers.get("location")).toBe("/console/credentials");
    expect(own.headers.get("set-cookie")).toMatch(/^km_session=/);
  });

  it("accepts the same-origin POST", async () => {
    const name = uniqueName("same origin");
    const response = await browser.post("/console/accounts", { name, type: "service" });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/accounts?done=create");
    const row = await env.DB.prepare("SELECT name, type, status FROM accounts WHERE name = ?").bind(name).first();
    expect(row).toEqual({ name, type: "service", status: "active" });
    // Same-origin by Sec-Fetch-Site alone (a browser that omits Origin) works as well.
    const other = uniqueName("sec-fetch-site");
    const viaFetchSite = await browser.post("/console/accounts", { name: other, type: "user" }, { origin: null, headers: { "sec-fetch-site": "same-origin" } });
    expect(viaFetchSite.status).toBe(303);
    expect(viaFetchSite.headers.get("location")).toBe("/console/accounts?done=create");
    const otherRow = await env.DB.prepare("SELECT name, type, status FROM accounts WHERE name = ?").bind(other).first();
    expect(otherRow).toEqual({ name: other, type: "user", status: "active" });
  });
});

describe("console security headers", () => {
  function expectSecurityHeaders(response: Response, label: string) {
    const csp = response.headers.get("content-security-policy") ?? "";
    const directives = new Map(
      csp
        .split(";")
        .map((part) => part.trim())
        .filter(Boolean)
        .map((part) => {
          const [name = "", ...values] = part.split(/\s+/);
          return [name.toLowerCase(), values] as const;
        }),
    );
    expect(directives.get("default-src"), label).toEqual(["'none'"]);
    expect(directives.get("frame-ancestors"), label).toEqual(["'none'"]);
    expect(directives.get("script-src"), label).toEqual(["'self'"]);
    expect(directives.get("style-src"), label).toEqual(["'self'"]);
    expect(csp, label).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    expect(response.headers.get("x-frame-options"), label).toMatch(/^(DENY|SAMEORIGIN)$/);
    expect(response.headers.get("x-content-type-options"), label).toBe("nosniff");
    expect(response.headers.get("referrer-policy"), label).toMatch(/^(no-referrer|same-origin|strict-origin|strict-origin-when-cross-origin)$/);
  }

  it("sends CSP, X-Frame-Options, nosniff, Referrer-Policy and no-store on every page", async () => {
    const account = await createAccount();
    const credential = await createCredential(account.id);
    // Each page with the status and heading it must answer: a page that wrongly answers 404
    // (or an error page that wrongly answers 200) fails here, not only one without headers.
    const pages: [string, number, string][] = [
      ["/console/credentials", 200, "Credentials"],
      [`/console/credentials?account_id=${account.id}`, 200, "Credentials"],
      ["/console/credentials/new", 200, "Create credential"],
      [`/console/credentials/${credential.id}/delete`, 200, `Delete ${credential.name}?`],
      [`/console/credentials/${credential.id}/roll`, 200, `Roll secret of ${credential.name}`],
      ["/console/accounts", 200, "Accounts"],
      [`/console/accounts/${account.id}/deactivate`, 200, `Deactivate ${account.name}?`],
      [`/console/accounts/${account.id}/delete`, 200, `Delete ${account.name}?`],
      ["/console/audit", 200, "Audit log"],
      [`/console/audit?target_id=${account.id}`, 200, "Audit log"],
      ["/console/credentials/cred_doesnotexist/delete", 404, "Not found"], // an error page
    ];
    for (const [path, status, heading] of pages) {
      const response = await browser.get(path);
      expect(response.status, path).toBe(status);
      expect(response.headers.get("content-type"), path).toMatch(/^text\/html; charset=utf-8/i);
      expectSecurityHeaders(response, path);
      expect(response.headers.get("cache-control"), path).toContain("no-store");
      expect(h1Of(await response.text()), path).toBe(heading);
    }

    // Pages answered before sign-in, and the answers to POSTs, carry them too.
    const login = await getPage("/console/login");
    expect(login.status).toBe(200);
    expect(h1Of(await login.text())).toBe("Sign in to Keymint");
    const notSignedIn = await getPage("/console/credentials");
    expect(notSignedIn.status).toBe(303);
    expect(notSignedIn.headers.get("location")).toBe("/console/login");
    const wrongToken = await postForm("/console/login", { admin_token: "wrong" });
    expect(wrongToken.status).toBe(401);
    expect(textOf(await wrongToken.text())).toContain("That admin token is not right.");
    for (const [label, response] of [["login page", login], ["redirect to sign-in", notSignedIn], ["wrong token", wrongToken]] as const) {
      expectSecurityHeaders(response, label);
      expect(response.headers.get("cache-control"), label).toContain("no-store");
    }
    const { response: created } = await createViaConsole(browser, { name: uniqueName("headers"), type: "api_key", account_id: account.id });
    expect(created.status).toBe(201);
    expect(shownSecret(await created.text(), "api_key")).toMatch(/^km_live_/);
    expectSecurityHeaders(created, "create response");
    expect(created.headers.get("cache-control")).toContain("no-store");
    const redirect = await browser.post("/console/accounts", { name: uniqueName("headers"), type: "service" });
    expect(redirect.status).toBe(303);
    expect(redirect.headers.get("location")).toBe("/console/accounts?done=create");
    expectSecurityHeaders(redirect, "redirect");
    expect(redirect.headers.get("cache-control")).toContain("no-store");
  });

  it("serves its own stylesheet and script (the only sources the CSP allows)", async () => {
    const page = await browser.get("/console/credentials");
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(h1Of(html)).toBe("Credentials");
    expect(html).toContain('<link rel="stylesheet" href="/console/assets/console.css"');
    expect(html).toContain('<script src="/console/assets/copy.js"');
    expect(html).not.toMatch(/<script>(?!<\/script>)|<style>| style="| on[a-z]+="/);
    const css = await getPage("/console/assets/console.css");
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    expect(css.headers.get("x-content-type-options")).toBe("nosniff");
    const js = await getPage("/console/assets/copy.js");
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await css.text()).length).toBeGreaterThan(0);
    expect((await js.text()).length).toBeGreaterThan(0);
  });
});
