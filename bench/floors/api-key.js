// API-key floor: what test-auth (with an API key) cannot do without. One SHA-256 of the key
// and one KV bulk read of the two revocation markers; the credential row is held per isolate.
import { credentialRow, json, readMarkers, revoked, sha256Hex } from "./shared.js";

let row; // the credential row, "read" once per isolate

export default {
  async fetch(request, env) {
    row ??= credentialRow(env);
    const apiKey = (request.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    const [digest, markers] = await Promise.all([sha256Hex(apiKey), readMarkers(env, row)]);
    if (digest !== row.secret_hash || revoked(markers)) return json({ error: "invalid_token" }, 401);
    return json({ ok: true, account_id: row.account_id, credential_id: row.id, credential_type: "api_key", scopes: row.scopes });
  },
};
