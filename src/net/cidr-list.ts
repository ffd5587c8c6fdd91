/**
 * Lists of CIDR blocks (`127.0.0.0/8`, `::1/128`): the ranges an operator
 * allows in BROKER_ALLOW_PRIVATE_HOSTS and the reserved space the address
 * policy refuses, matched by node:net BlockList.
 *
 * BlockList reads an IPv4 address and its IPv4-mapped IPv6 form
 * (`::ffff:a.b.c.d` or `::ffff:7f00:1`, RFC 4291 §2.5.5.2) as one address,
 * in both directions: `::ffff:127.0.0.1` is inside `127.0.0.0/8`, and an IPv6
 * block that contains `::ffff:0:0/96` (such as `::/0`) contains every IPv4
 * address. Other IPv6 forms that embed an IPv4 address (`::a.b.c.d`,
 * `64:ff9b::a.b.c.d`) are IPv6 addresses of their own, outside every IPv4 block.
 */
import { BlockList, isIP } from "node:net";
import { LRUCache } from "lru-cache";

/** One block, as written and as BlockList takes it. */
export interface Cidr {
  text: string;
  address: string;
  prefix: number;
  family: "ipv4" | "ipv6";
}

/** `10.0.0.0/8`, `::1/128`, or a bare address (a block of one); undefined for anything else. */
export function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split("/");
  if (address === undefined || extra !== undefined) return undefined;
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (prefix > max) return undefined;
  return { text, address, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}

/** Addresses whose answer each list remembers (per list; the lists never change once built). */
const REMEMBERED_ADDRESSES = 1_024;

export class CidrList {
  private readonly blocks = new BlockList();
  /**
   * Answers already given. BlockList.check makes a SocketAddress per call (a
   * native object, ~2 µs), and the proxy asks about the same few upstream
   * addresses on every call (docs/architecture.md, "hand-written for speed").
   */
  private readonly answers = new LRUCache<string, boolean>({ max: REMEMBERED_ADDRESSES });

  constructor(readonly cidrs: readonly Cidr[]) {
    for (const cidr of cidrs) this.blocks.addSubnet(cidr.address, cidr.prefix, cidr.family);
  }

  /** A list written in the code: a block that does not parse is a programming mistake. */
  static of(texts: readonly string[]): CidrList {
    return new CidrList(
      texts.map((text) => {
        const cidr = parseCidr(text);
        if (!cidr) throw new TypeError(`${JSON.stringify(text)} is not a CIDR block`);
        return cidr;
      }),
    );
  }

  /** Whether an IP address lies in one of the blocks; a string that is not an IP address never does. */
  includes(address: string): boolean {
    const known = this.answers.get(address);
    if (known !== undefined) return known;
    const family = isIP(address);
    const inside = family !== 0 && this.blocks.check(address, family === 4 ? "ipv4" : "ipv6");
    this.answers.set(address, inside);
    return inside;
  }
}
