// `node bench/profile.mjs [token|apikey|jwt] [seconds]`: a CPU profile of one hot route under load,
// in the benchmark's harness (bench/server.mjs: workerd through Miniflare, local D1 and KV), of an
// unminified `wrangler deploy --dry-run` bundle so that functions keep their names. Only the
// inspector's Profiler domain is enabled, so console.log costs what it costs without an inspector.
// Prints the functions with the most samples, self and inclusive, as shares of the busy samples.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import WebSocket from "ws";
import { keymintWorker } from "./lib/keymint-worker.mjs";

const ROUTE = process.argv[2] ?? "token";
const SECONDS = Number(process.argv[3] ?? 6);
const INSPECTOR_PORT = 9339;
const CONNECTIONS = 10;

// What `npm run bench` read from wrangler.toml (run it once first): vars, bindings, migrations.
const cacheDir = "node_modules/.cache/keymint-bench";
const cached = readdirSync(cacheDir).map((file) => join(cacheDir, file));
if (cached.length === 0) throw new Error("run `npm run bench -- --quick --only=throughput` once first");
const wrangler = JSON.parse(readFileSync(cached.sort().at(-1), "utf8"));

const tmp = mkdtempSync(join(tmpdir(), "keymint-profile-"));
await new Promise((resolve, reject) =>
  spawn(process.execPath, ["node_modules/wrangler/bin/wrangler.js", "deploy", "--dry-run", "--outdir", join(tmp, "bundle"), "--no-minify"], {
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
    stdio: "ignore",
  }).on("exit", (code) => (code === 0 ? resolve() : reject(new Error("wrangler deploy --dry-run failed")))),
);

const adminToken = randomBytes(32).toString("base64url");
const worker = keymintWorker(wrangler, join(tmp, "bundle", "index.js"), adminToken);
const host = spawn(process.execPath, ["bench/server.mjs"], {
  env: {
    ...process.env,
    BENCH_INSPECTOR_PORT: String(INSPECTOR_PORT),
    BENCH_SERVER: JSON.stringify({ compatibilityDate: wrangler.compatibilityDate, compatibilityFlags: wrangler.compatibilityFlags, persistDir: join(tmp, "state"), workers: [worker] }),
  },
  stdio: ["pipe", "pipe", "inherit"],
});
const url = await new Promise((resolve) => {
  let output = "";
  host.stdout.on("data", (chunk) => {
    output += chunk;
    const found = /"keymint":"([^"]+)"/.exec(output);
    if (found) resolve(found[1]);
  });
});

// Seed as the benchmark does: an account, an OAuth client, an API key; and a token.
const admin = async (path, body) =>
  (await fetch(`${url}/admin/v1${path}`, { method: "POST", headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, body: JSON.stringify(body) })).json();
const account = await admin("/accounts", { name: "Profile service", type: "service" });
const client = await admin("/credentials", { name: "Profile client", type: "oauth_client", account_id: account.id, scopes: ["read"] });
const key = await admin("/credentials", { name: "Profile key", type: "api_key", account_id: account.id, scopes: ["read"] });
const basic = `Basic ${Buffer.from(`${client.client_id}:${client.client_secret}`).toString("base64")}`;
const tokenRequest = { url: `${url}/oauth/token`, method: "POST", headers: { authorization: basic, "content-type": "application/x-www-form-urlencoded" }, body: "grant_type=client_credentials" };
const accessToken = (await (await fetch(tokenRequest.url, tokenRequest)).json()).access_token;
const targets = {
  token: tokenRequest,
  apikey: { url: `${url}/v1/test-auth`, headers: { authorization: `Bearer ${key.api_key}` } },
  jwt: { url: `${url}/v1/test-auth`, headers: { authorization: `Bearer ${accessToken}` } },
};
if (!targets[ROUTE]) throw new Error(`route: one of ${Object.keys(targets).join(", ")}`);

const inspector = (await (await fetch(`http://127.0.0.1:${INSPECTOR_PORT}/json`)).json()).find((target) => target.id === "core:user:keymint");
const socket = new WebSocket(inspector.webSocketDebuggerUrl);
await new Promise((resolve) => socket.on("open", resolve));
let lastId = 0;
const waiting = new Map();
socket.on("message", (data) => {
  const message = JSON.parse(String(data));
  waiting.get(message.id)?.(message.result);
  waiting.delete(message.id);
});
const send = (method, params = {}) => new Promise((resolve) => { waiting.set(++lastId, resolve); socket.send(JSON.stringify({ id: lastId, method, params })); });

await autocannon({ ...targets[ROUTE], connections: CONNECTIONS, duration: 2 }); // warm-up
await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval: 25 });
await send("Profiler.start");
const load = await autocannon({ ...targets[ROUTE], connections: CONNECTIONS, duration: SECONDS });
const { profile } = await send("Profiler.stop");

const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parents = new Map(profile.nodes.flatMap((node) => (node.children ?? []).map((child) => [child, node.id])));
const name = (node) => `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.split("/").at(-1)}:${node.callFrame.lineNumber + 1}`;
const hits = new Map();
for (const sample of profile.samples) hits.set(sample, (hits.get(sample) ?? 0) + 1);
const self = new Map();
const inclusive = new Map();
let idle = 0;
for (const [id, count] of hits) {
  const leaf = name(nodes.get(id));
  if (leaf.startsWith("(idle)")) idle += count;
  self.set(leaf, (self.get(leaf) ?? 0) + count);
  const seen = new Set();
  for (let at = id; at !== undefined; at = parents.get(at)) {
    const frame = name(nodes.get(at));
    if (!seen.has(frame)) inclusive.set(frame, (inclusive.get(frame) ?? 0) + count);
    seen.add(frame);
  }
}
const busy = profile.samples.length - idle;
const top = (table, count) =>
  [...table].filter(([frame]) => !frame.startsWith("(idle)") && !frame.startsWith("(root)")).sort((a, b) => b[1] - a[1]).slice(0, count)
    .map(([frame, n]) => `${((100 * n) / busy).toFixed(1).padStart(5)}%  ${frame}`).join("\n");
console.log(`${ROUTE}: ${load.requests.average} req/s, ${load.non2xx} non-2xx, ${busy} busy samples of ${profile.samples.length} (25 µs each)`);
console.log(`\nself\n${top(self, 30)}\n\ninclusive\n${top(inclusive, 40)}`);
socket.close();
host.kill("SIGTERM");
rmSync(tmp, { recursive: true, force: true });
