import ipaddr from "ipaddr.js";

/**
 * IP allowlists: IPv4 and IPv6 CIDRs, parsed with ipaddr.js (a small, long-maintained library
 * with no dependencies, used by Express's proxy-addr; it runs as plain JavaScript in Workers).
 *
 * Strict on what an admin may store: dotted-quad IPv4 only (ipaddr.js also reads "127.1" or
 * "2130706433", which no allowlist should contain), a mask within the family's bits, and no
 * host bits set ("10.1.2.3/8" is refused: it almost always means a typo). An address without a
 * mask is one host (/32 or /128). An IPv4-mapped IPv6 range or a zone id is refused with the
 * form to write instead. Lenient on what it matches: an IPv4-mapped IPv6 address
 * (`::ffff:203.0.113.7`) is the IPv4 address it carries.
 */

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Why a CIDR is refused, or null when it is fine. */
export function cidrProblem(text: string): string | null {
  if (text.length > 64) return "is too long";
  const [address, mask, ...rest] = text.split("/");
  if (address === undefined || rest.length > 0 || address === "") return "is not an IPv4 or IPv6 CIDR";
  // A zone id names a local interface; Cloudflare never reports one, so it could never match.
  if (address.includes("%")) return "has a zone id (%…): give the address without it";
  const v4 = ipaddr.IPv4.isValidFourPartDecimal(address);
  if (!v4 && !(ipaddr.IPv6.isValid(address) && address.includes(":"))) return "is not an IPv4 or IPv6 address";
  const bits = v4 ? 32 : 128;
  if (mask !== undefined && !/^(0|[1-9][0-9]{0,2})$/.test(mask)) return "has a malformed mask";
  const prefix = mask === undefined ? bits : Number(mask);
  if (prefix > bits) return `has a mask over /${bits}`;
  const cidr = `${address}/${prefix}`;
  const network = v4 ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  if (network.toNormalizedString() !== ipaddr.parse(address).toNormalizedString()) return "has host bits set";
  // Callers' IPv4-mapped addresses are matched as IPv4, so such a range would never match: ask for the IPv4 form.
  if (!v4 && ipaddr.IPv6.parse(address).isIPv4MappedAddress()) {
    const ipv4 = ipaddr.IPv6.parse(address).toIPv4Address().toString();
    return prefix >= 96 ? `is IPv4-mapped IPv6: write it as ${ipv4}/${prefix - 96}` : "is IPv4-mapped IPv6 with a mask under /96: write the IPv4 range instead";
  }
  return null;
}

const parsed = new Map<string, Range>();

function rangeOf(cidr: string): Range {
  let range = parsed.get(cidr);
  if (!range) {
    range = cidr.includes("/") ? ipaddr.parseCIDR(cidr) : [ipaddr.parse(cidr), cidr.includes(":") ? 128 : 32];
    if (parsed.size > 10_000) parsed.clear();
    parsed.set(cidr, range);
  }
  return range;
}

/** Whether `ip` (as Cloudflare reports it) is inside any of the (already validated) CIDRs. */
export function ipAllowed(ip: string | null, cidrs: readonly string[]): boolean {
  if (ip === null || !ipaddr.isValid(ip)) return false;
  const address = ipaddr.process(ip); // an IPv4-mapped IPv6 address becomes IPv4
  return cidrs.some((cidr) => {
    const [network, prefix] = rangeOf(cidr);
    return network.kind() === address.kind() && address.match(network as never, prefix);
  });
}
