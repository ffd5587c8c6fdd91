/**
 * Which IP addresses the broker may connect to on behalf of a connector or a
 * per-server account: only globally reachable unicast addresses — an
 * attacker who types a hostname must not reach the broker's own network, its
 * loopback or the cloud metadata service (SSRF) — unless an operator allows a
 * range with BROKER_ALLOW_PRIVATE_HOSTS.
 */
import { CidrList } from "./cidr-list.js";

/**
 * The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and
 * the RFCs that added to them), walked entry by entry: every block that is
 * not globally reachable, or whose IPv6 address embeds an IPv4 address the
 * broker would reach through a translator or tunnel (NAT64, 6to4, Teredo:
 * `64:ff9b::127.0.0.1` can be loopback or the metadata service behind the
 * translator). Entries outside 2000::/3 are refused by IPV6_GLOBAL_UNICAST
 * too; they are listed so this table reads against the registries.
 *
 * Never list `::ffff:0:0/96` (IPv4-mapped) here: BlockList reads it as all
 * of IPv4. Mapped addresses are checked as the IPv4 address they name.
 */
const NOT_GLOBALLY_REACHABLE = CidrList.of([
  "0.0.0.0/8", // "this network" (RFC 791)
  "10.0.0.0/8", // private (RFC 1918)
  "100.64.0.0/10", // shared address space, CGNAT (RFC 6598)
  "127.0.0.0/8", // loopback (RFC 1122)
  "169.254.0.0/16", // link-local (RFC 3927): cloud metadata at 169.254.169.254
  "172.16.0.0/12", // private (RFC 1918)
  // IETF protocol assignments (RFC 6890): DS-Lite (RFC 7335), NAT64 discovery (RFC 7050); its two anycast /32s are no upstream
  "192.0.0.0/24",
  "192.0.2.0/24", // documentation, TEST-NET-1 (RFC 5737)
  "192.88.99.0/24", // 6to4 relay anycast, deprecated (RFC 7526)
  "192.168.0.0/16", // private (RFC 1918)
  "198.18.0.0/15", // benchmarking (RFC 2544)
  "198.51.100.0/24", // documentation, TEST-NET-2 (RFC 5737)
  "203.0.113.0/24", // documentation, TEST-NET-3 (RFC 5737)
  "224.0.0.0/4", // multicast (RFC 5771)
  "240.0.0.0/4", // reserved (RFC 1112), with limited broadcast 255.255.255.255 (RFC 919)

  "::/128", // unspecified (RFC 4291)
  "::1/128", // loopback (RFC 4291)
  "::/96", // IPv4-compatible ::a.b.c.d, deprecated (RFC 4291 §2.5.5.1)
  "::ffff:0:0:0/96", // IPv4-translated ::ffff:0:a.b.c.d (RFC 2765 §2.1)
  "64:ff9b::/96", // NAT64 well-known prefix (RFC 6052): reaches any IPv4 address, private ones too
  "64:ff9b:1::/48", // NAT64 local-use prefix (RFC 8215)
  "100::/64", // discard-only (RFC 6666)
  "100:0:0:1::/64", // dummy prefix for prefix-based operations (IANA registry, 2025)
  // IETF protocol assignments (RFC 2928), refused whole: Teredo 2001::/32 (RFC 4380), benchmarking 2001:2::/48
  // (RFC 5180), ORCHID 2001:10::/28 (RFC 4843), ORCHIDv2 2001:20::/28 (RFC 7343), DETs 2001:30::/28 (RFC 9374);
  // the rest are anycast services (PCP, TURN, AMT, AS112), never an upstream's web server.
  "2001::/23",
  "2001:db8::/32", // documentation (RFC 3849)
  "2002::/16", // 6to4 (RFC 3056): 2002:AABB:CCDD:: reaches IPv4 AA.BB.CC.DD through a relay
  "3fff::/20", // documentation (RFC 9637)
  "5f00::/16", // SRv6 SIDs (RFC 9602)
  "fc00::/7", // unique local (RFC 4193): AWS metadata at fd00:ec2::254
  "fe80::/10", // link-local (RFC 4291)
  "ff00::/8", // multicast (RFC 4291)
]);

/** Every IPv4 address, in either notation. */
const IPV4 = CidrList.of(["0.0.0.0/0"]);

/**
 * IPv6 global unicast (RFC 4291 §2.4, the IANA IPv6 Address Space
 * registry). All other IPv6 space is reserved by the IETF, unique-local,
 * link-local or multicast, including unassigned addresses next to the
 * special-purpose blocks (`64:ff9b::ffff:7f00:1` is just outside NAT64's /96).
 */
const IPV6_GLOBAL_UNICAST = CidrList.of(["2000::/3"]);

export class AddressPolicy {
  constructor(private readonly allowed: CidrList) {}

  /** Whether an IP address may be connected to; anything that is not an IP address may not. */
  permits(address: string): boolean {
    if (this.allowed.includes(address)) return true;
    if (NOT_GLOBALLY_REACHABLE.includes(address)) return false;
    return IPV4.includes(address) || IPV6_GLOBAL_UNICAST.includes(address);
  }
}
