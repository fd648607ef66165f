import { adminGet, adminListQueries, adminRefusedQueries, adminWrongMethods, type Case, describeHostileInput, emptyList, enc, SQL_DROP } from "./runner";

/** Hostile input to /admin/v1/audit-events: its methods and its filters. */

const wrongMethods: Case[] = adminWrongMethods([
  ["DELETE", "/admin/v1/audit-events", ["GET", "HEAD"]],
  ["OPTIONS", "/admin/v1/audit-events", ["GET", "HEAD"]],
]);

const duplicates: Case[] = adminRefusedQueries(["/admin/v1/audit-events?target_id=a&target_id=b", "/admin/v1/audit-events?cursor=x&cursor=y"]);

const controls: Case[] = [
  {
    name: "GET /admin/v1/audit-events?target_id={the real API key} → 200, nothing, not echoed",
    send: (fx) => adminGet(`/admin/v1/audit-events?target_id=${fx.key.api_key}`),
    status: 200,
    check: emptyList,
  },
  {
    name: "GET /admin/v1/audit-events?target_id=%E2%80%AE → 200, nothing",
    send: adminGet("/admin/v1/audit-events?target_id=%E2%80%AE"),
    status: 200,
    check: emptyList,
  },
];

const injection: Case[] = adminListQueries([
  [`/admin/v1/audit-events?target_id=${enc(SQL_DROP)}`, 200],
  [`/admin/v1/audit-events?target_id=%2e%2e%2f%2e%2e%2fetc%2fpasswd`, 200],
  [`/admin/v1/audit-events?target_id=${"t".repeat(65)}`, 400],
]);

describeHostileInput("admin audit events", [
  ["wrong methods", wrongMethods],
  ["repeated parameters", duplicates],
  ["NUL, control characters and bidi overrides", controls],
  ["SQL and path traversal", injection],
]);
