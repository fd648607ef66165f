import { all, commit } from "./d1";
import { guarded } from "./guarded";

export interface SigningKeyRow {
  kid: string;
  generation: number;
  /** The public JWK as JSON (kty, crv, x, y). */
  public_jwk: string;
  /** base64url(iv || AES-GCM ciphertext of the PKCS#8 private key), under KEY_ENCRYPTION_KEY. */
  encrypted_private_key: string;
  /** Unix seconds: published in the JWKS from here. */
  created_at: number;
  /** Unix seconds: signs from here until the next generation activates. */
  activates_at: number;
}

const COLUMNS = "kid, generation, public_jwk, encrypted_private_key, created_at, activates_at";

/** All keys, oldest generation first. The table holds a handful of rows at most. */
export function listSigningKeys(db: D1Database): Promise<SigningKeyRow[]> {
  return all<SigningKeyRow>(db.prepare(`SELECT ${COLUMNS} FROM signing_keys ORDER BY generation`));
}

/**
 * Inserts a key unless its generation is taken: when isolates or crons race to create the
 * same generation, exactly one row wins and everyone reads that one back.
 */
export async function insertSigningKeyIfFree(db: D1Database, row: SigningKeyRow): Promise<void> {
  await commit(db, [
    db
      .prepare(`INSERT INTO signing_keys (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (generation) DO NOTHING`)
      .bind(row.kid, row.generation, row.public_jwk, row.encrypted_private_key, row.created_at, row.activates_at),
  ]);
}

export async function deleteSigningKeys(db: D1Database, kids: string[]): Promise<void> {
  if (kids.length === 0) return;
  await commit(
    db,
    kids.map((kid) => db.prepare("DELETE FROM signing_keys WHERE kid = ?").bind(kid)),
  );
}

/**
 * The same rows in KV (binding REVOCATIONS, key `signing-keys`), so that a new isolate signs and
 * verifies without a D1 read. The private keys stay sealed under KEY_ENCRYPTION_KEY there too.
 * Written after every change to the table; D1 stays the authority.
 */
const EDGE_KEY = "signing-keys";

export function readEdgeSigningKeys(kv: KVNamespace): Promise<SigningKeyRow[] | null> {
  return guarded("kv", () => kv.get<SigningKeyRow[]>(EDGE_KEY, "json"));
}

export async function writeEdgeSigningKeys(kv: KVNamespace, rows: SigningKeyRow[]): Promise<void> {
  await guarded("kv", () => kv.put(EDGE_KEY, JSON.stringify(rows)));
}
