// Verify floor: what test-auth (with an access token) and introspection cannot do without.
// One ES256 signature check of the bearer token and one KV bulk read of its three revocation
// markers (credential, account, token). The public key is imported once per isolate.
import { ES256, ES256_SIGN, base64urlDecode, json, readMarkers, revoked, utf8 } from "./shared.js";

let publicKey; // Promise<CryptoKey>, imported on the first request

export default {
  async fetch(request, env) {
    publicKey ??= crypto.subtle.importKey("jwk", JSON.parse(env.FLOOR_PUBLIC_JWK), ES256, false, ["verify"]);
    const token = (request.headers.get("authorization") ?? "").replace(/^Bearer /, "");
    const [header, payload, signature] = token.split(".");
    const valid = await crypto.subtle.verify(ES256_SIGN, await publicKey, base64urlDecode(signature ?? ""), utf8(`${header}.${payload}`));
    if (!valid) return json({ error: "invalid_token" }, 401);
    const claims = JSON.parse(new TextDecoder().decode(base64urlDecode(payload)));
    const markers = await readMarkers(env, { id: claims.cid, account_id: claims.sub }, claims.jti);
    if (revoked(markers)) return json({ error: "invalid_token" }, 401);
    return json({ ok: true, account_id: claims.sub, credential_id: claims.cid, credential_type: "oauth_client", scopes: claims.scope.split(" ") });
  },
};
