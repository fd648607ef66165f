/** Parsing of the Authorization header, shared by every route that reads one. */

/** Longest Authorization value we look at; anything longer is not one of ours. */
export const MAX_AUTHORIZATION_LENGTH = 4096;

/**
 * The credentials of `Authorization: <scheme> <credentials>` when the scheme matches
 * (case-insensitively, RFC 9110 §11.1). null when absent, another scheme, or malformed.
 */
export function authorizationCredentials(headers: Headers, scheme: "Bearer" | "Basic" | "DPoP"): string | null {
  const value = headers.get("authorization");
  if (value === null || value.length > MAX_AUTHORIZATION_LENGTH) return null;
  const match = /^([A-Za-z]+) +(\S+) *$/.exec(value);
  if (!match || match[1]!.toLowerCase() !== scheme.toLowerCase()) return null;
  return match[2]!;
}
