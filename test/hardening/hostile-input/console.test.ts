import { expect } from "vitest";
import { ADMIN_TOKEN, BASE, uniqueName } from "../../support/http";
import { badNames, type Case, consoleGet, consolePost, describeHostileInput, enc, H, ID, KIB, nonce, RLO, send, SQL_DROP, SQL_OR, TRAVERSAL } from "./runner";

/**
 * Hostile input to the console (/console/...), signed in unless a row says otherwise: wrong
 * methods, oversized and repeated fields, hostile ids, names and filters (refused, or rendered
 * escaped), sign-in with the wrong thing, forged session cookies, and cross-site posts.
 */

const wrongMethods: Case[] = [
  // Signed in and same-origin (the CSRF check comes first otherwise).
  ...(
    [
      ["PUT", "/console/credentials", ["GET", "HEAD", "POST"]],
      ["DELETE", "/console/accounts", ["GET", "HEAD", "POST"]],
      ["PUT", "/console/login", ["GET", "HEAD", "POST"]],
      ["DELETE", `/console/credentials/${ID}/delete`, ["GET", "HEAD", "POST"]],
      ["POST", "/console/audit", ["GET", "HEAD"]],
    ] as const
  ).map(([method, path, allow]): Case => ({
    name: `${method} ${path} (console, signed in) → 405`,
    send: (fx) => ({ method, path, headers: [["cookie", fx.cookie], H.origin] }),
    status: 405,
    error: "method_not_allowed",
    allow: [...allow],
  })),
  {
    name: "PUT /console/credentials from no origin → 403 page (CSRF check before routing)",
    send: (fx) => ({ method: "PUT", path: "/console/credentials", headers: [["cookie", fx.cookie]] }),
    status: 403,
    page: "Request refused",
  },
];

const sizes: Case[] = [
  {
    name: "POST /console/login, 70 KiB → 413",
    send: { method: "POST", path: "/console/login", headers: [H.origin, H.form], body: `admin_token=${"a".repeat(70 * KIB)}` },
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /console/accounts, 70 KiB, signed in → 413",
    send: consolePost("/console/accounts", `name=${"a".repeat(70 * KIB)}&type=service`),
    status: 413,
    error: "payload_too_large",
  },
];

const duplicates: Case[] = [
  {
    name: "GET /console/credentials?account_id=a&account_id=b, signed in → 400 page (a filter twice is refused, not guessed)",
    send: consoleGet("/console/credentials?account_id=a&account_id=b"),
    status: 400,
    page: "Request refused",
  },
  {
    name: "POST /console/accounts with name repeated, both with U+202E → 400 page (a field twice is refused)",
    send: consolePost("/console/accounts", `name=${enc(`${RLO}gpj.exe`)}&name=${enc(`a${RLO}b`)}&type=service`),
    status: 400,
    page: "Request refused",
  },
];

