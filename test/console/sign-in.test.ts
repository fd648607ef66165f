import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { ADMIN_TOKEN, BASE } from "../support/http";
import { SESSION_COOKIE, getPage, postForm, sessionSetCookie, setCookies, signIn, textOf } from "../support/console";

/**
 * Console sign-in with the admin token: the login page, the session cookie, tampering, sign-out,
 * and sessions when ADMIN_TOKEN is empty or too short to derive a session key from.
 */

describe("console sign-in with the admin token", () => {
  it("sends an unauthenticated visitor to /console/login with 303", async () => {
    for (const path of ["/console/credentials", "/console/accounts", "/console/audit", "/console/credentials/new", "/console"]) {
      const response = await getPage(path);
      expect(response.status, path).toBe(303);
      expect(response.headers.get("location"), path).toBe("/console/login");
      expect(setCookies(response), path).toEqual([]);
    }
  });

  it("shows a login page with a password field labelled Admin token and a Sign in button", async () => {
    const response = await getPage("/console/login");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await response.text();
    const label = /<label for="([^"]+)">Admin token<\/label>/.exec(html);
    expect(label).not.toBeNull();
    const input = new RegExp(`<input[^>]*id="${label![1]}"[^>]*>`).exec(html)?.[0] ?? "";
    expect(input).toContain('type="password"');
    expect(input).toContain('name="admin_token"');
    expect(html).toMatch(/<button type="submit"[^>]*>Sign in<\/button>/);
    expect(html).toContain('method="post"');
    expect(html).not.toContain(ADMIN_TOKEN);
  });

  it("refuses a wrong token with 401, an error, and no cookie", async () => {
    for (const token of ["", "wrong", `${ADMIN_TOKEN}x`, ADMIN_TOKEN.slice(0, -1), ADMIN_TOKEN.toUpperCase()]) {
      const response = await postForm("/console/login", { admin_token: token });
      expect(response.status, JSON.stringify(token)).toBe(401);
      expect(setCookies(response)).toEqual([]);
      const html = await response.text();
      expect(html).toContain('role="alert"');
      expect(textOf(html)).toContain("That admin token is not right.");
      expect(html).not.toContain(ADMIN_TOKEN);
    }
    // A form without the field at all is refused the same way.
    const empty = await postForm("/console/login", {});
    expect(empty.status).toBe(401);
    expect(setCookies(empty)).toEqual([]);
  });

  it("signs in with the right token: 303 to the console and a strict, short-lived, HttpOnly session cookie", async () => {
    const response = await postForm("/console/login", { admin_token: ADMIN_TOKEN });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/credentials");
    const cookies = setCookies(response);
    expect(cookies).toHaveLength(1);
    const cookie = sessionSetCookie(response)!;
    expect(cookie.name).toBe(SESSION_COOKIE);
    expect(cookie.value.length).toBeGreaterThan(20);
    expect(cookie.attributes.has("httponly")).toBe(true);
    expect(cookie.attributes.get("samesite")).toBe("Strict");
    expect(cookie.attributes.get("path")).toBe("/console");
    const maxAge = Number(cookie.attributes.get("max-age"));
    expect(maxAge).toBeGreaterThan(0);
    expect(maxAge).toBeLessThanOrEqual(12 * 60 * 60);
    expect(cookie.attributes.has("secure")).toBe(false); // http://localhost has no TLS
    expect(cookie.attributes.has("domain")).toBe(false);

    // The cookie never carries the admin token, in any encoding.
    const raw = cookies[0]!;
    expect(raw).not.toContain(ADMIN_TOKEN);
    expect(raw).not.toContain(encodeURIComponent(ADMIN_TOKEN));
    expect(raw).not.toContain(btoa(ADMIN_TOKEN).replace(/=+$/, ""));
    const decoded = cookie.value
      .split(".")
      .map((part) => {
        try {
          return atob(decodeURIComponent(part).replace(/-/g, "+").replace(/_/g, "/"));
        } catch {
          return "";
        }
      })
      .join("|");
    expect(decoded).not.toContain(ADMIN_TOKEN);

    // And it works: the console page opens.
    const page = await getPage("/console/credentials", { cookie: `${SESSION_COOKIE}=${cookie.value}` });
    expect(page.status).toBe(200);
    expect(textOf(await page.text())).toContain("Signed in with the admin token");
  });

  it("marks the cookie Secure when the console is not on localhost", async () => {
    const base = "https://keymint.example.com";
    const response = await postForm("/console/login", { admin_token: ADMIN_TOKEN }, { base });
    expect(response.status).toBe(303);
    const cookie = sessionSetCookie(response)!;
    expect(cookie.attributes.has("secure")).toBe(true);
    expect(cookie.attributes.has("httponly")).toBe(true);
    expect(cookie.attributes.get("samesite")).toBe("Strict");
    expect(cookie.attributes.get("path")).toBe("/console");
    const page = await getPage("/console/credentials", { base, cookie: `${SESSION_COOKIE}=${cookie.value}` });
    expect(page.status).toBe(200);
  });

  it("refuses a tampered, truncated or forged cookie", async () => {
    const cookie = await signIn();
    const value = cookie.slice(SESSION_COOKIE.length + 1);
    const [body, signature] = value.split(".") as [string, string];
    const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);
    const payload = JSON.parse(atob(body.replace(/-/g, "+").replace(/_/g, "/")));
    const forgedBody = btoa(JSON.stringify({ ...payload, actor: "access:mallory@example.com", exp: payload.exp + 86_400 }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    const bad = [
      `${flip(body, 5)}.${signature}`,
      `${body}.${flip(signature, 3)}`,
      `${forgedBody}.${signature}`,
      body,
      `${body}.`,
      `.${signature}`,
      `${body}.${signature}.${signature}`,
      "",
      "x".repeat(2000),
    ];
    for (const tampered of bad) {
      const response = await getPage("/console/credentials", { cookie: `${SESSION_COOKIE}=${tampered}` });
      expect(response.status, tampered.slice(0, 40)).toBe(303);
      expect(response.headers.get("location")).toBe("/console/login");
    }
    // The genuine cookie still works.
    expect((await getPage("/console/credentials", { cookie })).status).toBe(200);
  });

  it("does not take the session cookie on the management API", async () => {
    const cookie = await signIn();
    const response = await getPage("/admin/v1/accounts", { cookie });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toBe("unauthorized");
  });

  it("signs out: the cookie is cleared and a replayed copy no longer works", async () => {
    const cookie = await signIn();
    expect((await getPage("/console/accounts", { cookie })).status).toBe(200);

    const response = await postForm("/console/logout", {}, { cookie });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/login?signed_out=1");
    const cleared = sessionSetCookie(response)!;
    expect(cleared).toBeDefined();
    expect(cleared.value).toBe("");
    expect(cleared.attributes.get("path")).toBe("/console");
    expect(Number(cleared.attributes.get("max-age") ?? "0")).toBeLessThanOrEqual(0);

    const signedOut = await getPage("/console/login?signed_out=1");
    expect(textOf(await signedOut.text())).toContain("You are signed out.");

    // The old cookie, replayed, is refused everywhere.
    for (const path of ["/console/credentials", "/console/accounts", "/console/audit"]) {
      const replay = await getPage(path, { cookie });
      expect(replay.status, path).toBe(303);
      expect(replay.headers.get("location")).toBe("/console/login");
    }
    // A replayed POST changes nothing either.
    const post = await postForm("/console/accounts", { name: "after sign-out", type: "service" }, { cookie });
    expect(post.status).toBe(303);
    expect(post.headers.get("location")).toBe("/console/login");

    // Another session is unaffected, and signing in again works.
    const again = await signIn();
    expect((await getPage("/console/credentials", { cookie: again })).status).toBe(200);
  });

  it("signing out without a session just goes to the login page", async () => {
    const response = await postForm("/console/logout", {});
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/console/login?signed_out=1");
  });
});


