import { exports } from "cloudflare:workers";
import Ajv2020 from "ajv/dist/2020";
import addFormats from "ajv-formats";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, altered, BASE, call, createAccount, createCredential, json } from "../support/http";
import { type SigningKey, keysServer, signature, signingKey } from "../support/github";
import { basic, tokenFor } from "../support/oauth";
import { type Doc, type FuzzContext, type GeneratedRequest, type Operation, type Schema, anyRequest, requestsFor, resolve } from "../support/openapi-fuzz";

/**
 * The OpenAPI document against the service, as a contract-testing tool (schemathesis) would
 * check it: for every operation the document lists, valid requests generated from its schemas
 * and broken ones, each answered with a status the operation documents, a body that validates
 * against the documented schema (JSON Schema 2020-12, closed: a field the document does not name
 * fails too) and the documented required headers. A route added later is checked with no extra
 * work. The seed is fixed and the number of requests bounded, so a failure reproduces exactly.
 */

const SEED = 17;
/** Requests per operation: ~20 operations × 40 ≈ 800 requests, a few seconds in workerd. */
const RUNS_PER_OPERATION = 40;
/**
 * Failures in a row, from one address, sent to each operation that documents 429: more than
 * twice the largest failure limit (30 per IP and minute, wrangler.toml), so the limit is reached
 * even when its window turns over midway.
 */
const BURST = 2 * 30 + 5;

const doc: Doc = await json(await call("/openapi.json", { token: null }));

/** GitHub's key for secret-scanning reports, published at the keys URL for the whole run; and one it does not publish. */
const github = signingKey();
const stranger = signingKey();
const signedBy = (key: SigningKey, body: string) => ({ "github-public-key-identifier": key.id, "github-public-key-signature": signature(key, body) });
const keys = await keysServer([github]);
afterAll(() => keys.restore());

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(doc as object, "doc");

const pointer = (...keys: string[]) => keys.map((key) => key.replaceAll("~", "~0").replaceAll("/", "~1")).join("/");

/** Properties the value has that its schema does not declare (objects with declared properties only). */
function undocumentedFields(schema: Schema | undefined, value: unknown, at = "body"): string[] {
  if (schema === undefined || value === null || typeof value !== "object") return [];
  const resolved = resolve(doc, schema);
  const parts = [resolved, ...(resolved.allOf ?? []).map((part: Schema) => resolve(doc, part))];
  if (Array.isArray(value)) return value.flatMap((item, i) => undocumentedFields(resolved.items, item, `${at}[${i}]`));
  const declared: Record<string, Schema> = Object.assign({}, ...parts.map((part) => part.properties ?? {}));
  if (Object.keys(declared).length === 0 || parts.some((part) => part.additionalProperties !== undefined)) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key in declared ? undocumentedFields(declared[key], child, `${at}.${key}`) : [`${at}.${key}`],
  );
}

let sent = 0;
/** Sends a generated request as Cloudflare delivers it, with the caller's address (by default, a new one each time). */
async function send(request: GeneratedRequest, ip = `2001:db8:17::${(++sent).toString(16)}`): Promise<Response> {
  const url = new URL(BASE + request.path);
  for (const [name, value] of request.query) url.searchParams.append(name, value);
  const headers = { ...request.headers, ...request.sign?.(request.body ?? ""), "cf-connecting-ip": ip };
  return exports.default.fetch(new Request(url, { method: request.method, headers, body: request.body ?? null }));
}

/** How many recent values of each field name later requests may reuse. */
const SEEN_PER_FIELD = 1000;

/** Remembers the strings the service answered under each field name, most recent last, for later requests to use. */
function harvest(seen: FuzzContext["seen"], value: unknown): void {
  if (Array.isArray(value)) value.forEach((item) => harvest(seen, item));
  else if (value !== null && typeof value === "object") {
    for (const [key, child] of Object.entries(value)) {
      if (typeof child !== "string" || child.length > 2048) {
        harvest(seen, child);
        continue;
      }
      const values = seen.get(key) ?? new Set();
      values.delete(child);
      values.add(child);
      if (values.size > SEEN_PER_FIELD) values.delete(values.values().next().value!);
      seen.set(key, values);
    }
  }
}

