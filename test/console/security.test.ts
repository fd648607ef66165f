import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { type Browser, createViaConsole, getPage, hiddenValue, postForm, signedInBrowser } from "../support/console";
import { createAccount, createCredential, snapshot, uniqueName } from "../support/http";

/** CSRF protection on every console POST, and the security headers on every console page. */

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

    const attempts: [string, Record<string, string>][] = [
      ["/console/accounts", { name: uniqueName("csrf"), type: "service" }],
      ["/console/credentials", { nonce, name: uniqueName("csrf"), type: "api_key", account_id: account.id }],
      [`/console/credentials/${credential.id}/delete`, {}],
      [`/console/credentials/${credential.id}/roll`, { nonce, expires_in: "0" }],
      [`/console/accounts/${account.id}/deactivate`, {}],
      [`/console/accounts/${account.id}/delete`, {}],
      ["/console/logout", {}],
    ];
    const before = await snapshot();
    for (const [path, fields] of attempts) {
      for (const origin of ["https://evil.example", "http://localhost:8788", "https://localhost:8787", "null"]) {
        const response = await browser.post(path, fields, { origin });
        expect(response.status, `${path} from ${origin}`).toBe(403);
        expect(response.headers.get("set-cookie"), path).toBeNull();
      }
      // No Origin at all (and no Sec-Fetch-Site) is refused too.
      expect((await browser.post(path, fields, { origin: null })).status, `${path} without Origin`).toBe(403);
      // Sec-Fetch-Site: cross-site does not help.
      expect((await browser.post(path, fields, { origin: "https://evil.example", headers: { "sec-fetch-site": "cross-site" } })).status).toBe(403);
      // Neither does a multipart or text/plain body.
      for (const type of ["multipart/form-data; boundary=x", "text/plain"]) {
        expect((await browser.post(path, fields, { origin: "https://evil.example", headers: { "content-type": type } })).status).toBe(403);
      }
    }
    expect(await snapshot()).toBe(before);
    // The session survived the refused logout.
    expect((await browser.get("/console/credentials")).status).toBe(200);
  });

  it("refuses a cross-site sign-in (login CSRF) and sets no cookie", async () => {
    const response = await postForm("/console/login", { admin_token: env.ADMIN_TOKEN }, { origin: "https://evil.example" });
    expect(response.status).toBe(403);
    expect(response.headers.get("set-cookie")).toBeNull();
  });

  it("accepts the same-origin POST", async () => {
    const name = uniqueName("same origin");
    const response = await browser.post("/console/accounts", { name, type: "service" });
    expect(response.status).toBe(303);
    const row = await env.DB.prepare("SELECT name, type, status FROM accounts WHERE name = ?").bind(name).first();
    expect(row).toEqual({ name, type: "service", status: "active" });
    // Same-origin by Sec-Fetch-Site alone (a browser that omits Origin) works as well.
    const other = uniqueName("sec-fetch-site");
    const viaFetchSite = await browser.post("/console/accounts", { name: other, type: "user" }, { origin: null, headers: { "sec-fetch-site": "same-origin" } });
    expect(viaFetchSite.status).toBe(303);
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
    const pages = [
      "/console/credentials",
      `/console/credentials?account_id=${account.id}`,
      "/console/credentials/new",
      `/console/credentials/${credential.id}/delete`,
      `/console/credentials/${credential.id}/roll`,
      "/console/accounts",
      `/console/accounts/${account.id}/deactivate`,
      `/console/accounts/${account.id}/delete`,
      "/console/audit",
      `/console/audit?target_id=${account.id}`,
      "/console/credentials/cred_doesnotexist/delete", // an error page
    ];
    for (const path of pages) {
      const response = await browser.get(path);
      expect([200, 404], path).toContain(response.status);
      expect(response.headers.get("content-type"), path).toMatch(/^text\/html; charset=utf-8/i);
      expectSecurityHeaders(response, path);
      expect(response.headers.get("cache-control"), path).toContain("no-store");
    }

    // Pages answered before sign-in, and the answers to POSTs, carry them too.
    const anonymous = [await getPage("/console/login"), await getPage("/console/credentials"), await postForm("/console/login", { admin_token: "wrong" })];
    for (const response of anonymous) {
      expectSecurityHeaders(response, response.url || String(response.status));
      expect(response.headers.get("cache-control")).toContain("no-store");
    }
    const { response: created } = await createViaConsole(browser, { name: uniqueName("headers"), type: "api_key", account_id: account.id });
    expect(created.status).toBe(201);
    expectSecurityHeaders(created, "create response");
    expect(created.headers.get("cache-control")).toContain("no-store");
    const redirect = await browser.post("/console/accounts", { name: uniqueName("headers"), type: "service" });
    expect(redirect.status).toBe(303);
    expectSecurityHeaders(redirect, "redirect");
    expect(redirect.headers.get("cache-control")).toContain("no-store");
  });

  it("serves its own stylesheet and script (the only sources the CSP allows)", async () => {
    const html = await (await browser.get("/console/credentials")).text();
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
  });
});
