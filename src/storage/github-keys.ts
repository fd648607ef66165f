import { guarded } from "./guarded";

/**
 * GitHub's secret-scanning public keys, cached in KV (binding REVOCATIONS) under one key:
 *
 *   github:secret-scanning-keys   {"checked_at": <ms>, "keys": [{"key_identifier", "key": PEM}]}
 *
 * `checked_at` is the last time the keys URL was asked, whether or not it answered: the service
 * asks it again at most once a minute (src/services/secret-scanning.ts). No TTL: a cache that
 * GitHub cannot refresh is still the best answer there is. docs/storage.md lists it.
 */
export const GITHUB_KEYS_KEY = "github:secret-scanning-keys";

export interface GithubPublicKey {
  key_identifier: string;
  /** PEM, SubjectPublicKeyInfo of an EC P-256 key. */
  key: string;
}

export interface GithubKeyCache {
  checked_at: number;
  keys: GithubPublicKey[];
}

export function readGithubKeys(kv: KVNamespace): Promise<GithubKeyCache | null> {
  return guarded("kv", () => kv.get<GithubKeyCache>(GITHUB_KEYS_KEY, "json"));
}

export async function writeGithubKeys(kv: KVNamespace, cache: GithubKeyCache): Promise<void> {
  await guarded("kv", () => kv.put(GITHUB_KEYS_KEY, JSON.stringify(cache)));
}
