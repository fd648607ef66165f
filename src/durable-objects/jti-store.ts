import { DurableObject } from "cloudflare:workers";

/**
 * Single-use ids (a client assertion's or a DPoP proof's `jti`), strongly consistent everywhere
 * at once: one Durable Object per scope (a client_id, or a DPoP key's thumbprint and endpoint),
 * its SQLite storage holding each id until it expires. KV cannot do this (no compare-and-set,
 * about a minute to propagate): a replay sent to another location a millisecond later reaches
 * this same object and is refused.
 *
 * Storage stays bounded whatever arrives: an alarm is set for the earliest expiry whenever an id
 * is stored, and it deletes every id whose window has passed; once none is left the object
 * deletes all its storage (and so holds nothing), rather than waiting for a later claim that may
 * never come (a DPoP key used once).
 */
export class JtiStore extends DurableObject<Env> {
  /**
   * Claims `jti` until `expiresAt` (unix seconds): true the first time, false for a replay.
   * An object runs one call at a time and nothing here awaits before the insert, so of two
   * parallel claims exactly one wins.
   */
  claim(jti: string, expiresAt: number): boolean {
    const now = nowSeconds();
    const sql = this.ctx.storage.sql;
    // Created on demand: the alarm deletes the whole database once it is empty.
    sql.exec("CREATE TABLE IF NOT EXISTS used (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) STRICT");
    if (sql.exec("SELECT 1 FROM used WHERE jti = ? AND expires_at >= ?", jti, now).toArray().length > 0) return false;
    const earliest = sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM used").one().at;
    const until = Math.max(expiresAt, now);
    sql.exec("INSERT OR REPLACE INTO used (jti, expires_at) VALUES (?, ?)", jti, until);
    // Invariant: while any id is stored, an alarm is set no later than just after the earliest expiry.
    if (earliest === null || until < earliest) void this.ctx.storage.setAlarm(alarmTime(until));
    return true;
  }

  /** Deletes the ids whose window has passed; with none left, all storage; else waits for the next. */
  override async alarm(): Promise<void> {
    const sql = this.ctx.storage.sql;
    const exists = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'used'").toArray().length > 0;
    if (exists) {
      sql.exec("DELETE FROM used WHERE expires_at < ?", nowSeconds());
      const next = sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM used").one().at;
      if (next !== null) {
        await this.ctx.storage.setAlarm(alarmTime(next));
        return;
      }
    }
    await this.ctx.storage.deleteAll();
  }
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** The first moment at which an id valid through `expiresAt` (whole seconds, inclusive) has expired. */
const alarmTime = (expiresAt: number) => (expiresAt + 1) * 1000;
