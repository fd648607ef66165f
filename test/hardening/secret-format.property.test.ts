import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { SECRET_FORMATS, type SecretKind, generateSecret, isWellFormed } from "../../src/services/secrets";
import { BASE } from "../support/http";
import { basic } from "../support/oauth";

/**
 * Property-based tests of the secret format (src/services/secrets.ts):
 *   <prefix><body: N base62 chars><checksum: 6 base62 digits of CRC-32 (IEEE) of prefix+body>
 * Every generated value is well-formed; every single-character change, deletion, insertion and
 * truncation of a well-formed value is refused; random strings are refused; and the Worker
 * refuses malformed values at test-auth and the token endpoint without reading D1 (or KV).
 *
 * The checksum is recomputed here from its documented definition (an independent oracle), so
 * that fast-check can build valid values from bodies it generates and shrink them.
 */

const KINDS = Object.keys(SECRET_FORMATS) as SecretKind[];
const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECKSUM_LENGTH = 6;
const RUNS = 500;
const HTTP_RUNS = 50;

// ---- the oracle: CRC-32 (IEEE, reflected, poly 0xEDB88320) as 6 base62 digits ----------------

function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of new TextEncoder().encode(text)) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function oracleChecksum(head: string): string {
  let value = crc32(head);
  let out = "";
  for (let i = 0; i < CHECKSUM_LENGTH; i++) {
    out = BASE62[value % 62] + out;
    value = Math.floor(value / 62);
  }
  return out;
}

const totalLength = (kind: SecretKind) => SECRET_FORMATS[kind].prefix.length + SECRET_FORMATS[kind].bodyLength + CHECKSUM_LENGTH;

// ---- arbitraries ---------------------------------------------------------------------------

const kindArb = fc.constantFrom(...KINDS);
const base62Char = fc.constantFrom(...BASE62);
/** Anything a single character could be replaced with: base62, separators, controls, non-ASCII, astral, lone surrogates. */
const anyChar = fc.oneof(
  base62Char,
  fc.constantFrom("_", "-", ".", "~", "+", "/", "=", " ", "\0", "\n", "\u202E", "é", "Ａ", "０", "\uD800", "😀"),
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
);
/** Characters that can travel in an HTTP header value (printable ASCII). */
const headerChar = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));

/** A well-formed value built from a generated body (fast-check controls it, so it shrinks). */
const validOf = (kind: SecretKind) =>
  fc.string({ unit: base62Char, minLength: SECRET_FORMATS[kind].bodyLength, maxLength: SECRET_FORMATS[kind].bodyLength }).map((body) => {
    const head = SECRET_FORMATS[kind].prefix + body;
    return head + oracleChecksum(head);
  });
const validArb = kindArb.chain((kind) => validOf(kind).map((value) => ({ kind, value })));

type Mutation =
  | { op: "substitute"; at: number; ch: string }
  | { op: "delete"; at: number }
  | { op: "insert"; at: number; ch: string }
  | { op: "truncate"; to: number };

function mutate(value: string, m: Mutation): string {
  switch (m.op) {
    case "substitute":
      return value.slice(0, m.at) + m.ch + value.slice(m.at + 1);
    case "delete":
      return value.slice(0, m.at) + value.slice(m.at + 1);
    case "insert":
      return value.slice(0, m.at) + m.ch + value.slice(m.at);
    case "truncate":
      return value.slice(0, m.to);
  }
}

const substitution = (length: number, ch: fc.Arbitrary<string>) =>
  fc.record({ op: fc.constant("substitute" as const), at: fc.nat({ max: length - 1 }), ch });
const deletion = (length: number) => fc.record({ op: fc.constant("delete" as const), at: fc.nat({ max: length - 1 }) });
const insertion = (length: number, ch: fc.Arbitrary<string>) => fc.record({ op: fc.constant("insert" as const), at: fc.nat({ max: length }), ch });
const truncation = (length: number, min = 0) => fc.record({ op: fc.constant("truncate" as const), to: fc.integer({ min, max: length - 1 }) });

/** Any one of the four mutations of a value of this length. */
const anyMutation = (length: number, ch: fc.Arbitrary<string>, minTruncate = 0): fc.Arbitrary<Mutation> =>
  fc.oneof(substitution(length, ch), deletion(length), insertion(length, ch), truncation(length, minTruncate));

/** A mutation of `value` that really changes it (a substitution by the same character does not). */
const changed = (value: string, m: Mutation) => mutate(value, m) !== value;

// ---- pure properties -----------------------------------------------------------------------

