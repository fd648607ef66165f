import ipaddr from "ipaddr.js";

/**
 * Where a webhook may be delivered (contract "Webhooks"): at most 2,048 characters, https, and a
 * public host: no `localhost` (or a name under it), and no IP literal in a private, loopback,
 * link-local or otherwise non-public range, in any spelling. The WHATWG URL parser already turns
 * every IPv4 spelling (`127.1`, `0x7f.0.0.1`, `2130706433`) into dotted decimal and IPv6 into its
 * compressed form, so the range is checked on what `fetch` would connect to. With insecure URLs
 * allowed (`npm run dev`), http and any host are fine.
 */

export const MAX_WEBHOOK_URL_LENGTH = 2_048;

/** The problem with a URL, or null when a webhook may be sent there. */
export function webhookUrlProblem(text: string, allowInsecure: boolean): string | null {
  if (text.length > MAX_WEBHOOK_URL_LENGTH) return `url is at most ${MAX_WEBHOOK_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return "url is not a URL";
  }
  if (url.username || url.password) return "url may not carry a user name or password";
  if (url.hash) return "url may not have a fragment";
  if (allowInsecure) return url.protocol === "https:" || url.protocol === "http:" ? null : "url must be http or https";
  if (url.protocol !== "https:") return "url must be https";
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return "url may not name localhost";
  const literal = host.startsWith("[") ? host.slice(1, -1) : host;
  if (ipaddr.isValid(literal)) {
    let address = ipaddr.parse(literal);
    if (address.kind() === "ipv6") {
      const v6 = address as ipaddr.IPv6;
      // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (the old "compatible" form) carry an IPv4 address.
      const words = v6.parts;
      const compatible = words.slice(0, 6).every((word) => word === 0) && (words[6] !== 0 || words[7]! > 1);
      if (v6.isIPv4MappedAddress() || compatible) address = ipaddr.IPv4.parse(`${words[6]! >> 8}.${words[6]! & 255}.${words[7]! >> 8}.${words[7]! & 255}`);
    }
    if (address.range() !== "unicast") return "url may not name a private, loopback, link-local or reserved address";
  } else if (!/^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host) || !host.includes(".")) {
    return "url must name a public host";
  }
  return null;
}
