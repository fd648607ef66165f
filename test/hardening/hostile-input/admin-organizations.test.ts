import { ACCT, SQL_DROP, adminCall, adminGet, adminJson, adminWrongMethods, type Case, describeHostileInput, emptyList, enc } from "./runner";

/**
 * Hostile input to /admin/v1/organizations and to the organization fields elsewhere: external
 * IDs that are too long, hold controls or are taken, metadata beyond its limits, an unknown
 * organization named by an account, and console links that are forged or reused.
 */

const ORG = "org_0000000000000000000000";

const wrongMethods: Case[] = adminWrongMethods([
  ["PUT", "/admin/v1/organizations", ["GET", "HEAD", "POST"]],
  ["PUT", `/admin/v1/organizations/${ORG}`, ["DELETE", "GET", "HEAD", "PATCH"]],
  ["GET", `/admin/v1/organizations/${ORG}/console-links`, ["POST"]],
]);

const fields: Case[] = [
  ...(
    [
      ["an external_id of 256 characters", { name: "x", external_id: "e".repeat(256) }],
      ["an external_id with a control character", { name: "x", external_id: "cus\u0007" }],
      ["an external_id with a newline", { name: "x", external_id: "cus\n1" }],
      ["an external_id of non-ASCII letters", { name: "x", external_id: "cüs" }],
      ["an empty external_id", { name: "x", external_id: "" }],
      ["metadata of 17 members", { name: "x", metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])) }],
      ["a metadata name with a dash", { name: "x", metadata: { "bad-name": 1 } }],
      ["nested metadata", { name: "x", metadata: { plan: { tier: "gold" } } }],
      ["a metadata array", { name: "x", metadata: { tags: ["a"] } }],
      ["a 257-character metadata string", { name: "x", metadata: { note: "n".repeat(257) } }],
      ["metadata over 1,024 bytes", { name: "x", metadata: Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, "v".repeat(250)])) }],
      ["a grant on an unknown API", { name: "x", grants: [{ api: "https://unknown.example.com", scopes: [] }] }],
      ["a status chosen on create", { name: "x", status: "deactivated" }],
    ] as const
  ).map(([label, body]): Case => ({
    name: `POST /admin/v1/organizations with ${label} → 400`,
    send: adminJson("POST", "/admin/v1/organizations", body),
    status: 400,
    error: "invalid_request",
  })),
  {
    name: "POST /admin/v1/accounts naming an unknown organization → 400",
    send: adminJson("POST", "/admin/v1/accounts", { name: "x", type: "service", organization_id: ORG }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/accounts naming an account's id as the organization → 400",
    send: adminJson("POST", "/admin/v1/accounts", { name: "x", type: "service", organization_id: ACCT }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "PATCH org_default's external_id to 256 characters → 400",
    send: adminJson("PATCH", "/admin/v1/organizations/org_default", { external_id: "e".repeat(256) }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "DELETE org_default → 400",
    send: adminCall("DELETE", "/admin/v1/organizations/org_default"),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /admin/v1/organizations/org_default/deactivate → 400",
    send: adminCall("POST", "/admin/v1/organizations/org_default/deactivate"),
    status: 400,
    error: "invalid_request",
  },
];

const links: Case[] = [
  {
    name: "POST console-links with a role that is not admin or viewer → 400",
    send: adminJson("POST", "/admin/v1/organizations/org_default/console-links", { email: "dana@acme.example", role: "owner" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST console-links with an email of 255 characters → 400",
    send: adminJson("POST", "/admin/v1/organizations/org_default/console-links", { email: `${"d".repeat(243)}@example.com`, role: "admin" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST console-links for an unknown organization → 404",
    send: adminJson("POST", `/admin/v1/organizations/${ORG}/console-links`, { email: "dana@acme.example", role: "admin" }),
    status: 404,
    error: "not_found",
  },
  ...["junk", "eyJsaWQiOiJ4In0.c2ln", `${"A".repeat(3000)}.B`, "a.b.c"].map(
    (token): Case => ({
      name: `GET /console/link/${token.slice(0, 24)}… (forged) → 401, the sign-in page, no session`,
      send: { path: `/console/link/${token}` },
      status: 401,
      page: "Sign in",
    }),
  ),
];

const queries: Case[] = [
  {
    name: `GET /admin/v1/organizations?q=${SQL_DROP} → 200, nothing`,
    send: adminGet(`/admin/v1/organizations?q=${enc(SQL_DROP)}`),
    status: 200,
    check: emptyList,
  },
  {
    name: "GET /admin/v1/organizations?external_id=a&external_id=b → 400",
    send: adminGet("/admin/v1/organizations?external_id=a&external_id=b"),
    status: 400,
    error: "invalid_request",
  },
  {
    name: `GET /admin/v1/accounts?organization_id=${ORG} (unknown) → 200, nothing`,
    send: adminGet(`/admin/v1/accounts?organization_id=${ORG}`),
    status: 200,
    check: emptyList,
  },
];

describeHostileInput("admin organizations", [
  ["wrong methods", wrongMethods],
  ["organization fields", fields],
  ["console links", links],
  ["queries", queries],
]);
