import { type JWK, importJWK } from "jose";

/**
 * The public keys a private_key_jwt client registers (contract: at most 5; EC P-256, RSA of
 * 2048+ bits, or Ed25519; each with a unique `kid`; no private member; one WebCrypto can use).
 * The shape is checked on the server (`jwksProblem`, which the console also runs in the page),
 * then each key is tried in WebCrypto once (`unusableKeyProblem`).
 */

export const MAX_CLIENT_KEYS = 5;
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const B64URL = /^[A-Za-z0-9_-]+$/;

/** The algorithms a key of this kind can sign with. */
function algorithmsOfType(kty: unknown): string[] {
  if (kty === "EC") return ["ES256"];
  if (kty === "RSA") return ["PS256", "RS256"];
  if (kty === "OKP") return ["EdDSA"];
  return [];
}

/** The algorithms an assertion may use with this key: its `alg` alone when it names one (RFC 7517 §4.4). */
export function algorithmsFor(jwk: { kty?: unknown; alg?: unknown }): string[] {
  const possible = algorithmsOfType(jwk.kty);
  if (jwk.alg === undefined) return possible;
  return typeof jwk.alg === "string" && possible.includes(jwk.alg) ? [jwk.alg] : [];
}

/** Every algorithm a client key may sign with: the metadata lists these. */
export const CLIENT_ASSERTION_ALGORITHMS = ["ES256", "PS256", "RS256", "EdDSA"];

function rsaBits(n: string): number {
  const padded = n.replace(/-/g, "+").replace(/_/g, "/");
  const bytes = atob(padded + "=".repeat((4 - (padded.length % 4)) % 4));
  let leading = 0;
  while (leading < bytes.length && bytes.charCodeAt(leading) === 0) leading++;
  const first = bytes.charCodeAt(leading);
  return (bytes.length - leading - 1) * 8 + (first === 0 ? 0 : Math.floor(Math.log2(first)) + 1);
}

/** Why a JWK Set is refused, or null when it is fine. */
export function jwksProblem(jwks: unknown): string | null {
  if (typeof jwks !== "object" || jwks === null || !Array.isArray((jwks as { keys?: unknown }).keys)) return 'must be {"keys": [...]}';
  const keys = (jwks as { keys: unknown[] }).keys;
  if (keys.length < 1 || keys.length > MAX_CLIENT_KEYS) return `must hold 1 to ${MAX_CLIENT_KEYS} keys`;
  const kids = new Set<string>();
  for (const [i, candidate] of keys.entries()) {
    if (typeof candidate !== "object" || candidate === null) return `keys[${i}] is not a JWK`;
    const key = candidate as Record<string, unknown>;
    if (PRIVATE_MEMBERS.some((member) => member in key)) return `keys[${i}] holds a private member: send public keys only`;
    if (typeof key.kid !== "string" || key.kid.length < 1 || key.kid.length > 128) return `keys[${i}] needs a kid (1 to 128 characters)`;
    if (kids.has(key.kid)) return `keys[${i}] repeats the kid ${JSON.stringify(key.kid).slice(0, 40)}`;
    kids.add(key.kid);
    if (key.use !== undefined && key.use !== "sig") return `keys[${i}] must be a signing key (use "sig")`;
    const text = (name: string) => typeof key[name] === "string" && B64URL.test(key[name] as string);
    if (key.kty === "EC") {
      if (key.crv !== "P-256" || !text("x") || !text("y")) return `keys[${i}] must be an EC P-256 key with x and y`;
    } else if (key.kty === "RSA") {
      if (!text("n") || !text("e")) return `keys[${i}] must be an RSA key with n and e`;
      if (rsaBits(key.n as string) < 2048) return `keys[${i}] is an RSA key under 2048 bits`;
    } else if (key.kty === "OKP") {
      if (key.crv !== "Ed25519" || !text("x")) return `keys[${i}] must be an Ed25519 key with x`;
    } else return `keys[${i}] must be EC P-256, RSA or Ed25519`;
    if (algorithmsFor(key).length === 0) return `keys[${i}] has an alg its key type cannot sign with`;
  }
  return null;
}

/** Only the public members of each key (what Keymint keeps). */
export function publicKeys(jwks: { keys: Record<string, unknown>[] }): { keys: Record<string, unknown>[] } {
  const keep = ["kty", "crv", "x", "y", "n", "e", "kid", "alg", "use"];
  return { keys: jwks.keys.map((key) => Object.fromEntries(Object.entries(key).filter(([name]) => keep.includes(name)))) };
}

/** How each algorithm is asked of WebCrypto, and how long its signatures are (RSA: the modulus). */
const TRIALS: Record<string, { params: Parameters<SubtleCrypto["verify"]>[0]; length: (jwk: Record<string, unknown>) => number }> = {
  ES256: { params: { name: "ECDSA", hash: "SHA-256" }, length: () => 64 },
  PS256: { params: { name: "RSA-PSS", saltLength: 32 }, length: (jwk) => Math.ceil(rsaBits(jwk.n as string) / 8) },
  RS256: { params: { name: "RSASSA-PKCS1-v1_5" }, length: (jwk) => Math.ceil(rsaBits(jwk.n as string) / 8) },
  EdDSA: { params: { name: "Ed25519" }, length: () => 64 },
};

/**
 * Whether WebCrypto can verify with this key: it is imported and asked to check a blank signature
 * once. A key with a point off its curve, short coordinates or an RSA exponent of 1 passes the
 * shape checks but makes WebCrypto throw; that must happen here (400), not on first use.
 */
async function usable(jwk: Record<string, unknown>, alg: string): Promise<boolean> {
  const trial = TRIALS[alg];
  if (!trial) return false;
  try {
    const key = (await importJWK({ ...jwk, alg } as JWK, alg)) as CryptoKey;
    await crypto.subtle.verify(trial.params, key, new Uint8Array(trial.length(jwk)), new Uint8Array(1));
    return true;
  } catch {
    return false;
  }
}

/** Why WebCrypto cannot use a key of a well-shaped set (naming it), or null when every key works. */
export async function unusableKeyProblem(jwks: { keys: Record<string, unknown>[] }): Promise<string | null> {
  for (const [i, key] of jwks.keys.entries()) {
    for (const alg of algorithmsFor(key)) {
      if (!(await usable(key, alg))) {
        return `keys[${i}] (kid ${JSON.stringify(key.kid).slice(0, 40)}) is not a public key WebCrypto can use with ${alg}: check its coordinates or exponent`;
      }
    }
  }
  return null;
}
