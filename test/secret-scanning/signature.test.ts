import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_SECRET_SCANNING_BODY_BYTES } from "../../src/config";
import { generateSecret } from "../../src/services/secrets";
import {
  GITHUB_SAMPLE,
  type KeysServer,
  type SigningKey,
  keysServer,
  reportBody,
  reportRequest,
  send,
  signature,
  signingKey,
} from "../support/github";
import { createAccount, createCredential, expectError, sha256Hex, snapshot } from "../support/http";

/**
 * POST /secret-scanning/github: who may report. Only a body signed by a key GitHub publishes is
 * read; everything else is 401 (or 400, 413, 503) and changes nothing.
 */

let server: KeysServer | undefined;
afterEach(() => {
  server?.restore();
  server = undefined;
  vi.restoreAllMocks();
});

/** A real API key, so that a report that got through would delete it. */
async function liveKey() {
  const account = await createAccount();
  return createCredential(account.id, "api_key");
}

/** Sends a report that must be refused with this status and code, and checks nothing changed. */
async function refused(request: Request, status: number, code: string, bindings: Env = env) {
  const before = await snapshot();
  const response = await send(request, bindings);
  const body = await expectError(response, status, code);
  expect(await snapshot()).toBe(before);
  return { response, body };
}

describe("GitHub's documented sample", () => {
  it("verifies: payload, key id, DER signature and public key exactly as GitHub's docs give them", async () => {
    server = await keysServer([{ id: GITHUB_SAMPLE.keyId, pem: GITHUB_SAMPLE.pem }]);
    const response = await send(reportRequest(GITHUB_SAMPLE.payload, { keyId: GITHUB_SAMPLE.keyId, signature: GITHUB_SAMPLE.signature }));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([{ token_hash: await sha256Hex("some_token"), token_type: "some_type", label: "false_positive" }]);
  });

  it("fails once a byte of the payload changes (a trailing newline)", async () => {
    server = await keysServer([{ id: GITHUB_SAMPLE.keyId, pem: GITHUB_SAMPLE.pem }]);
    await refused(reportRequest(`${GITHUB_SAMPLE.payload}\n`, { keyId: GITHUB_SAMPLE.keyId, signature: GITHUB_SAMPLE.signature }), 401, "unauthorized");
  });
});

