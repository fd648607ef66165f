import { expect } from "vitest";
import { BASE } from "../../support/http";
import { adminGet, type Case, describeHostileInput, enc, plainWrongMethods, TRAVERSAL } from "./runner";

/**
 * Hostile input to the routes without authentication (/healthz, /.well-known/..., /openapi.json,
 * /docs) and to paths that are no route at all: queries and odd input are harmless.
 */

const wrongMethods: Case[] = plainWrongMethods([
  ["POST", "/.well-known/jwks.json", ["GET", "HEAD"]],
  ["PUT", "/.well-known/oauth-authorization-server", ["GET", "HEAD"]],
  ["POST", "/healthz", ["GET", "HEAD"]],
  ["DELETE", "/healthz", ["GET", "HEAD"]],
  ["POST", "/openapi.json", ["GET", "HEAD"]],
  ["POST", "/docs", ["GET", "HEAD"]],
  ["DELETE", "/docs", ["GET", "HEAD"]],
]);

const publicRoutes: Case[] = [
  { name: "GET /healthz?x=1&x=2 → 200", send: { path: "/healthz?x=1&x=2" }, status: 200, check: (_, text) => expect(JSON.parse(text)).toEqual({ ok: true }) },
  { name: "HEAD /healthz → 200, no body", send: { method: "HEAD", path: "/healthz" }, status: 200, check: (_, text) => expect(text).toBe("") },
  {
    name: "GET /.well-known/jwks.json?kid=../../etc/passwd → 200, public keys only",
    send: { path: `/.well-known/jwks.json?kid=${enc(TRAVERSAL)}` },
    status: 200,
    check: (_, text) => {
      for (const key of JSON.parse(text).keys) expect(Object.keys(key).sort()).toEqual(["alg", "crv", "kid", "kty", "use", "x", "y"]);
    },
  },
  {
    name: "GET /.well-known/oauth-authorization-server with a hostile Host-like query → 200, issuer unchanged",
    send: { path: `/.well-known/oauth-authorization-server?issuer=${enc("https://evil.example")}` },
    status: 200,
    check: (_, text) => expect(JSON.parse(text).issuer).toBe(BASE),
  },
  {
    name: "GET /openapi.json?<script> → 200 JSON",
    send: { path: `/openapi.json?${enc("<script>")}=1` },
    status: 200,
    check: (_, text) => expect(JSON.parse(text).openapi).toBe("3.1.0"),
  },
  {
    name: "GET /docs?<script>alert(1)</script> → 200 static page, query not reflected",
    send: { path: `/docs?q=${enc("<script>alert(1)</script>")}` },
    status: 200,
    check: (_, text) => expect(text).not.toContain("alert(1)"),
  },
  { name: "GET /%2e%2e/%2e%2e/etc/passwd → 404", send: { path: "/%2e%2e/%2e%2e/etc/passwd" }, status: 404, error: "not_found" },
  { name: "GET /admin/v1/..%2F..%2Fetc%2Fpasswd → 404", send: adminGet("/admin/v1/..%2F..%2Fetc%2Fpasswd"), status: 404, error: "not_found" },
  { name: "GET /oauth/token%00 → 404", send: { path: "/oauth/token%00" }, status: 404, error: "not_found" },
];

describeHostileInput("public routes and unknown paths", [
  ["wrong methods", wrongMethods],
  ["odd queries and paths that are no route", publicRoutes],
]);
