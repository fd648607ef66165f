import { H, adminJson, adminRaw, type Case, describeHostileInput, type Fixtures, type Spec } from "./runner";

/**
 * Hostile input to the custom-claims fields (contract "Custom claims"): `metadata` on
 * organizations, accounts and credentials, and `token_claims` on APIs (the default API's too).
 * Every row is a 400 `invalid_request` that changes nothing, checked by the runner.
 */

/** Each place metadata is written, as a request with that metadata. */
const metadataTargets: [label: string, send: (metadata: string) => Spec | ((f: Fixtures) => Spec)][] = [
  ["POST /admin/v1/accounts", (m) => adminRaw("POST", "/admin/v1/accounts", [H.json], `{"name":"x","type":"service","metadata":${m}}`)],
  ["PATCH an account", (m) => (f) => adminRaw("PATCH", `/admin/v1/accounts/${f.victimAccount.id}`, [H.json], `{"metadata":${m}}`)],
  ["POST /admin/v1/credentials", (m) => (f) => adminRaw("POST", "/admin/v1/credentials", [H.json], `{"name":"x","type":"api_key","account_id":"${f.account.id}","metadata":${m}}`)],
  ["PATCH a credential", (m) => (f) => adminRaw("PATCH", `/admin/v1/credentials/${f.victimClient.id}`, [H.json], `{"metadata":${m}}`)],
  ["PATCH org_default", (m) => adminRaw("PATCH", "/admin/v1/organizations/org_default", [H.json], `{"metadata":${m}}`)],
];

/** Metadata the contract refuses, as raw JSON (so `__proto__` is a member, not a prototype). */
const badMetadata: [label: string, json: string][] = [
  ["17 members", JSON.stringify(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, i])))],
  ["a name with a capital", '{"Plan":"gold"}'],
  ["a name starting with a digit", '{"1plan":"gold"}'],
  ["a name of 41 characters", `{"${"a".repeat(41)}":1}`],
  ["a nested object", '{"plan":{"tier":"gold"}}'],
  ["an array value", '{"tags":["a","b"]}'],
  ["a null member", '{"plan":null}'],
  ["a 257-character string", `{"note":"${"n".repeat(257)}"}`],
  ["more than 1,024 bytes", JSON.stringify(Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`k${i}`, "v".repeat(250)])))],
  ["__proto__ as a name", '{"__proto__":{"admin":true}}'],
  ["constructor as a name", '{"constructor":"x"}'],
  ["toString as a name", '{"tostring":1,"toString":2}'],
  ["an array for metadata", '["plan"]'],
  ["a string for metadata", '"plan=gold"'],
];

const metadata: Case[] = metadataTargets.flatMap(([target, send]) =>
  badMetadata.map(([label, json]): Case => ({ name: `${target} with metadata of ${label} → 400`, send: send(json), status: 400, error: "invalid_request" })),
);

const notJson: Case[] = [
  {
    name: "PATCH an account with a body that is not JSON → 400",
    send: (f) => adminRaw("PATCH", `/admin/v1/accounts/${f.victimAccount.id}`, [H.json], '{"metadata": {"plan": "gold"'),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "PATCH an account with metadata as a form → 415",
    send: (f) => adminRaw("PATCH", `/admin/v1/accounts/${f.victimAccount.id}`, [H.form], "metadata=plan"),
    status: 415,
    error: "unsupported_media_type",
  },
  {
    name: "PATCH an account with an unknown member → 400",
    send: (f) => adminJson("PATCH", `/admin/v1/accounts/${f.victimAccount.id}`, { name: "x", status: "deactivated" }),
    status: 400,
    error: "invalid_request",
  },
  {
    name: "PATCH an account with a blank name → 400",
    send: (f) => adminJson("PATCH", `/admin/v1/accounts/${f.victimAccount.id}`, { name: "   " }),
    status: 400,
    error: "invalid_request",
  },
];

/** token_claims the contract refuses, on a new API, on the default API, and as raw JSON. */
const badMappings: [label: string, json: string][] = [
  ...["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "client_id", "cid", "cnf", "org_id", "act", "azp"].map(
    (name): [string, string] => [`the reserved claim ${name}`, `{"${name}":"organization.id"}`],
  ),
  ["an unknown source", '{"tenant":"organization.secret"}'],
  ["a source of another owner", '{"tenant":"api.name"}'],
  ["a source with a trailing dot", '{"tenant":"organization.metadata."}'],
  ["a metadata source with a bad member name", '{"tenant":"organization.metadata.Bad-Name"}'],
  ["a metadata source naming __proto__", '{"tenant":"account.metadata.__proto__"}'],
  ["a source that is a number", '{"tenant":7}'],
  ["a source that is an object", '{"tenant":{"from":"organization.id"}}'],
  ["17 mappings", JSON.stringify(Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`c${i}`, "organization.id"])))],
  ["a claim name with a capital", '{"Tenant":"organization.id"}'],
  ["a claim name of 41 characters", `{"${"t".repeat(41)}":"organization.id"}`],
  ["__proto__ as a claim name", '{"__proto__":"organization.id"}'],
  ["constructor as a claim name", '{"constructor":"organization.id"}'],
  ["an array", '["organization.id"]'],
];

const tokenClaims: Case[] = badMappings.flatMap(([label, json]): Case[] => [
  {
    name: `POST /admin/v1/apis with token_claims of ${label} → 400`,
    send: adminRaw("POST", "/admin/v1/apis", [H.json], `{"name":"x","identifier":"https://claims.example.com","scopes":[],"token_claims":${json}}`),
    status: 400,
    error: "invalid_request",
  },
  {
    name: `PATCH the default API with token_claims of ${label} → 400`,
    send: adminRaw("PATCH", "/admin/v1/apis/api_default", [H.json], `{"token_claims":${json}}`),
    status: 400,
    error: "invalid_request",
  },
]);

describeHostileInput("custom claims", [
  ["metadata", metadata],
  ["bodies", notJson],
  ["token_claims", tokenClaims],
]);