describe("refused reports change nothing", () => {
  let key: SigningKey;
  async function setup() {
    key = signingKey();
    server = await keysServer([key]);
    const credential = await liveKey();
    return { credential, body: reportBody([{ token: credential.api_key }]) };
  }

  it("no signature at all, or only one of the two headers → 401", async () => {
    const { body, credential } = await setup();
    await refused(reportRequest(body, null), 401, "unauthorized");
    await refused(reportRequest(body, null, { "github-public-key-identifier": key.id }), 401, "unauthorized");
    await refused(reportRequest(body, null, { "github-public-key-signature": signature(key, body) }), 401, "unauthorized");
    expect((await send(new Request(`http://localhost:8787/admin/v1/credentials/${credential.id}`, { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }))).status).toBe(200);
  });

  it("a signature by another key under a published key id → 401", async () => {
    const { body } = await setup();
    const impostor = signingKey();
    await refused(reportRequest(body, { keyId: key.id, signature: signature(impostor, body) }), 401, "unauthorized");
  });

  it("garbage signatures: not base64, not DER, trailing bytes, a negative or oversized integer, raw r‖s → 401", async () => {
    const { body } = await setup();
    const der = Buffer.from(signature(key, body), "base64");
    const r = der.subarray(4, 4 + der[3]!);
    const s = der.subarray(6 + der[3]!, 6 + der[3]! + der[5 + der[3]!]!);
    const seq = (...parts: Buffer[]) => {
      const content = Buffer.concat(parts);
      return Buffer.concat([Buffer.from([0x30, content.length]), content]);
    };
    const int = (value: Buffer) => Buffer.concat([Buffer.from([0x02, value.length]), value]);
    const raw = Buffer.concat([Buffer.alloc(32 - r.subarray(r[0] === 0 ? 1 : 0).length), r.subarray(r[0] === 0 ? 1 : 0), Buffer.alloc(32 - s.subarray(s[0] === 0 ? 1 : 0).length), s.subarray(s[0] === 0 ? 1 : 0)]);
    const bad = [
      "not base64!",
      "",
      Buffer.concat([der, Buffer.from([0])]).toString("base64"), // a byte after the SEQUENCE
      seq(int(r), int(s), int(Buffer.from([1]))).toString("base64"), // a third INTEGER
      seq(int(Buffer.concat([Buffer.from([0x80]), r.subarray(1)])), int(s)).toString("base64"), // r negative
      seq(int(Buffer.concat([Buffer.from([0, 0]), r])), int(s)).toString("base64"), // r not minimal
      seq(int(Buffer.concat([Buffer.from([1]), Buffer.alloc(32, 1)])), int(s)).toString("base64"), // r of 33 bytes
      raw.toString("base64"), // WebCrypto's own format is not what GitHub sends
      der.toString("base64url").replace(/=+$/, "").replace(/^./, "_"), // base64url is not base64
    ];
    for (const value of bad) await refused(reportRequest(body, { keyId: key.id, signature: value }), 401, "unauthorized");
    // The same DER, untouched, is accepted: the refusals above are about the encoding alone.
    expect((await send(reportRequest(body, { keyId: key.id, signature: der.toString("base64") }))).status).toBe(200);
  });

  it("signatures whose r or s is shorter than 32 bytes (left-padded) or has its sign byte (stripped) verify", async () => {
    key = signingKey();
    server = await keysServer([key]);
    // About 1 signature in 256 has a short r (or s): search for each shape, over different bodies.
    const scalars = (der: Buffer) => {
      const rLength = der[3]!;
      return [der.subarray(4, 4 + rLength), der.subarray(6 + rLength, 6 + rLength + der[5 + rLength]!)];
    };
    const stripped = (value: Buffer) => (value[0] === 0 ? value.subarray(1) : value);
    // ECDSA signatures are randomised: each one found is sent exactly as it was made.
    type Signed = { body: string; signature: string };
    const found: { shortR?: Signed; shortS?: Signed; signByte?: Signed } = {};
    for (let i = 0; i < 20_000 && !(found.shortR && found.shortS && found.signByte); i++) {
      const body = reportBody([{ token: `t${i}` }]);
      const signed = { body, signature: signature(key, body) };
      const [r, s] = scalars(Buffer.from(signed.signature, "base64"));
      if (stripped(r!).length < 32) found.shortR ??= signed;
      if (stripped(s!).length < 32) found.shortS ??= signed;
      if (r![0] === 0 && s![0] === 0) found.signByte ??= signed;
    }
    const signatures = [found.shortR, found.shortS, found.signByte];
    expect(signatures.every((signed) => signed !== undefined)).toBe(true);
    for (const signed of signatures) {
      expect((await send(reportRequest(signed!.body, { keyId: key.id, signature: signed!.signature }))).status).toBe(200);
    }
  });

  it("a body altered after signing (one token swapped, whitespace added) → 401", async () => {
    const { body } = await setup();
    const signed = signature(key, body);
    const other = reportBody([{ token: generateSecret("api_key") }]);
    await refused(reportRequest(other, { keyId: key.id, signature: signed }), 401, "unauthorized");
    await refused(reportRequest(` ${body}`, { keyId: key.id, signature: signed }), 401, "unauthorized");
  });

  it("a key id GitHub does not publish → 401, even after asking GitHub again", async () => {
    const { body } = await setup();
    const stranger = signingKey();
    await refused(reportRequest(body, stranger), 401, "unauthorized");
    expect(server!.requests.length).toBe(1);
  });

  it("a signed body that is not JSON, not UTF-8, or not an array of {token, type} → 400", async () => {
    await setup();
    const bodies: (string | Uint8Array<ArrayBuffer>)[] = [
      "not json",
      new Uint8Array([0x5b, 0xff, 0x5d]),
      '{"token":"km_live_x","type":"t"}',
      "[1]",
      '[{"type":"t"}]',
      '[{"token":7,"type":"t"}]',
      '[{"token":"x"}]',
      '[{"token":"x","type":"t","url":5}]',
    ];
    for (const body of bodies) await refused(reportRequest(body, key), 400, "invalid_request");
  });

  it("a body over 1 MiB → 413 before anything is read; just under it is answered", async () => {
    key = signingKey();
    server = await keysServer([key]);
    const filler = (bytes: number) => {
      const body = reportBody([{ token: "x", url: "" }]);
      return body.replace('"url":""', `"url":"${"u".repeat(bytes - body.length)}"`);
    };
    const over = filler(MAX_SECRET_SCANNING_BODY_BYTES + 1);
    expect(over.length).toBe(MAX_SECRET_SCANNING_BODY_BYTES + 1);
    await refused(reportRequest(over, key), 413, "payload_too_large");
    const under = filler(MAX_SECRET_SCANNING_BODY_BYTES);
    const response = await send(reportRequest(under, key));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual([{ token_hash: await sha256Hex("x"), token_type: "keymint_secret", label: "false_positive" }]);
  });

  it("the other routes keep their 64 KiB limit", async () => {
    const big = JSON.stringify({ name: "x".repeat(70 * 1024), type: "service" });
    const response = await send(
      new Request("http://localhost:8787/admin/v1/accounts", { method: "POST", headers: { authorization: `Bearer ${env.ADMIN_TOKEN}`, "content-type": "application/json" }, body: big }),
    );
    await expectError(response, 413, "payload_too_large");
  });

  it("refused reports count against the caller's IP: 429 once over the limit, and a signed report is still answered", async () => {
    const { body } = await setup();
    const ip = "203.0.113.250";
    const statuses: number[] = [];
    for (let i = 0; i < 70 && !statuses.includes(429); i++) {
      statuses.push((await send(reportRequest(body, null, { "cf-connecting-ip": ip }))).status);
    }
    expect(statuses).toContain(429);
    expect(statuses.filter((status) => status !== 401 && status !== 429)).toEqual([]);
    const signed = await send(reportRequest(reportBody([{ token: "x" }]), key, { "cf-connecting-ip": ip }));
    expect(signed.status).toBe(200);
  });
});