describe("console sessions with an unusable ADMIN_TOKEN", () => {
  async function send(request: Request, bindings: Env = env): Promise<Response> {
    const ctx = createExecutionContext();
    const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
    await waitOnExecutionContext(ctx);
    return response;
  }

  /** A cookie signed the way a key derived from `token` would sign it. */
  async function forgedCookie(token: string): Promise<string> {
    const material = new TextEncoder().encode(`keymint console session v1\0${token}`);
    const key = await crypto.subtle.importKey("raw", await crypto.subtle.digest("SHA-256", material), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const payload = { sid: crypto.randomUUID(), actor: "admin_token", exp: Math.floor(Date.now() / 1000) + 3600 };
    const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
    const body = b64(new TextEncoder().encode(JSON.stringify(payload)));
    const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
    return `km_session=${body}.${b64(signature)}`;
  }

  for (const token of ["", "short-admin-token"]) {
    it(`with ADMIN_TOKEN ${JSON.stringify(token)} a cookie forged from it is refused`, async () => {
      const bindings = { ...env, ADMIN_TOKEN: token } as Env;
      const page = await send(new Request(`${BASE}/console/credentials`, { headers: { cookie: await forgedCookie(token) } }), bindings);
      expect(page.status).toBe(303);
      expect(page.headers.get("location")).toBe("/console/login");
    });
  }

  it("positive control: with the real ADMIN_TOKEN, a cookie signed the same way is accepted", async () => {
    const page = await send(new Request(`${BASE}/console/credentials`, { headers: { cookie: await forgedCookie(ADMIN_TOKEN) } }));
    expect(page.status).toBe(200);
  });
});