describe("generated secrets", () => {
  it("are well-formed, with their kind's prefix, length, alphabet and checksum, and of no other kind", () => {
    fc.assert(
      fc.property(kindArb, (kind) => {
        const { prefix, bodyLength } = SECRET_FORMATS[kind];
        const value = generateSecret(kind);
        expect(isWellFormed(kind, value)).toBe(true);
        expect(value.startsWith(prefix)).toBe(true);
        expect(value).toHaveLength(prefix.length + bodyLength + CHECKSUM_LENGTH);
        expect(value.slice(prefix.length)).toMatch(/^[0-9A-Za-z]+$/);
        expect(value.slice(-CHECKSUM_LENGTH)).toBe(oracleChecksum(value.slice(0, -CHECKSUM_LENGTH)));
        for (const other of KINDS.filter((k) => k !== kind)) expect(isWellFormed(other, value)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("do not repeat", () => {
    for (const kind of KINDS) {
      const values = Array.from({ length: 2000 }, () => generateSecret(kind));
      expect(new Set(values).size).toBe(values.length);
    }
  });

  it("use all 62 characters of the alphabet in their bodies", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) for (const ch of generateSecret("api_key").slice(8, -CHECKSUM_LENGTH)) seen.add(ch);
    expect(seen.size).toBe(62);
  });
});

describe("isWellFormed", () => {
  it("accepts every value built to the documented format (the oracle agrees with the code)", () => {
    fc.assert(
      fc.property(validArb, ({ kind, value }) => {
        expect(isWellFormed(kind, value)).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses every single-character substitution", () => {
    fc.assert(
      fc.property(
        validArb.chain(({ kind, value }) => substitution(value.length, anyChar).map((m) => ({ kind, value, m }))),
        ({ kind, value, m }) => {
          fc.pre(changed(value, m));
          expect(isWellFormed(kind, mutate(value, m))).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses every substitution by another base62 character, at every position of one value", () => {
    // Exhaustive for one value per kind: CRC-32 catches every error within one byte.
    for (const kind of KINDS) {
      const value = generateSecret(kind);
      for (let at = 0; at < value.length; at++) {
        for (const ch of BASE62 + "_") {
          if (ch === value[at]) continue;
          const bad = value.slice(0, at) + ch + value.slice(at + 1);
          if (isWellFormed(kind, bad)) throw new Error(`accepted ${kind} with ${ch} at ${at}`);
        }
      }
    }
  });

  it("refuses every single-character deletion", () => {
    fc.assert(
      fc.property(
        validArb.chain(({ kind, value }) => deletion(value.length).map((m) => ({ kind, value, m }))),
        ({ kind, value, m }) => {
          expect(isWellFormed(kind, mutate(value, m))).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses every single-character insertion", () => {
    fc.assert(
      fc.property(
        validArb.chain(({ kind, value }) => insertion(value.length, anyChar).map((m) => ({ kind, value, m }))),
        ({ kind, value, m }) => {
          expect(isWellFormed(kind, mutate(value, m))).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses every truncation", () => {
    fc.assert(
      fc.property(
        validArb.chain(({ kind, value }) => truncation(value.length).map((m) => ({ kind, value, m }))),
        ({ kind, value, m }) => {
          expect(isWellFormed(kind, mutate(value, m))).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses a swap of two different adjacent characters (within the prefix and body, or within the checksum)", () => {
    fc.assert(
      fc.property(
        validArb.chain(({ kind, value }) => fc.nat({ max: value.length - 2 }).map((at) => ({ kind, value, at }))),
        ({ kind, value, at }) => {
          const checksumStart = value.length - CHECKSUM_LENGTH;
          // A swap across the body/checksum boundary changes both; only there is a miss possible (≈ 2^-32).
          fc.pre(at + 1 < checksumStart || at >= checksumStart);
          fc.pre(value[at] !== value[at + 1]);
          const swapped = value.slice(0, at) + value[at + 1] + value[at] + value.slice(at + 2);
          expect(isWellFormed(kind, swapped)).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses random strings", () => {
    fc.assert(
      fc.property(kindArb, fc.oneof(fc.string(), fc.string({ unit: "binary", maxLength: 80 }), fc.string({ unit: base62Char, maxLength: 80 })), (kind, value) => {
        expect(isWellFormed(kind, value)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses random strings with the right prefix, length and alphabet but a wrong checksum", () => {
    fc.assert(
      fc.property(
        kindArb.chain((kind) =>
          fc
            .string({ unit: base62Char, minLength: totalLength(kind) - SECRET_FORMATS[kind].prefix.length, maxLength: totalLength(kind) - SECRET_FORMATS[kind].prefix.length })
            .map((rest) => ({ kind, value: SECRET_FORMATS[kind].prefix + rest })),
        ),
        ({ kind, value }) => {
          fc.pre(value.slice(-CHECKSUM_LENGTH) !== oracleChecksum(value.slice(0, -CHECKSUM_LENGTH)));
          expect(isWellFormed(kind, value)).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("refuses another kind's valid value, and the right value with its prefix changed", () => {
    fc.assert(
      fc.property(validArb, kindArb, ({ kind, value }, other) => {
        if (other !== kind) expect(isWellFormed(other, value)).toBe(false);
        const rest = value.slice(SECRET_FORMATS[kind].prefix.length);
        expect(isWellFormed(kind, SECRET_FORMATS[kind].prefix.toUpperCase() + rest)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---- over HTTP: a malformed value costs no storage read ---------------------------------------

/** env with D1 and KV wrapped so that every call on them (prepare, batch, exec, get, …) is counted. */
function countingEnv() {
  const calls: string[] = [];
  const counted = <T extends object>(name: string, target: T): T =>
    new Proxy(target, {
      get(object, property) {
        const value = Reflect.get(object, property);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          calls.push(`${name}.${String(property)}`);
          return (value as (...a: unknown[]) => unknown).apply(object, args);
        };
      },
    });
  return { env: { ...env, DB: counted("DB", env.DB), REVOCATIONS: counted("REVOCATIONS", env.REVOCATIONS) } as Env, calls };
}

async function fetchCounting(request: Request) {
  const counting = countingEnv();
  const ctx = createExecutionContext();
  const response = await worker.fetch(request, counting.env, ctx);
  const body = (await response.json()) as { error?: string };
  await waitOnExecutionContext(ctx);
  return { response, body, calls: counting.calls };
}

const testAuthRequest = (bearer: string) => new Request(`${BASE}/v1/test-auth`, { headers: { authorization: `Bearer ${bearer}` } });

/** API keys that are not well-formed: one mutation of a valid key, or printable junk after the prefix. */
const malformedApiKey = fc.oneof(
  validOf("api_key").chain((value) =>
    anyMutation(value.length, headerChar)
      .filter((m) => changed(value, m))
      .map((m) => mutate(value, m)),
  ),
  fc.string({ unit: headerChar, maxLength: 120 }).map((rest) => `km_live_${rest}`),
);

describe("GET /v1/test-auth with a malformed API key", () => {
  it("is the control: a well-formed unknown key is looked up (the counter sees D1)", async () => {
    const { response, calls } = await fetchCounting(testAuthRequest(generateSecret("api_key")));
    expect(response.status).toBe(401);
    expect(calls.filter((call) => call.startsWith("DB."))).not.toEqual([]);
  });

  it("answers 401 invalid_token without any D1 or KV call", async () => {
    await fc.assert(
      fc.asyncProperty(malformedApiKey, async (key) => {
        // The server sees the key as the Authorization header carries it: spaces or tabs around
        // it go (header values are trimmed, and 1*SP may follow the scheme), so a valid key with
        // only a space added there is no malformed key.
        fc.pre(!isWellFormed("api_key", key.replace(/^[ \t]+|[ \t]+$/g, "")));
        const { response, body, calls } = await fetchCounting(testAuthRequest(key));
        expect(response.status).toBe(401);
        expect(body.error).toBe("invalid_token");
        expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
        expect(calls).toEqual([]);
      }),
      { numRuns: HTTP_RUNS },
    );
  });
});

type ClientAuth = { method: "basic" | "post"; clientId: string; clientSecret: string };

function tokenRequest({ method, clientId, clientSecret }: ClientAuth): Request {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (method === "basic") headers.authorization = basic(clientId, clientSecret);
  else {
    form.set("client_id", clientId);
    form.set("client_secret", clientSecret);
  }
  return new Request(`${BASE}/oauth/token`, { method: "POST", headers, body: form.toString() });
}

/**
 * Client credentials where the id, the secret or both are malformed. Every client_id is built
 * around a fresh random one (at least 12 of its characters kept), so that no two runs share a
 * client_id and the per-client_id failure limit (10 a minute) is never reached.
 */
const malformedClientAuth: fc.Arbitrary<ClientAuth> = fc
  .record({
    method: fc.constantFrom("basic" as const, "post" as const),
    which: fc.constantFrom("id", "secret", "both"),
    idMutation: anyMutation(totalLength("client_id"), headerChar, 12),
    secretMutation: anyMutation(totalLength("client_secret"), headerChar),
    secretBody: validOf("client_secret"),
  })
  .map(({ method, which, idMutation, secretMutation, secretBody }) => {
    const id = generateSecret("client_id");
    return {
      method,
      clientId: which === "secret" ? id : mutate(id, idMutation),
      clientSecret: which === "id" ? secretBody : mutate(secretBody, secretMutation),
    };
  });

describe("POST /oauth/token with malformed client credentials", () => {
  it("is the control: a well-formed unknown client is looked up (the counter sees D1)", async () => {
    const { response, calls } = await fetchCounting(
      tokenRequest({ method: "basic", clientId: generateSecret("client_id"), clientSecret: generateSecret("client_secret") }),
    );
    expect(response.status).toBe(401);
    expect(calls.filter((call) => call.startsWith("DB."))).not.toEqual([]);
  });

  it("answers 401 invalid_client without any D1 or KV call", async () => {
    await fc.assert(
      fc.asyncProperty(malformedClientAuth, async (auth) => {
        fc.pre(!isWellFormed("client_id", auth.clientId) || !isWellFormed("client_secret", auth.clientSecret));
        const { response, body, calls } = await fetchCounting(tokenRequest(auth));
        expect(response.status).toBe(401);
        expect(body.error).toBe("invalid_client");
        if (auth.method === "basic") expect(response.headers.get("www-authenticate")).toMatch(/^Basic /);
        else expect(response.headers.get("www-authenticate")).toBeNull();
        expect(calls).toEqual([]);
      }),
      { numRuns: HTTP_RUNS },
    );
  });
});