describe("GitHub's keys: fetched, cached in KV, refreshed at most once a minute", () => {
  it("asks the keys URL once, then verifies from the cache", async () => {
    const key = signingKey();
    server = await keysServer([key]);
    for (let i = 0; i < 3; i++) expect((await send(reportRequest(reportBody([{ token: `t${i}` }]), key))).status).toBe(200);
    expect(server.requests.length).toBe(1);
    expect(server.requests[0]!.headers.get("authorization")).toBeNull();
    expect(server.requests[0]!.headers.get("user-agent")).toBeTruthy();
  });

  it("sends GITHUB_TOKEN as a bearer token when it is set", async () => {
    const key = signingKey();
    server = await keysServer([key]);
    const bindings = { ...env, GITHUB_TOKEN: "github-token-for-tests" } as Env;
    expect((await send(reportRequest(reportBody([{ token: "t" }]), key), bindings)).status).toBe(200);
    expect(server.requests.map((request) => request.headers.get("authorization"))).toEqual(["Bearer github-token-for-tests"]);
  });

  it("an unknown key id refreshes the keys at most once a minute (a rotation is picked up; forged ids cannot spend GitHub's budget)", async () => {
    const [first, second, stranger] = [signingKey(), signingKey(), signingKey()];
    server = await keysServer([first]);
    const start = Date.now();
    const body = reportBody([{ token: "t" }]);
    expect((await send(reportRequest(body, first))).status).toBe(200);
    expect(server.requests.length).toBe(1);

    // GitHub rotates: the new key is published, but the cache was checked just now.
    server.publish([first, second]);
    const clock = vi.spyOn(Date, "now").mockReturnValue(start + 30_000);
    await refused(reportRequest(body, second), 401, "unauthorized");
    for (let i = 0; i < 5; i++) await refused(reportRequest(body, stranger), 401, "unauthorized");
    expect(server.requests.length).toBe(1);

    // A minute after the last check, an unknown id asks again: the new key works from then on.
    clock.mockReturnValue(start + 61_000);
    expect((await send(reportRequest(body, second))).status).toBe(200);
    expect(server.requests.length).toBe(2);
    expect((await send(reportRequest(body, second))).status).toBe(200);
    await refused(reportRequest(body, stranger), 401, "unauthorized");
    expect(server.requests.length).toBe(2);
    clock.mockReturnValue(start + 122_000);
    await refused(reportRequest(body, stranger), 401, "unauthorized");
    expect(server.requests.length).toBe(3);
  });

  it("keys unavailable and none cached → 503 with Retry-After, retried at most once a minute; then it recovers", async () => {
    const key = signingKey();
    server = await keysServer([key]);
    server.fail(500);
    const start = Date.now();
    const body = reportBody([{ token: "t" }]);
    const { response } = await refused(reportRequest(body, key), 503, "temporarily_unavailable");
    expect(response.headers.get("retry-after")).toMatch(/^\d+$/);
    await refused(reportRequest(body, key), 503, "temporarily_unavailable");
    expect(server.requests.length).toBe(1);
    server.publish([key]);
    vi.spyOn(Date, "now").mockReturnValue(start + 61_000);
    expect((await send(reportRequest(body, key))).status).toBe(200);
    expect(server.requests.length).toBe(2);
  });

  it("a failing keys URL does not lose the cached keys", async () => {
    const key = signingKey();
    server = await keysServer([key]);
    const start = Date.now();
    const body = reportBody([{ token: "t" }]);
    expect((await send(reportRequest(body, key))).status).toBe(200);
    server.fail(502);
    // A day later the cache is refreshed before use; GitHub failing, the cached key still verifies.
    vi.spyOn(Date, "now").mockReturnValue(start + 86_400_000 + 1);
    expect((await send(reportRequest(body, key))).status).toBe(200);
    expect(server.requests.length).toBe(2);
  });
});
