/**
 * Which IP addresses the broker may connect to on behalf of a connector or a
 * per-server account. Private, loopback, link-local (cloud metadata lives at
 * 169.254.169.254 and fd00:ec2::254), CGNAT, multicast and reserved ranges
 * are refused — an attacker who types a hostname must not reach the broker's
 * own network (SSRF) — unless an operator allows a range with
 * BROKER_ALLOW_PRIVATE_HOSTS.
 */
import { isIP } from "node:net";
import { addressToBigInt, parseCidr, type Cidr } from "../config.js";

const BLOCKED: Cidr[] = [
  "0.0.0.0/8", // "this network"
  "10.0.0.0/8",
  "100.64.0.0/10", // CGNAT
  "127.0.0.0/8",
  "169.254.0.0/16", // link-local, cloud metadata
  "172.16.0.0/12",
  "192.0.0.0/24",
  "192.0.2.0/24",
  "192.88.99.0/24",
  "192.168.0.0/16",
  "198.18.0.0/15",
  "198.51.100.0/24",
  "203.0.113.0/24",
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, broadcast
  "::/128",
  "::1/128",
  "::ffff:0:0/96", // IPv4-mapped: checked as IPv4 below
  "64:ff9b::/96", // NAT64 can reach IPv4 private space
  "100::/64",
  "2001:db8::/32",
  "fc00::/7", // unique local (incl. fd00:ec2::254)
  "fe80::/10",
  "ff00::/8",
].map((text) => parseCidr(text)!);

function contains(cidr: Cidr, value: bigint, family: 4 | 6): boolean {
  if (cidr.family !== family) return false;
  const width = family === 4 ? 32 : 128;
  const shift = BigInt(width - cidr.bits);
  return value >> shift === cidr.network >> shift;
}

export class AddressPolicy {
  constructor(private readonly allowed: Cidr[]) {}

  /** Whether an IP address may be connected to. */
  permits(address: string): boolean {
    const family = isIP(address);
    if (family !== 4 && family !== 6) return false;
    let value = addressToBigInt(address, family);
    let fam: 4 | 6 = family;
    // ::ffff:a.b.c.d is the IPv4 address a.b.c.d.
    if (family === 6 && value >> 32n === 0xffffn) {
      value &= 0xffffffffn;
      fam = 4;
    }
    if (this.allowed.some((c) => contains(c, value, fam))) return true;
    return !BLOCKED.some((c) => contains(c, value, fam));
  }
}
