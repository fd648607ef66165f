import { decodeJwt } from "jose";
import { expect } from "vitest";
import { generateSecret } from "../../../src/services/secrets";
import { encodeJson } from "../../support/forge";
import { BASE } from "../../support/http";
import { CONTROL, FORGERIES, signedByUs } from "./forgeries";
import {
  asClient,
  type Case,
  describeHostileInput,
  enc,
  type Fixtures,
  freshId,
  H,
  KIB,
  mint,
  oauthForm,
  oauthNonForms,
  plainWrongMethods,
  send,
  SQL_DROP,
  SQL_OR,
  TRAVERSAL,
} from "./runner";

/**
 * Hostile input to POST /oauth/introspect (RFC 7662) and POST /oauth/revoke (RFC 7009): the
 * caller's client authentication, the form, and tokens that must not count (inactive, not revoked).
 */

/** The genuine token a revoke row aimed at, for its check. */
const revokedCandidate = new Map<Fixtures, string>();

/** The genuine token stays valid: a rejected revocation must not have revoked it. */
async function stillValid(token: string) {
  const response = await send(new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${token}` } }));
  expect(response.status).toBe(200);
}

const wrongMethods: Case[] = plainWrongMethods([
  ["GET", "/oauth/introspect", ["POST"]],
  ["PATCH", "/oauth/introspect", ["POST"]],
  ["GET", "/oauth/revoke", ["POST"]],
  ["DELETE", "/oauth/revoke", ["POST"]],
]);

const contentTypes: Case[] = [
  // The OAuth endpoints take forms only: anything else is 400 invalid_request (RFC 6749 §3.2).
  ...oauthNonForms([
    ["/oauth/introspect", "a JSON body", [H.json], '{"token":"x"}'],
    ["/oauth/revoke", "a JSON body", [H.json], '{"token":"x"}'],
  ]),
  {
    name: "POST /oauth/introspect, form with a bad percent-escape, from the real client → 400",
    send: asClient("/oauth/introspect", "token=%zz"),
    status: 400,
    error: "invalid_request",
  },
];

const sizes: Case[] = [
  {
    name: "POST /oauth/introspect, 9 KiB from the real client → 413",
    send: asClient("/oauth/introspect", `token=${"a".repeat(9 * KIB)}`),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /oauth/revoke, 70 KiB → 413",
    send: oauthForm("/oauth/revoke", `token=${"a".repeat(70 * KIB)}`),
    status: 413,
    error: "payload_too_large",
  },
  {
    name: "POST /oauth/introspect, a truncated genuine token → 200 inactive",
    send: async (fx) => asClient("/oauth/introspect", `token=${(await mint()).slice(0, -10)}`)(fx),
    status: 200,
    inactive: true,
    authenticates: true,
  },
];

const duplicates: Case[] = [
  {
    name: "POST /oauth/introspect with token repeated → 400",
    send: async (fx) => asClient("/oauth/introspect", `token=${await mint()}&token=x`)(fx),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "POST /oauth/revoke with token repeated → 400, and the token stays valid",
    send: async (fx) => {
      const token = await mint();
      revokedCandidate.set(fx, token);
      return asClient("/oauth/revoke", `token=${token}&token=${token}`)(fx);
    },
    status: 400,
    error: "invalid_request",
    check: async (_, __, fx) => stillValid(revokedCandidate.get(fx)!),
  },
];

const controls: Case[] = [
  {
    name: "POST /oauth/introspect, token=%00 → 200 inactive",
    send: asClient("/oauth/introspect", "token=%00"),
    status: 200,
    inactive: true,
    authenticates: true,
  },
  {
    name: "POST /oauth/introspect, U+202E before a genuine token → 200 inactive",
    send: async (fx) => asClient("/oauth/introspect", `token=%E2%80%AE${await mint()}`)(fx),
    status: 200,
    inactive: true,
    authenticates: true,
  },
];

const injection: Case[] = [
  {
    name: "POST /oauth/introspect, token = SQL OR → 200 inactive",
    send: asClient("/oauth/introspect", `token=${enc(SQL_OR)}`),
    status: 200,
    inactive: true,
    authenticates: true,
  },
  {
    name: "POST /oauth/introspect, token = traversal → 200 inactive",
    send: asClient("/oauth/introspect", `token=${enc(TRAVERSAL)}`),
    status: 200,
    inactive: true,
    authenticates: true,
  },
  {
    name: "POST /oauth/revoke, token = SQL DROP → 200 (RFC 7009: nothing to revoke)",
    send: asClient("/oauth/revoke", `token=${enc(SQL_DROP)}`),
    status: 200,
    authenticates: true,
    check: (_, text) => expect(text).toBe(""),
  },
];

const headerOddities: Case[] = [
  // Introspection and revocation authenticate the caller as the token endpoint does.
  ...(
    [
      ["/oauth/introspect", "Basic without a colon", () => H.rawBasic(freshId())],
      ["/oauth/introspect", "Basic with bad base64", () => H.auth("Basic ****")],
      ["/oauth/introspect", "an empty Authorization", () => H.auth("")],
      ["/oauth/introspect", "Basic with bad percent-encoding", () => H.rawBasic(`${freshId()}:%G0`)],
      ["/oauth/revoke", "Basic without credentials", () => H.auth("Basic")],
      ["/oauth/revoke", "Bearer with the API key", () => H.bearer(generateSecret("api_key"))],
    ] as const
  ).map(
    ([path, label, header]): Case => ({
      name: `POST ${path}, ${label} → 401 invalid_client`,
      send: () => oauthForm(path, "token=abc", [header()]),
      status: 401,
      error: "invalid_client",
      challenge: "Basic",
    }),
  ),
  {
    name: "POST /oauth/introspect, Authorization repeated → 401 invalid_client",
    send: (fx) => {
      const header = H.basic(fx.client.client_id, fx.client.client_secret);
      return oauthForm("/oauth/introspect", "token=abc", [header, header]);
    },
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/introspect, no client authentication at all → 401 invalid_client",
    send: oauthForm("/oauth/introspect", "token=abc"),
    status: 401,
    error: "invalid_client",
    challenge: "Basic",
  },
  {
    name: "POST /oauth/introspect, the real client without a token → 400 invalid_request",
    send: asClient("/oauth/introspect", "token_type_hint=access_token"),
    status: 400,
    error: "invalid_request",
    authenticates: true,
  },
];

const forged: Case[] = [
  {
    name: `POST /oauth/introspect, ${CONTROL} → active`,
    send: async (fx) => asClient("/oauth/introspect", `token=${await signedByUs(fx, {})}`)(fx),
    status: 200,
    authenticates: true,
    check: (_, text) => expect(JSON.parse(text)).toMatchObject({ active: true, scope: "read" }),
  },
  ...Object.entries(FORGERIES).map(
    ([label, forge]): Case => ({
      name: `POST /oauth/introspect, forged: ${label} → 200 inactive`,
      send: async (fx) => asClient("/oauth/introspect", `token=${await forge(fx, {})}`)(fx),
      status: 200,
      inactive: true,
      authenticates: true,
    }),
  ),
  ...["a tampered payload on a genuine signature", "alg none, a genuine signature kept", "a genuine token with its signature stripped"].map(
    (label): Case => ({
      name: `POST /oauth/revoke, forged: ${label} → 200, the genuine token is not revoked`,
      send: async (fx) => {
        const genuine = await mint();
        const [header, payload] = genuine.split(".");
        const token =
          label === "a genuine token with its signature stripped"
            ? `${header}.${payload}.`
            : label === "alg none, a genuine signature kept"
              ? `${encodeJson({ alg: "none", typ: "at+jwt", kid: fx.kit.kid })}.${payload}.${genuine.split(".")[2]}`
              : `${header}.${encodeJson({ ...decodeJwt(genuine), scope: "read admin" })}.${genuine.split(".")[2]}`;
        revokedCandidate.set(fx, genuine);
        return asClient("/oauth/revoke", `token=${token}`)(fx);
      },
      status: 200,
      authenticates: true,
      check: async (_, text, fx) => {
        expect(text).toBe("");
        await stillValid(revokedCandidate.get(fx)!);
      },
    }),
  ),
];

describeHostileInput("OAuth introspection and revocation", [
  ["wrong methods", wrongMethods],
  ["content types and encodings", contentTypes],
  ["truncated and oversized bodies", sizes],
  ["repeated parameters", duplicates],
  ["NUL, control characters and bidi overrides", controls],
  ["SQL and path traversal", injection],
  ["Authorization header oddities", headerOddities],
  ["forged access tokens", forged],
]);
