import { base64urlDecode, base64urlEncode } from "../lib/crypto";

/**
 * Keyset pagination, newest first, on (time, id). A cursor names the last row of a page; the
 * next page is everything strictly older. New rows sort before any cursor, so pages never shift
 * under inserts. The cursor is opaque to clients: base64url of "time|id".
 */
export interface Position {
  time: string;
  id: string;
}

const TIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ID_RE = /^[a-z]{3,4}_[0-9A-Za-z]{16,40}$/;

export function encodeCursor(position: Position): string {
  return base64urlEncode(new TextEncoder().encode(`${position.time}|${position.id}`));
}

/** The position a cursor names, or null when it is not one of ours. */
export function decodeCursor(cursor: string): Position | null {
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64urlDecode(cursor));
    const [time, id, ...rest] = text.split("|");
    if (rest.length || !time || !id || !TIME_RE.test(time) || !ID_RE.test(id)) return null;
    return { time, id };
  } catch {
    return null;
  }
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

/** Rows were fetched with limit + 1: the extra row only says there is a next page. */
export function toPage<T>(rows: T[], limit: number, positionOf: (row: T) => Position): Page<T> {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, next_cursor: rows.length > limit && last ? encodeCursor(positionOf(last)) : null };
}
