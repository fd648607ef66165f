import { MAX_IDENTIFIER_LENGTH } from "../config";

/**
 * API identifiers (RFC 8707 resource indicators): absolute URIs, compared byte for byte (no
 * normalisation), stored as given. An API's identifier must be https, or http on localhost.
 */

const CONTROL_OR_SPACE = /[\u0000-\u0020\u007F-\u009F]/;

/** An absolute URI with a scheme and no fragment (RFC 8707 §2). */
export function isAbsoluteUri(value: string): boolean {
  if (value.length === 0 || value.length > MAX_IDENTIFIER_LENGTH || CONTROL_OR_SPACE.test(value) || value.includes("#")) return false;
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

const LOCAL_HOSTS = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** What an API's identifier may be: an absolute https URI (http only for localhost), no fragment. */
export function isApiIdentifier(value: string): boolean {
  if (!isAbsoluteUri(value)) return false;
  const url = new URL(value);
  if (url.username || url.password) return false;
  return url.protocol === "https:" ? url.hostname !== "" : url.protocol === "http:" && LOCAL_HOSTS.has(url.hostname);
}
