import { decodeJwt, type JWTPayload } from "jose";
import { encodeJson, hmacSign, ourClaims } from "../../support/forge";
import { BASE } from "../../support/http";
import { base64urlToBytes, bytesToBase64url } from "../../support/oauth";
import { type Fixtures, mint, SQL_OR, TRAVERSAL, utf8 } from "./runner";

/**
 * Forged access tokens, for the rows of every route that takes an access token (test-auth,
 * introspection, revocation, the admin API): each forgery is built for the file's fixtures.
 */

export type Forge = (fx: Fixtures, claims: JWTPayload) => Promise<string>;

/** Our claims for the fixture client (scope read unless overridden) as the middle segment. */
const payloadOf = (fx: Fixtures, claims: JWTPayload) => {
  const now = Math.floor(Date.now() / 1000);
  return encodeJson({
    iss: BASE,
    sub: fx.client.account_id,
    aud: BASE,
    client_id: fx.client.client_id,
    cid: fx.client.id,
    iat: now,
    exp: now + 60,
    jti: crypto.randomUUID(),
    scope: "read",
    ...claims,
  });
};
export const signedByUs = (fx: Fixtures, claims: JWTPayload, header: Record<string, unknown> = {}) =>
  ourClaims(fx.client, claims)
    .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid, ...header })
    .sign(fx.kit.ours);
/** Signed with our key by WebCrypto, for headers jose refuses to sign (ES256 is raw r||s in JWS). */
export const rawSigned = async (fx: Fixtures, header: Record<string, unknown>, claims: JWTPayload) => {
  const input = `${encodeJson({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid, ...header })}.${payloadOf(fx, claims)}`;
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, fx.kit.ours, utf8(input));
  return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
};
const hs256 = async (fx: Fixtures, claims: JWTPayload, key: Uint8Array) => {
  const input = `${encodeJson({ alg: "HS256", typ: "at+jwt", kid: fx.kit.kid })}.${payloadOf(fx, claims)}`;
  return `${input}.${await hmacSign(key, input)}`;
};
const now = () => Math.floor(Date.now() / 1000);

