// Keymint as bench/server.mjs hosts it: the bundle, wrangler.toml's vars and bindings (as
// bench/run.mjs reads them), fresh secrets, and the migrations to apply.
import { randomBytes } from "node:crypto";

export function keymintWorker(wrangler, scriptPath, adminToken) {
  return {
    name: "keymint",
    scriptPath,
    bindings: { ...wrangler.vars, ADMIN_TOKEN: adminToken, KEY_ENCRYPTION_KEY: randomBytes(32).toString("base64url") },
    d1Databases: wrangler.d1Databases,
    kvNamespaces: wrangler.kvNamespaces,
    ratelimits: wrangler.ratelimits,
    queueProducers: wrangler.queueProducers,
    queueConsumers: wrangler.queueConsumers,
    migrations: wrangler.migrations,
  };
}