const consoleCases: Case[] = [
  {
    name: "GET /console/credentials?account_id=SQL OR → 404 page (an unknown account, not everything)",
    send: consoleGet(`/console/credentials?account_id=${enc(SQL_OR)}`),
    status: 404,
    page: "Not found",
  },
  {
    name: "GET /console/accounts?cursor=traversal → 400 page (a broken page link, not the first page)",
    send: consoleGet(`/console/accounts?cursor=${enc(TRAVERSAL)}`),
    status: 400,
    page: "Request refused",
  },
  {
    name: "GET /console/audit?target_id=<script> → 200, the script escaped",
    send: consoleGet(`/console/audit?target_id=${enc("<script>alert(1)</script>")}`),
    status: 200,
    page: "Audit log",
    check: (_, text) => {
      expect(text).not.toContain("<script>alert(1)");
      expect(text).toContain("&lt;script&gt;alert(1)");
    },
  },
  {
    name: "GET /console/credentials lists a hostile-named credential escaped",
    send: consoleGet("/console/credentials"),
    status: 200,
    page: "Credentials",
    check: (_, text) => {
      expect(text).not.toContain("<img src=x");
      expect(text).not.toContain('<script>alert("km")');
      expect(text).toContain("&lt;img src=x onerror=alert(1)&gt;");
    },
  },
  {
    name: "GET /console/accounts lists a hostile-named account escaped",
    send: consoleGet("/console/accounts"),
    status: 200,
    page: "Accounts",
    check: (_, text) => {
      expect(text).not.toContain("<img src=x");
      expect(text).toContain("&lt;script&gt;");
    },
  },
  {
    name: "GET the delete page of a hostile-named credential → 200, its name escaped in title and body",
    send: (fx) => consoleGet(`/console/credentials/${fx.hostileCredential.id}/delete`)(fx),
    status: 200,
    page: (fx) => `Delete ${escapeHtml(fx.hostileCredential.name)}`,
    check: (_, text) => expect(text).not.toContain("<img src=x"),
  },
  {
    name: "GET the deactivate page of a hostile-named account → 200, escaped",
    send: (fx) => consoleGet(`/console/accounts/${fx.hostileAccount.id}/deactivate`)(fx),
    status: 200,
    check: (_, text) => {
      expect(text).not.toContain("<img src=x");
      expect(text).not.toContain('<script>alert("km")');
    },
  },
  ...(
    [
      ["GET", `/console/credentials/${enc(SQL_OR)}/delete`],
      ["GET", `/console/credentials/%2e%2e%2f%2e%2e%2fetc%2fpasswd/roll`],
      ["GET", `/console/accounts/${enc(SQL_DROP)}/deactivate`],
      ["GET", `/console/accounts/${enc(TRAVERSAL)}/delete`],
      ["GET", `/console/accounts/%00/activate`],
    ] as const
  ).map(([method, path]): Case => ({ name: `${method} ${path} → 404 page`, send: consoleGet(path), status: 404, page: "Not found" })),
  ...(
    [
      [`/console/credentials/${enc(SQL_OR)}/delete`, ""],
      [`/console/credentials/${enc(SQL_DROP)}/roll`, "expires_in=0"],
      [`/console/accounts/${enc(TRAVERSAL)}/delete`, ""],
      [`/console/accounts/${enc(SQL_OR)}/deactivate`, ""],
    ] as const
  ).map(([path, body]): Case => ({
    name: `POST ${path} → 404 page`,
    send: (fx) => consolePost(path, body && `nonce=${nonce()}&${body}`)(fx),
    status: 404,
    page: "Not found",
  })),
  {
    name: "POST roll of a real credential with expires_in = SQL OR → 400 page, secret unchanged",
    send: (fx) => consolePost(`/console/credentials/${fx.victimClient.id}/roll`, `nonce=${nonce()}&expires_in=${enc(SQL_OR)}`)(fx),
    status: 400,
    page: "Request refused",
  },
  {
    name: "POST roll of a real credential with a NUL in the nonce → 400 page",
    send: (fx) => consolePost(`/console/credentials/${fx.victimClient.id}/roll`, `nonce=${nonce().slice(1)}%00&expires_in=0`)(fx),
    status: 400,
    page: "Request refused",
  },
  ...badNames.slice(0, 5).map(
    ([label, name]): Case => ({
      name: `POST /console/accounts, name with ${label} → 400 page`,
      send: consolePost("/console/accounts", `name=${enc(name)}&type=service`),
      status: 400,
      page: "Accounts",
    }),
  ),
  {
    name: "POST /console/credentials, name with U+202E → 400 page",
    send: (fx) => consolePost("/console/credentials", `nonce=${nonce()}&name=${enc(`${RLO}key`)}&type=api_key&account_id=${fx.account.id}`)(fx),
    status: 400,
    page: "Create credential",
  },
  {
    name: "POST /console/credentials, a nonce of SQL → 400 page",
    send: (fx) => consolePost("/console/credentials", `nonce=${enc(SQL_OR)}&name=k&type=api_key&account_id=${fx.account.id}`)(fx),
    status: 400,
    page: "Create credential",
  },
  {
    name: "POST /console/credentials, account_id = SQL DROP → 400, the form again with the account marked",
    send: (fx) => consolePost("/console/credentials", `nonce=${nonce()}&name=k&type=api_key&account_id=${enc(SQL_DROP)}`)(fx),
    status: 400,
    page: "Create credential",
  },
  {
    name: "POST /console/accounts, an HTML name → 303, then listed escaped",
    send: consolePost("/console/accounts", `name=${enc(`<svg onload=alert(2)> ${uniqueName("x")}`)}&type=user`),
    status: 303,
    location: "/console/accounts?done=create",
    changes: true,
    check: async (_, __, fx) => {
      const page = await send(new Request(`${BASE}/console/accounts`, { headers: { cookie: fx.cookie } }));
      const html = await page.text();
      expect(html).not.toContain("<svg onload=alert(2)>");
      expect(html).toContain("&lt;svg onload=alert(2)&gt;");
    },
  },
  {
    name: "POST /console/login with a wrong token that is the API key → 401 page, no cookie, not echoed",
    send: (fx) => ({ method: "POST", path: "/console/login", headers: [H.origin, H.form], body: `admin_token=${fx.key.api_key}` }),
    status: 401,
    page: "Sign in",
    check: (response) => expect(response.headers.get("set-cookie")).toBeNull(),
  },
  {
    name: "POST /console/login with the admin token as JSON → 400 page (forms only), no cookie",
    send: { method: "POST", path: "/console/login", headers: [H.origin, H.json], body: JSON.stringify({ admin_token: ADMIN_TOKEN }) },
    status: 400,
    page: "Request refused",
    check: (response) => expect(response.headers.get("set-cookie")).toBeNull(),
  },
  {
    name: "POST /console/login with admin_token repeated (wrong, then SQL) → 400 page, no cookie",
    send: { method: "POST", path: "/console/login", headers: [H.origin, H.form], body: `admin_token=wrong&admin_token=${enc(SQL_OR)}` },
    status: 400,
    page: "Request refused",
    check: (response) => expect(response.headers.get("set-cookie")).toBeNull(),
  },
  {
    name: "GET /console/credentials with a forged session cookie (SQL) → 303 to sign-in",
    send: { path: "/console/credentials", headers: [["cookie", `km_session=${enc(SQL_OR)}`]] },
    status: 303,
    location: "/console/login",
  },
  {
    name: "GET /console/credentials with the admin token as the session cookie → 303 to sign-in",
    send: { path: "/console/credentials", headers: [["cookie", `km_session=${ADMIN_TOKEN}`]] },
    status: 303,
    location: "/console/login",
  },
  {
    name: "GET /console/credentials with the admin token as Bearer (no session) → 303 to sign-in",
    send: { path: "/console/credentials", headers: [H.bearer(ADMIN_TOKEN)] },
    status: 303,
    location: "/console/login",
  },
  {
    name: "POST /console/accounts/{real}/delete from another origin → 403 page, account kept",
    send: (fx) => ({ method: "POST", path: `/console/accounts/${fx.victimAccount.id}/delete`, headers: [["cookie", fx.cookie], ["origin", "https://evil.example"], H.form], body: "" }),
    status: 403,
    page: "Request refused",
  },
];

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

describeHostileInput("console", [
  ["wrong methods", wrongMethods],
  ["truncated and oversized bodies", sizes],
  ["repeated parameters", duplicates],
  ["pages, forms, sign-in and sessions", consoleCases],
]);
