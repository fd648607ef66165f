// Token floor: what POST /oauth/token cannot do without. One SHA-256 of the client secret, one
// KV bulk read of the two revocation markers, one ES256 signature over a JWT-sized payload
// (and reading the small form body, which the route has to do too).
// The signing key is imported and the credential row "read" once per isolate (no database).
import { ES256, ES256_SIGN, base64url, credentialRow, json, readMarkers, revoked, sha256Hex, utf8 } from "./shared.js";

let isolate; // Promise<{ key, kid, row }>, made on the first request

async function setUp(env) {
  const jwk = JSON.parse(env.FLOOR_PRIVATE_JWK);
  const key = await crypto.subtle.importKey("jwk", jwk, ES256, false, ["sign"]);
  return { key, kid: jwk.kid, row: credentialRow(env) };
}

export default {
  async fetch(request, env) {
    isolate ??= setUp(env);
    const { key, kid, row } = await isolate;
    // The form body must be read (an unread body also costs the connection its keep-alive).
    const form = new URLSearchParams(await request.text());
    if (form.get("grant_type") !== "client_credentials") return json({ error: "unsupported_grant_type" }, 400);
    // client_secret_basic: "Basic base64(client_id:client_secret)"
    const basic = atob((request.headers.get("authorization") ?? "").replace(/^Basic /, ""));
    const secret = basic.slice(basic.indexOf(":") + 1);
    const [digest, markers] = await Promise.all([sha256Hex(secret), readMarkers(env, row)]);
    if (digest !== row.secret_hash || revoked(markers)) return json({ error: "invalid_client" }, 401);

    const iat = Math.floor(Date.now() / 1000);
    const header = base64url(utf8(JSON.stringify({ alg: "ES256", typ: "at+jwt", kid })));
    const payload = base64url(
      utf8(
        JSON.stringify({
          iss: env.ISSUER,
          sub: row.account_id,
          aud: env.ISSUER,
          client_id: row.client_id,
          cid: row.id,
          scope: row.scopes.join(" "),
          iat,
          exp: iat + 60,
          jti: crypto.randomUUID(),
        }),
      ),
    );
    const signature = new Uint8Array(await crypto.subtle.sign(ES256_SIGN, key, utf8(`${header}.${payload}`)));
    const scope = row.scopes.join(" ");
    return json({ access_token: `${header}.${payload}.${base64url(signature)}`, token_type: "Bearer", expires_in: 60, scope });
  },
};