/** What is wrong with one answer, measured against the operation's documentation; [] if nothing. */
async function problems(path: string, method: string, operation: Operation, response: Response, seen: FuzzContext["seen"]): Promise<string[]> {
  const status = String(response.status);
  const documented = operation.responses[status] ?? operation.responses[`${status[0]}XX`] ?? operation.responses.default;
  const text = await response.text();
  if (!documented) return [`status ${status} is not documented (documented: ${Object.keys(operation.responses).join(", ")}); body ${text.slice(0, 200)}`];
  const found: string[] = [];
  for (const [name, header] of Object.entries(documented.headers ?? {})) {
    const value = response.headers.get(name);
    if (value === null) {
      if (header.required) found.push(`required header ${name} is missing`);
      continue;
    }
    const schema = resolve(doc, header.schema);
    const parsed = schema.type === "integer" && /^-?\d+$/.test(value) ? Number(value) : value;
    if (!ajv.getSchema(`doc#/${pointer("paths", path, method, "responses", status, "headers", name, "schema")}`)!(parsed)) {
      found.push(`header ${name}: ${value} does not match ${JSON.stringify(schema)}`);
    }
  }
  if (!documented.content) {
    if (text !== "") found.push(`a body where none is documented: ${text.slice(0, 200)}`);
    return found;
  }
  const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  const content = documented.content[mediaType];
  if (!content) return [...found, `content type ${mediaType || "(none)"} is not documented for ${status}`];
  if (mediaType !== "application/json") return found;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [...found, `not JSON: ${text.slice(0, 200)}`];
  }
  harvest(seen, body);
  const validate = ajv.getSchema(`doc#/${pointer("paths", path, method, "responses", status, "content", mediaType, "schema")}`)!;
  if (!validate(body)) found.push(`body does not match the schema: ${ajv.errorsText(validate.errors)}; body ${text.slice(0, 300)}`);
  const extra = undocumentedFields(content.schema, body);
  if (extra.length) found.push(`fields the schema does not name: ${extra.join(", ")}`);
  return found;
}

/** Every operation, in document order except that deletions come last: they would take away what the others act on. */
const operations = Object.entries(doc.paths)
  .flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ path, method, operation })))
  .sort((a, b) => Number(a.method === "delete") - Number(b.method === "delete"));