export const FORGERIES: Record<string, Forge> = {
  "alg none, no signature": async (fx, claims) => `${encodeJson({ alg: "none", typ: "at+jwt", kid: fx.kit.kid })}.${payloadOf(fx, claims)}.`,
  "alg none, a genuine signature kept": async (fx, claims) => {
    const genuine = (await mint()).split(".");
    return `${encodeJson({ alg: "none", typ: "at+jwt", kid: fx.kit.kid })}.${payloadOf(fx, claims)}.${genuine[2]}`;
  },
  "HS256 keyed with the public JWK": (fx, claims) => hs256(fx, claims, utf8(JSON.stringify(fx.kit.publicJwk))),
  "HS256 keyed with the raw public point": (fx, claims) => hs256(fx, claims, fx.kit.rawPoint),
  "a foreign key claiming our kid": (fx, claims) =>
    ourClaims(fx.client, claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid }).sign(fx.kit.foreign.privateKey),
  "an embedded jwk header (foreign key, our kid)": (fx, claims) =>
    ourClaims(fx.client, claims)
      .setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid, jwk: fx.kit.foreignJwk })
      .sign(fx.kit.foreign.privateKey),
  "an embedded jwk header (foreign key, no kid)": (fx, claims) =>
    ourClaims(fx.client, claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", jwk: fx.kit.foreignJwk }).sign(fx.kit.foreign.privateKey),
  "a tampered payload on a genuine signature": async (fx, claims) => {
    const [header, payload, signature] = (await mint()).split(".") as [string, string, string];
    const tampered = { ...decodeJwt(`${header}.${payload}.${signature}`), sub: fx.victimAccount.id, scope: "read admin", ...claims };
    return `${header}.${encodeJson(tampered)}.${signature}`;
  },
  "a genuine token with its signature stripped": async () => {
    const [header, payload] = (await mint()).split(".");
    return `${header}.${payload}.`;
  },
  "a genuine header and payload with another token's signature": async () => {
    const [header, payload] = (await mint()).split(".");
    return `${header}.${payload}.${(await mint()).split(".")[2]}`;
  },
  // Signed with our real key: only the claim checks can refuse these.
  expired: (fx, claims) => signedByUs(fx, { ...claims, iat: now() - 200, exp: now() - 140 }),
  "not yet valid (nbf 10 minutes ahead)": (fx, claims) => signedByUs(fx, { ...claims, nbf: now() + 600 }),
  "wrong iss": (fx, claims) => signedByUs(fx, { ...claims, iss: "https://attacker.example" }),
  "wrong aud": (fx, claims) => signedByUs(fx, { ...claims, aud: "https://api.other.example" }),
  "wrong typ (JWT)": (fx, claims) => signedByUs(fx, claims, { typ: "JWT" }),
  "kid = SQL OR": (fx, claims) => signedByUs(fx, claims, { kid: SQL_OR }),
  "kid = path traversal": (fx, claims) => signedByUs(fx, claims, { kid: TRAVERSAL }),
  "kid of 2000 characters": (fx, claims) => signedByUs(fx, claims, { kid: "k".repeat(2000) }),
  "an unknown crit header": (fx, claims) => rawSigned(fx, { crit: ["x-keymint"], "x-keymint": true }, claims),
  "a JSON array as payload (alg none)": async (fx) => `${encodeJson({ alg: "none", typ: "at+jwt", kid: fx.kit.kid })}.${encodeJson(["admin"])}.x`,
  // Aimed at the access-token verifier's own parsing (src/lib/es256-jwt.ts).
  "exp equal to now (exact: no tolerance)": (fx, claims) => signedByUs(fx, { ...claims, iat: now() - 60, exp: now() }),
  "nbf as a string": (fx, claims) => rawSigned(fx, {}, { ...claims, nbf: String(now() - 10) as unknown as number }),
  "exp as a string": (fx, claims) => rawSigned(fx, {}, { ...claims, exp: String(now() + 60) as unknown as number }),
  "no kid": (fx, claims) => rawSigned(fx, { kid: undefined }, claims),
  "our signature DER-encoded (72 bytes)": async (fx, claims) => {
    const [header, payload, signature] = (await rawSigned(fx, {}, claims)).split(".") as [string, string, string];
    const raw = base64urlToBytes(signature);
    const integer = (bytes: Uint8Array) => {
      const trimmed = bytes.slice(bytes.findIndex((b) => b !== 0));
      const value = trimmed[0]! & 0x80 ? [0, ...trimmed] : [...trimmed];
      return [0x02, value.length, ...value];
    };
    const body = [...integer(raw.slice(0, 32)), ...integer(raw.slice(32))];
    return `${header}.${payload}.${bytesToBase64url(new Uint8Array([0x30, body.length, ...body]))}`;
  },
  "our signature with one byte cut": async (fx, claims) => {
    const [header, payload, signature] = (await rawSigned(fx, {}, claims)).split(".") as [string, string, string];
    return `${header}.${payload}.${bytesToBase64url(base64urlToBytes(signature).slice(0, 63))}`;
  },
  "a payload that is not UTF-8, signed by us": async (fx) => {
    const input = `${encodeJson({ alg: "ES256", typ: "at+jwt", kid: fx.kit.kid })}.${bytesToBase64url(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))}`;
    const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, fx.kit.ours, utf8(input));
    return `${input}.${bytesToBase64url(new Uint8Array(signature))}`;
  },
  "wrong alg label on our signature (ES384)": async (fx, claims) => {
    const [, payload, signature] = (await signedByUs(fx, claims)).split(".");
    return `${encodeJson({ alg: "ES384", typ: "at+jwt", kid: fx.kit.kid })}.${payload}.${signature}`;
  },
};

/** The control: our real key, our claims. It must be accepted, or the forgery cases prove nothing. */
export const CONTROL = "the control: our key, our claims";
