import { DurableObject } from "cloudflare:workers";

/**
 * Single-use ids (a client assertion's or a DPoP proof's `jti`), strongly consistent everywhere
 * at once: one Durable Object per scope (a client_id, or a DPoP key's thumbprint and endpoint),
 * its SQLite storage holding each id until it expires. KV cannot do this (no compare-and-set,
 * about a minute to propagate): a replay sent to another location a millisecond later reaches
 * this same object and is refused.
 */
export class JtiStore extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS used (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) STRICT");
  }

  /**
   * Claims `jti` until `expiresAt` (unix seconds): true the first time, false for a replay.
   * An object runs one call at a time, so of two parallel claims exactly one wins.
   */
  claim(jti: string, expiresAt: number): boolean {
    const now = Math.floor(Date.now() / 1000);
    const sql = this.ctx.storage.sql;
    sql.exec("DELETE FROM used WHERE expires_at < ?", now);
    if (sql.exec("SELECT 1 FROM used WHERE jti = ?", jti).toArray().length > 0) return false;
    sql.exec("INSERT INTO used (jti, expires_at) VALUES (?, ?)", jti, Math.max(expiresAt, now));
    return true;
  }
}
