import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { type KeyObject, createHash, generateKeyPairSync, sign } from "node:crypto";
import { vi } from "vitest";
import worker from "../../src/index";
import { GITHUB_KEYS_KEY } from "../../src/storage/github-keys";
import { BASE } from "./http";

/**
 * GitHub's side of secret scanning, for tests: signing keys (ECDSA P-256, signatures in DER as
 * Node's crypto.sign makes them, like GitHub's), the keys URL answered by a spy on the global
 * fetch (the Worker runs in the test's isolate), and reports sent through the Worker's fetch with
 * bindings of the test's choosing.
 */

/** vitest.config.ts points GITHUB_SECRET_SCANNING_KEYS_URL here; nothing else answers it. */
export const KEYS_URL = env.GITHUB_SECRET_SCANNING_KEYS_URL;

/** GitHub's documented sample (docs: "Implementing signature verification in your secret alert service"). */
export const GITHUB_SAMPLE = {
  payload: '[{"token":"some_token","type":"some_type","url":"some_url"}]',
  keyId: "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a",
  signature: "MEUCIQDKZokqnCjrRtw0tni+2Ltvl/uiMJ1EGumEsp1BsNr32AIgQY1YXD2nlj+XNfGK4rBfkMJ1JDOQcYXxa2sY8FNkrKc=",
  pem: "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9MJJHnMfn2+H4xL4YaPDA4RpJqUq\nkCmRCBnYERxZanmcpzQSXs1X/AljlKkbJ8qpVIW4clayyef9gWhFbNHWAA==\n-----END PUBLIC KEY-----",
};

export interface SigningKey {
  id: string;
  pem: string;
  privateKey: KeyObject;
}

/** A fresh P-256 key, its id the hex SHA-256 of its public key (as GitHub's ids are). */
export function signingKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return { id: createHash("sha256").update(pem).digest("hex"), pem, privateKey };
}

/** base64 of the DER ECDSA P-256 / SHA-256 signature over the body's bytes. */
export function signature(key: SigningKey, body: string | Uint8Array): string {
  return sign("sha256", typeof body === "string" ? Buffer.from(body) : body, key.privateKey).toString("base64");
}

export interface KeysServer {
  /** Requests made to the keys URL. */
  requests: Request[];
  /** What the keys URL publishes now: keys, or a failing status. */
  publish(keys: (Pick<SigningKey, "id" | "pem"> & { current?: boolean })[]): void;
  fail(status: number): void;
  restore(): void;
}

/**
 * Answers the keys URL in GitHub's format (`{"public_keys": [{key_identifier, key, is_current}]}`);
 * every other URL goes to the real fetch. Starts from an empty KV cache.
 */
export async function keysServer(keys: (Pick<SigningKey, "id" | "pem"> & { current?: boolean })[] = []): Promise<KeysServer> {
  await env.REVOCATIONS.delete(GITHUB_KEYS_KEY);
  const original = globalThis.fetch;
  let published: typeof keys = keys;
  let failing: number | null = null;
  const requests: Request[] = [];
  const spy = vi.spyOn(globalThis, "fetch").mockImplementation(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (request.url !== KEYS_URL) return original(input, init);
    requests.push(request);
    if (failing !== null) return new Response("unavailable", { status: failing });
    return Response.json({
      public_keys: published.map((key) => ({ key_identifier: key.id, key: key.pem, is_current: key.current ?? true })),
    });
  });
  return {
    requests,
    publish: (next) => {
      published = next;
      failing = null;
    },
    fail: (status) => {
      failing = status;
    },
    restore: () => spy.mockRestore(),
  };
}

/** Sends a request through the Worker with these bindings, and waits for its background work. */
export async function send(request: Request, bindings: Env = env): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, bindings, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

let ipCounter = 0;
/** An address no other request uses: failures count against the caller's IP. */
export const freshIp = () => `2001:db8:5ca::${(++ipCounter).toString(16)}`;

/** A report as GitHub posts it: the body signed by `key` (or with the headers given). */
export function reportRequest(
  body: string | Uint8Array<ArrayBuffer>,
  signedBy: SigningKey | { keyId: string; signature: string } | null,
  headers: Record<string, string> = {},
): Request {
  const signing: Record<string, string> =
    signedBy === null
      ? {}
      : "privateKey" in signedBy
        ? { "github-public-key-identifier": signedBy.id, "github-public-key-signature": signature(signedBy, body) }
        : { "github-public-key-identifier": signedBy.keyId, "github-public-key-signature": signedBy.signature };
  return new Request(`${BASE}/secret-scanning/github`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": freshIp(), ...signing, ...headers },
    body,
  });
}

export interface Finding {
  token: string;
  type?: string;
  url?: string;
  source?: string;
}

/** A report body in GitHub's format. */
export function reportBody(findings: Finding[]): string {
  return JSON.stringify(findings.map((finding) => ({ type: "keymint_secret", url: "https://github.com/octo-org/app/blob/main/.env", source: "content", ...finding })));
}
