#!/usr/bin/env node
// `npm run dev`: make .dev.vars if it is missing, apply D1 migrations locally, start wrangler dev
// with Keymint and the example issuance hook beside it.
// Flags after `--` go to `wrangler dev` (and --persist-to also to the migrations step).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const args = process.argv.slice(2);
const devVars = resolve(".dev.vars");

if (!existsSync(devVars)) {
  const secret = () => randomBytes(32).toString("base64url");
  writeFileSync(
    devVars,
    [
      "# Local secrets for `wrangler dev`, made by `npm run dev`. Never committed; never reused in production.",
      `ADMIN_TOKEN=${secret()}`,
      `KEY_ENCRYPTION_KEY=${secret()}`,
      "",
    ].join("\n"),
    { mode: 0o600, flag: "wx" },
  );
  console.log(`Created ${devVars} with a fresh ADMIN_TOKEN and KEY_ENCRYPTION_KEY.`);
}
console.log(`Your admin token is ADMIN_TOKEN in ${devVars}; sign in to the console with it.`);

const persistIndex = args.indexOf("--persist-to");
const persist = persistIndex >= 0 ? ["--persist-to", args[persistIndex + 1]] : [];
const migrate = spawnSync("wrangler", ["d1", "migrations", "apply", "DB", "--local", ...persist], {
  stdio: "inherit",
  env: { ...process.env, CI: "true" },
});
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

// Keymint first (its port, vars and routes), then the example issuance hook it binds as CLAIMS_HOOK
// (examples/claims-hook): one `wrangler dev`, both Workers, the service binding between them.
const configs = ["-c", "wrangler.toml", "-c", "examples/claims-hook/wrangler.toml"];
// Webhooks may go to a receiver on this machine (http, localhost) in development only.
const insecureHooks = ["--var", "WEBHOOK_ALLOW_INSECURE_URLS:true"];
const dev = spawn("wrangler", ["dev", ...configs, "--test-scheduled", ...insecureHooks, ...args], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
