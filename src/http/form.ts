import type { Context } from "hono";
import { ApiError } from "./errors";
import type { AppEnv } from "./types";

/** A decoder without state between calls (no `stream`), so one serves every request. */
const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

/** Form bodies (the OAuth endpoints, the console) are small; anything bigger is refused. */
export const MAX_FORM_BYTES = 8 * 1024;

/**
 * Reads an application/x-www-form-urlencoded body strictly (RFC 6749 §3.2, §4.4.2): the right
 * content type, valid percent-encoding and UTF-8, and no parameter twice. The OAuth endpoints
 * and the console's forms both read their bodies here.
 */
export async function readForm(c: Context<AppEnv>, maxBytes = MAX_FORM_BYTES): Promise<Map<string, string>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\s*(;|$)/i.test(type.trim())) {
    throw new ApiError("invalid_request", "Send the body as application/x-www-form-urlencoded.");
  }
  const bytes = await c.req.arrayBuffer();
  if (bytes.byteLength > maxBytes) throw new ApiError("payload_too_large", `The body is larger than ${maxBytes} bytes.`);
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
    // Only percent-encoding can hide bytes that are not UTF-8; most token requests have none.
    if (text.includes("%")) {
      if (/%(?![0-9A-Fa-f]{2})/.test(text)) throw new Error("bad percent-encoding");
      decodeURIComponent(text.replaceAll("+", " ")); // throws on percent-encoded bytes that are not UTF-8
    }
  } catch {
    throw new ApiError("invalid_request", "The body is not valid form encoding.");
  }
  const form = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (form.has(name)) {
      // RFC 8707 §2: a token names at most one resource here; several are an invalid target.
      if (name === "resource") throw new ApiError("invalid_target", "Name at most one resource.");
      throw new ApiError("invalid_request", `Parameter ${safeName(name)} is repeated.`);
    }
    form.set(name, value);
  }
  return form;
}

function safeName(name: string): string {
  return /^[a-z_]{1,32}$/.test(name) ? name : "(unnamed)";
}
