#!/usr/bin/env node
// `npm run deploy -- --env production`: copy the static assets, apply D1 migrations to the
// remote database of that environment, then deploy the Worker. Stops at the first failure.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const envIndex = args.indexOf("--env");
const env = envIndex >= 0 ? ["--env", args[envIndex + 1]] : [];

function run(command, commandArgs) {
  console.log(`\n$ ${command} ${commandArgs.join(" ")}`);
  const result = spawnSync(command, commandArgs, { stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

run("node", ["scripts/vendor-assets.mjs"]);
run("wrangler", ["d1", "migrations", "apply", "DB", "--remote", ...env]);
run("wrangler", ["deploy", ...args]);
