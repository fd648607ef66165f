import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, startDevServer } from "../node/dev-server";

/**
 * private_key_jwt through a third, independent client library in another language: Python
 * authlib's PrivateKeyJWT client auth (RFC 7523), as test/interop/authlib_client.py uses it, against
 * `npm run dev`. authlib's assertions carry the token endpoint as `aud`, which Keymint accepts
 * beside the issuer (docs/security.md says why). authlib signs assertions valid for an hour;
 * Keymint takes at most 5 minutes, so the client sets a shorter lifetime (README, "private_key_jwt").
 *
 * It needs a Python 3 with authlib and requests: Debian's python3-authlib and python3-requests
 * (.ci/run installs them), or `pip install authlib requests`.
 */

const SCRIPT = "test/interop/authlib_client.py";

/** The first Python that has authlib and requests. */
function pythonWithAuthlib(): string {
  for (const python of ["python3", "/usr/bin/python3"]) {
    if (spawnSync(python, ["-c", "import authlib, requests"]).status === 0) return python;
  }
  throw new Error(
    "This interop test needs Python 3 with authlib and requests: `apt-get install python3-authlib python3-requests` (Debian) or `pip install authlib requests`.",
  );
}

describe("private_key_jwt with Python authlib", () => {
  let server: DevServer;
  let python: string;
  const dir = mkdtempSync(join(tmpdir(), "keymint-authlib-"));
  const admin = async (path: string, body: unknown) => {
    const response = await fetch(`${server.url}/admin/v1${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status, path).toBe(201);
    return response.json() as Promise<any>;
  };

  /** A private_key_jwt client holding the public half of a new key; returns it and the private half's PEM file. */
  async function signer(accountId: string, kind: "ec" | "rsa", kid: string) {
    const pair = kind === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = join(dir, `${kid}.pem`);
    writeFileSync(pem, pair.privateKey.export({ type: "pkcs8", format: "pem" }));
    const credential = await admin("/credentials", {
      name: `authlib ${kid}`,
      type: "oauth_client",
      account_id: accountId,
      scopes: ["events:read", "events:write"],
      token_endpoint_auth_method: "private_key_jwt",
      jwks: { keys: [{ ...(await exportJWK(pair.publicKey)), kid }] },
    });
    return { credential, pem };
  }

  /** Two token requests through authlib; `kid` "" leaves it out of the header, `lifetime` is the assertion's, in seconds. */
  const run = (clientId: string, pem: string, kid: string, alg: string, lifetime = 60) =>
    spawnSync(python, [SCRIPT, server.url, clientId, pem, kid, alg, String(lifetime)], { encoding: "utf8", timeout: 30_000 });

  beforeAll(async () => {
    python = pythonWithAuthlib();
    server = await startDevServer();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const { kind, alg, withKid, lifetime } of [
    { kind: "ec", alg: "ES256", withKid: true, lifetime: 60 },
    { kind: "rsa", alg: "RS256", withKid: false, lifetime: 300 },
  ] as const) {
    it(`gets tokens with ${alg} assertions (${withKid ? "with" : "without"} a kid, valid ${lifetime} s), a fresh one per request, and the tokens work`, async () => {
      const account = await admin("/accounts", { name: `authlib ${alg}`, type: "service" });
      const kid = `authlib-${kind}-1`;
      const { credential, pem } = await signer(account.id, kind, kid);
      const result = run(credential.client_id, pem, withKid ? kid : "", alg, lifetime);
      expect(result.status, result.stderr).toBe(0);
      const tokens = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
      expect(tokens).toHaveLength(2);
      for (const token of tokens) {
        expect(token).toMatchObject({ token_type: "Bearer", expires_in: 60, scope: "events:read" });
        const check = await fetch(`${server.url}/v1/test-auth`, { headers: { authorization: `Bearer ${token.access_token}` } });
        expect(check.status).toBe(200);
        expect(await check.json()).toMatchObject({ ok: true, credential_id: credential.id, credential_type: "oauth_client", scopes: ["events:read"] });
      }
      // Two requests, two assertions (each jti used once), two tokens.
      expect(tokens[0].access_token).not.toBe(tokens[1].access_token);
    });
  }

  it("refuses authlib's default assertion lifetime of an hour (invalid_client): at most 5 minutes", async () => {
    const account = await admin("/accounts", { name: "authlib hour", type: "service" });
    const { credential, pem } = await signer(account.id, "ec", "authlib-hour");
    const result = run(credential.client_id, pem, "authlib-hour", "ES256", 3600);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("invalid_client");
    expect(result.stdout).toBe("");
  });

  it("is refused (invalid_client) when authlib signs with a key the client's JWK Set does not hold, under a known kid", async () => {
    const account = await admin("/accounts", { name: "authlib stranger", type: "service" });
    const { credential } = await signer(account.id, "ec", "authlib-known");
    const stranger = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = join(dir, "stranger.pem");
    writeFileSync(pem, stranger.privateKey.export({ type: "pkcs8", format: "pem" }));
    const result = run(credential.client_id, pem, "authlib-known", "ES256");
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain("invalid_client");
    expect(result.stdout).toBe("");
  });
});
