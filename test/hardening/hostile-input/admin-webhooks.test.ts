import { ID, adminCall, adminGet, adminJson, adminWrongMethods, type Case, describeHostileInput } from "./runner";

/**
 * Hostile input to /admin/v1/webhooks (contract "Webhooks"): URLs that are malformed, too long,
 * not https, or name a private, loopback or link-local address in any spelling (insecure URLs
 * are off in the tests), unknown or empty events, and bodies beyond their shape. Every row is
 * refused and changes nothing.
 */

const WH = "wh_0000000000000000000000";

const wrongMethods: Case[] = adminWrongMethods([
  ["PUT", "/admin/v1/webhooks", ["GET", "HEAD", "POST"]],
  ["PUT", `/admin/v1/webhooks/${WH}`, ["DELETE", "GET", "HEAD", "PATCH"]],
  ["GET", `/admin/v1/webhooks/${WH}/roll-secret`, ["POST"]],
  ["GET", `/admin/v1/webhooks/${WH}/test`, ["POST"]],
  ["POST", `/admin/v1/webhooks/${WH}/deliveries`, ["GET", "HEAD"]],
]);

const badUrls: [label: string, url: string][] = [
  ["a malformed URL", "https//hooks.example.com"],
  ["a relative URL", "/hooks"],
  ["a URL of 3,000 characters", `https://hooks.example.com/${"a".repeat(2_974)}`],
  ["ftp:", "ftp://hooks.example.com/x"],
  ["http:", "http://hooks.example.com/x"],
  ["javascript:", "javascript:alert(1)"],
  ["localhost", "https://localhost/hook"],
  ["a name under localhost", "https://api.localhost/hook"],
  ["localhost with a trailing dot", "https://LOCALHOST./hook"],
  ["127.0.0.1", "https://127.0.0.1/hook"],
  ["127.1", "https://127.1/hook"],
  ["0x7f.0.0.1", "https://0x7f.0.0.1/hook"],
  ["2130706433 (127.0.0.1 as a number)", "https://2130706433/hook"],
  ["0177.0.0.1 (octal)", "https://0177.0.0.1/hook"],
  ["10.0.0.8", "https://10.0.0.8/hook"],
  ["172.16.5.4", "https://172.16.5.4/hook"],
  ["192.168.1.1", "https://192.168.1.1/hook"],
  ["169.254.169.254 (link-local, cloud metadata)", "https://169.254.169.254/latest/meta-data"],
  ["100.64.0.1 (carrier-grade NAT)", "https://100.64.0.1/hook"],
  ["0.0.0.0", "https://0.0.0.0/hook"],
  ["[::1]", "https://[::1]/hook"],
  ["[0:0:0:0:0:0:0:1]", "https://[0:0:0:0:0:0:0:1]/hook"],
  ["[::ffff:127.0.0.1] (IPv4-mapped)", "https://[::ffff:127.0.0.1]/hook"],
  ["[::127.0.0.1] (IPv4-compatible)", "https://[::127.0.0.1]/hook"],
  ["[::10.0.0.1] (IPv4-compatible)", "https://[::10.0.0.1]/hook"],
  ["[::169.254.169.254] (IPv4-compatible)", "https://[::169.254.169.254]/hook"],
  ["[fe80::1] (link-local)", "https://[fe80::1]/hook"],
  ["[fd00::1] (unique local)", "https://[fd00::1]/hook"],
  ["a user and password", "https://user:pass@hooks.example.com/hook"],
  ["a fragment", "https://hooks.example.com/hook#x"],
  ["a single-label host", "https://intranet/hook"],
];

const urls: Case[] = badUrls.flatMap(([label, url]): Case[] => [
  {
    name: `POST /admin/v1/webhooks with ${label} → 400`,
    send: adminJson("POST", "/admin/v1/webhooks", { url, events: ["*"] }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: `PATCH /admin/v1/webhooks/{id} to ${label} → 400 (the URL is checked first)`,
    send: adminJson("PATCH", `/admin/v1/webhooks/${WH}`, { url }),
    status: 400,
    error: "invalid_request",
  },
]);

const bodies: Case[] = (
  [
    ["an unknown event type", { url: "https://hooks.example.com/x", events: ["credential.exploded"] }],
    ["an empty events list", { url: "https://hooks.example.com/x", events: [] }],
    ["no events", { url: "https://hooks.example.com/x" }],
    ["events as a string", { url: "https://hooks.example.com/x", events: "*" }],
    ["a repeated event", { url: "https://hooks.example.com/x", events: ["account.created", "account.created"] }],
    ["* with another event", { url: "https://hooks.example.com/x", events: ["*", "account.created"] }],
    ["an unknown organization", { url: "https://hooks.example.com/x", events: ["*"], organization_id: "org_0000000000000000000000" }],
    ["an account's id as the organization", { url: "https://hooks.example.com/x", events: ["*"], organization_id: "acct_0000000000000000000000" }],
    ["a status on create", { url: "https://hooks.example.com/x", events: ["*"], status: "disabled" }],
    ["a secret of its own", { url: "https://hooks.example.com/x", events: ["*"], secret: "whsec_mine" }],
    ["a description of 501 characters", { url: "https://hooks.example.com/x", events: ["*"], description: "d".repeat(501) }],
    ["no URL", { events: ["*"] }],
  ] as const
).map(([label, body]): Case => ({
  name: `POST /admin/v1/webhooks with ${label} → 400`,
  send: adminJson("POST", "/admin/v1/webhooks", body),
  status: 400,
  error: "invalid_request",
}));

const others: Case[] = [
  { name: "POST roll-secret with expires_in 604801 → 400", send: adminJson("POST", `/admin/v1/webhooks/${WH}/roll-secret`, { expires_in: 604_801 }), status: 400, error: "invalid_request" },
  { name: "POST roll-secret with expires_in -1 → 400", send: adminJson("POST", `/admin/v1/webhooks/${WH}/roll-secret`, { expires_in: -1 }), status: 400, error: "invalid_request" },
  { name: "PATCH a webhook's status to paused → 400", send: adminJson("PATCH", `/admin/v1/webhooks/${WH}`, { status: "paused" }), status: 400, error: "invalid_request" },
  { name: "GET deliveries ?status=lost → 400", send: adminGet(`/admin/v1/webhooks/${WH}/deliveries?status=lost`), status: 400, error: "invalid_request" },
  { name: "GET deliveries ?status=failed&status=failed → 400", send: adminGet(`/admin/v1/webhooks/${WH}/deliveries?status=failed&status=failed`), status: 400, error: "invalid_request" },
  { name: "GET an unknown webhook → 404", send: adminGet(`/admin/v1/webhooks/${WH}`), status: 404, error: "not_found" },
  { name: "GET a credential's id as a webhook → 404", send: adminGet(`/admin/v1/webhooks/${ID}`), status: 404, error: "not_found" },
  { name: "POST test to an unknown webhook → 404", send: adminCall("POST", `/admin/v1/webhooks/${WH}/test`), status: 404, error: "not_found" },
  { name: "DELETE an unknown webhook → 404", send: adminCall("DELETE", `/admin/v1/webhooks/${WH}`), status: 404, error: "not_found" },
];

describeHostileInput("admin webhooks", [
  ["wrong methods", wrongMethods],
  ["URLs", urls],
  ["bodies", bodies],
  ["the rest", others],
]);