describe("the OpenAPI document against the service", () => {
  const seen: FuzzContext["seen"] = new Map();
  const reserved = new Set<string>();
  const statuses = new Map<string, Set<number>>();

  /** Credentials of every kind: the fixtures are reserved, so generated requests never delete or roll them. */
  async function credentials(): Promise<FuzzContext["credentials"]> {
    const account = await createAccount();
    const client = await createCredential(account.id, "oauth_client", ["read", "write"]);
    const apiKey = await createCredential(account.id, "api_key", ["read"]);
    const adminClient = await createCredential(account.id, "oauth_client", ["admin"]);
    for (const value of [account.id, client.id, apiKey.id, adminClient.id]) reserved.add(value);
    harvest(seen, [client, apiKey]);
    const [token, adminToken] = await Promise.all([tokenFor(client), tokenFor(adminClient)]);
    const bearer = (label: string, token: string) => ({ label, authorization: `Bearer ${token}` });
    return {
      adminBearer: {
        valid: [bearer("admin token", ADMIN_TOKEN), bearer("admin-scoped access token", adminToken)],
        wrong: [bearer("unknown bearer", "x".repeat(43)), bearer("API key", apiKey.api_key), bearer("access token without admin", token), { label: "Basic", authorization: basic(client.client_id, client.client_secret) }],
      },
      bearer: {
        valid: [bearer("API key", apiKey.api_key), bearer("access token", token)],
        wrong: [bearer("unknown API key", `km_live_${"A".repeat(43)}`), bearer("client secret", client.client_secret), bearer("garbage", "not-a-token"), { label: "Basic", authorization: basic(client.client_id, client.client_secret) }],
      },
      // GitHub's secret-scanning reports: signed over the body by a key the keys URL publishes.
      githubSignature: {
        valid: [{ label: "GitHub signature", sign: (body) => signedBy(github, body) }],
        wrong: [
          { label: "unpublished key", sign: (body) => signedBy(stranger, body) },
          { label: "another key's signature", sign: (body) => ({ ...signedBy(github, body), "github-public-key-signature": signature(stranger, body) }) },
        ],
      },
      clientBasic: {
        valid: [{ label: "client_secret_basic", authorization: basic(client.client_id, client.client_secret) }],
        wrong: [
          { label: "wrong secret", authorization: basic(client.client_id, altered(client.client_secret)) },
          { label: "unknown client", authorization: basic("kmc_unknown", "kms_unknown") },
          { label: "malformed Basic", authorization: "Basic !!!" },
          bearer("bearer instead of Basic", token),
        ],
      },
    };
  }

  // A form's `token` is worth trying with the tokens and keys the service has handed out.
  const ctx: FuzzContext = { doc, credentials: {}, seen, reserved, aliases: { token: ["access_token", "api_key"] } };

  it("has operations to check", () => {
    expect(operations.length).toBeGreaterThanOrEqual(20);
  });

  for (const [index, { path, method, operation }] of operations.entries()) {
    it(`${method.toUpperCase()} ${path}: every answer is documented`, async () => {
      // Fresh fixtures for each operation: the access tokens live 60 seconds, and an operation
      // before this one may have revoked one.
      ctx.credentials = await credentials();
      const answered = new Set<number>();
      statuses.set(`${method.toUpperCase()} ${path}`, answered);
      const requests = requestsFor(ctx, method, path, operation);
      const check = async (request: GeneratedRequest, ip?: string) => {
        const response = await send(request, ip);
        answered.add(response.status);
        const found = await problems(path, method, operation, response, seen);
        if (found.length) {
          throw new Error(`${request.method} ${request.path} [${request.kind}] → ${response.status}:\n  ${found.join("\n  ")}`);
        }
      };
      await fc.assert(fc.asyncProperty(anyRequest(requests), (request) => check(request)), {
        seed: SEED,
        numRuns: RUNS_PER_OPERATION,
        endOnFailure: true,
      });
      // Rate limits: failures in a row from one address, until the first 429 (which must be as documented).
      const wrong = requests.broken.get("wrong credentials");
      if (operation.responses["429"] && wrong) {
        const ip = `198.51.100.${index}`;
        for (const request of fc.sample(wrong, { seed: SEED, numRuns: BURST })) {
          await check(request, ip);
          if (answered.has(429)) break;
        }
      }
    });
  }

  it("met a rate limit somewhere, so that 429 and its Retry-After were checked too", () => {
    expect([...statuses.values()].some((answered) => answered.has(429))).toBe(true);
  });

  it("reached a success on every operation, and a documented failure on each that has one (the requests are not all noise)", () => {
    const lacking = operations
      .map(({ path, method, operation }) => {
        const answered = [...(statuses.get(`${method.toUpperCase()} ${path}`) ?? [])];
        const failures = Object.keys(operation.responses).some((status) => status.startsWith("4"));
        return [`${method.toUpperCase()} ${path}`, answered, !answered.some((s) => s < 300) || (failures && !answered.some((s) => s >= 400))] as const;
      })
      .filter(([, , lacks]) => lacks);
    expect(lacking.map(([operation, answered]) => `${operation}: ${[...answered].join(", ")}`)).toEqual([]);
  });
});
