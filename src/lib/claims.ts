import { MAX_METADATA_BYTES, MAX_METADATA_MEMBERS, MAX_METADATA_STRING } from "../config";

/**
 * The rules of custom claims (contract "Custom claims"), shared by metadata, APIs' `token_claims`
 * and the issuance hook's answers: what a name, a value and a set of them may be, which names
 * are Keymint's, and which sources a mapping may name. Pure: no env, no storage.
 */

/** Metadata members and custom claims alike: a lower-case letter, then up to 39 of a-z, 0-9 and _. */
export const CLAIM_NAME = /^[a-z][a-z0-9_]{0,39}$/;

/** Claims Keymint sets, or that a JWT library interprets: never a custom claim's name. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set(["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "client_id", "cid", "cnf", "org_id", "act", "azp"]);

type ClaimValue = string | number | boolean;
/** Metadata, and a set of custom claims: the same shape, the same limits. */
export type Metadata = Record<string, ClaimValue>;
export type Claims = Metadata;

/** At most this many claims per API's mapping (the contract). */
export const MAX_TOKEN_CLAIMS = 16;

/** The fixed sources a mapping may name; `<owner>.metadata.<name>` are the others. */
export const FIXED_SOURCES = [
  "organization.id",
  "organization.external_id",
  "organization.name",
  "account.id",
  "account.name",
  "credential.id",
  "credential.name",
] as const;
const METADATA_SOURCE = /^(organization|account|credential)\.metadata\.(.*)$/s;

export function isClaimSource(source: string): boolean {
  if ((FIXED_SOURCES as readonly string[]).includes(source)) return true;
  const metadata = METADATA_SOURCE.exec(source);
  return metadata !== null && CLAIM_NAME.test(metadata[2]!);
}

/** Metadata and claim mappings as D1 stores them: `{}` and null both clear one, stored as NULL. */
export const storedObject = (value: Record<string, unknown> | null | undefined) => (value == null || Object.keys(value).length === 0 ? null : JSON.stringify(value));

const jsonBytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).length;

/** Why a value is not metadata (or a set of claims), or null when it is. Reserved names are the caller's rule. */
export function metadataProblem(value: Record<string, unknown>, what = "metadata"): string | null {
  const names = Object.keys(value);
  if (names.length > MAX_METADATA_MEMBERS) return `${what} has at most ${MAX_METADATA_MEMBERS} members`;
  if (names.some((name) => !CLAIM_NAME.test(name))) return `${what} member names are a lower-case letter, then up to 39 of a-z, 0-9 and _`;
  // `constructor`, `toString`, ...: names every object already has, which code reading the object could mistake.
  const inherited = names.find((name) => name in Object.prototype);
  if (inherited !== undefined) return `${what} may not name ${inherited}, which every object has`;
  for (const member of Object.values(value)) {
    if (typeof member === "string") {
      if (member.length > MAX_METADATA_STRING) return `${what} strings are at most ${MAX_METADATA_STRING} characters`;
    } else if (!(typeof member === "boolean" || (typeof member === "number" && Number.isFinite(member)))) {
      return `${what} values are strings, numbers or booleans`;
    }
  }
  if (jsonBytes(value) > MAX_METADATA_BYTES) return `${what} is at most ${MAX_METADATA_BYTES} bytes as JSON`;
  return null;
}

/** What the owners of a credential offer a mapping: ids, names, external_id and metadata. */
interface ClaimSources {
  organization: { id: string; name: string; external_id: string | null; metadata: Metadata | null };
  account: { id: string; name: string; metadata: Metadata | null };
  credential: { id: string; name: string; metadata: Metadata | null };
}

/** The value a source names, or undefined when there is none (the claim is then left out). */
function valueOf(sources: ClaimSources, source: string): ClaimValue | undefined {
  const metadata = METADATA_SOURCE.exec(source);
  if (metadata) {
    const owner = sources[metadata[1] as keyof ClaimSources];
    return Object.hasOwn(owner.metadata ?? {}, metadata[2]!) ? owner.metadata![metadata[2]!] : undefined;
  }
  const [owner, field] = source.split(".") as [keyof ClaimSources, string];
  const value = (sources[owner] as Record<string, unknown>)[field];
  return typeof value === "string" ? value : undefined;
}

/** An API's mapping applied to a credential's sources: each claim whose source has a value. */
export function mappedClaims(tokenClaims: Record<string, string> | null | undefined, sources: ClaimSources): Claims {
  const claims: Claims = {};
  for (const [name, source] of Object.entries(tokenClaims ?? {})) {
    const value = valueOf(sources, source);
    if (value !== undefined) claims[name] = value;
  }
  return claims;
}

/** Whether a mapping names anything beyond the three ids (which every edge entry carries). */
export function needsNamesOrMetadata(tokenClaims: Record<string, string> | null | undefined): boolean {
  return Object.values(tokenClaims ?? {}).some((source) => !source.endsWith(".id"));
}

/**
 * A hook's `claims`, checked as untrusted input: a plain object of at most 16 members, names as
 * metadata's and none reserved, values strings, finite numbers or booleans, at most 1,024 bytes.
 * Anything else (a cycle, a function, a symbol, an array, a getter that throws) is a problem.
 */
export function checkedClaims(value: unknown): { ok: true; claims: Claims } | { ok: false; reason: string } {
  try {
    if (typeof value !== "object" || value === null || Array.isArray(value) || Object.getPrototypeOf(value) !== Object.prototype) {
      return { ok: false, reason: "claims is not a plain object" };
    }
    if (Object.getOwnPropertySymbols(value).length > 0) return { ok: false, reason: "claims has symbol keys" };
    // A copy of own enumerable members: nothing read twice, nothing inherited.
    const claims: Record<string, unknown> = {};
    for (const name of Object.keys(value)) claims[name] = (value as Record<string, unknown>)[name];
    const reserved = Object.keys(claims).find((name) => RESERVED_CLAIMS.has(name));
    if (reserved !== undefined) return { ok: false, reason: `claims names a reserved claim (${reserved})` };
    const problem = metadataProblem(claims, "claims");
    return problem === null ? { ok: true, claims: claims as Claims } : { ok: false, reason: problem };
  } catch {
    return { ok: false, reason: "claims could not be read" };
  }
}

/** The custom claims of a token's payload: every member that is not one of Keymint's. */
export function customClaimsOf(payload: Record<string, unknown>): Claims {
  const claims: Claims = {};
  for (const [name, value] of Object.entries(payload)) {
    if (RESERVED_CLAIMS.has(name) || !CLAIM_NAME.test(name)) continue;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") claims[name] = value;
  }
  return claims;
}
