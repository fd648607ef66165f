import { createRemoteJWKSet, customFetch, jwtVerify } from "jose";

/**
 * Cloudflare Access: when CF_ACCESS_TEAM_DOMAIN and CF_ACCESS_AUD are set, a request that carries
 * a valid `Cf-Access-Jwt-Assertion` is an admin, and the email in it is the audit actor.
 * Keys come from <team domain>/cdn-cgi/access/certs, cached per isolate by jose; an unknown
 * kid triggers a refetch, at most once per ACCESS_JWKS_COOLDOWN_MS.
 */

export const ACCESS_JWKS_COOLDOWN_MS = 30_000;
export const ACCESS_JWKS_MAX_AGE_MS = 10 * 60_000;

export interface AccessConfig {
  teamDomain: string;
  audience: string;
}

/** Access settings from the vars, or null when Access is not configured. */
export function accessConfig(env: Env): AccessConfig | null {
  const domain = env.CF_ACCESS_TEAM_DOMAIN?.trim();
  const audience = env.CF_ACCESS_AUD?.trim();
  if (!domain || !audience) return null;
  const teamDomain = (domain.startsWith("https://") ? domain : `https://${domain}`).replace(/\/+$/, "");
  return { teamDomain, audience };
}

let remote: { teamDomain: string; keys: ReturnType<typeof createRemoteJWKSet> } | undefined;

function accessKeys(teamDomain: string) {
  if (remote?.teamDomain !== teamDomain) {
    remote = {
      teamDomain,
      keys: createRemoteJWKSet(new URL(`${teamDomain}/cdn-cgi/access/certs`), {
        cooldownDuration: ACCESS_JWKS_COOLDOWN_MS,
        cacheMaxAge: ACCESS_JWKS_MAX_AGE_MS,
        // Resolved at call time, so the Worker's current fetch is used.
        [customFetch]: (url, options) => fetch(url, options as RequestInit),
      }),
    };
  }
  return remote.keys;
}

/** The email of a valid Access JWT, or null. Never throws for a bad token. */
export async function verifyAccessJwt(config: AccessConfig, token: string): Promise<string | null> {
  try {
    const { payload } = await jwtVerify(token, accessKeys(config.teamDomain), {
      issuer: config.teamDomain,
      audience: config.audience,
      algorithms: ["RS256", "ES256"],
    });
    return typeof payload.email === "string" && payload.email ? payload.email : null;
  } catch {
    return null;
  }
}
