/**
 * SSRF-safe outbound HTTP for everything the broker sends upstream (token
 * requests, identity lookups, discovery, the proxy). A hostname is resolved
 * once and every address it resolves to must pass the AddressPolicy; the
 * connection then goes to that checked address (undici's `connect.lookup`
 * answers with it), so DNS cannot change between the check and the connect
 * (no DNS-rebinding window). TLS still verifies the certificate for the
 * hostname. Connections are pooled per origin and address, with keep-alive.
 *
 * Both caches are bounded: per-server hostnames are typed by end users who
 * need not be signed in, so every distinct name would otherwise leave a DNS
 * answer and a connection pool behind for the life of the process.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { rootCertificates } from "node:tls";
import { LRUCache } from "lru-cache";
import { Agent, fetch as undiciFetch, type Dispatcher } from "undici";
import { UpstreamError } from "../errors.js";
import type { AddressPolicy } from "./address-policy.js";

export interface CheckedAddress {
  address: string;
  family: 4 | 6;
}

/** A host that resolves to an address the broker may not connect to. */
export class ForbiddenHostError extends UpstreamError {
  override name = "ForbiddenHostError";
}

/** Every address a hostname resolves to, as `dns.lookup` with `all` answers. */
export type LookupAll = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface OutboundOptions {
  /** @defaultValue 10 000 ms */
  connectTimeoutMs?: number;
  /** @defaultValue 30 000 ms */
  headersTimeoutMs?: number;
  /** @defaultValue 60 000 ms */
  bodyTimeoutMs?: number;
  /** How long a resolved address is trusted before the next request re-resolves. @defaultValue 60 000 ms */
  resolveCacheMs?: number;
  /** Hostnames whose checked answer is remembered; the least recently used is forgotten first. @defaultValue 10 000 */
  maxResolved?: number;
  /** Connection pools (one per origin and address) kept open; the least recently used is closed first. @defaultValue 256 */
  maxAgents?: number;
  /** How hostnames are resolved. @defaultValue node:dns lookup, every address, in the resolver's order */
  lookup?: LookupAll;
  /** Certificate authorities (PEM) trusted beside Node's built-in roots (BROKER_OUTBOUND_CA_FILE). */
  extraCa?: string;
}

const systemLookup: LookupAll = (hostname) => lookup(hostname, { all: true, verbatim: true });

export class Outbound {
  private readonly agents: LRUCache<string, Agent>;
  private readonly resolved: LRUCache<string, CheckedAddress>;
  private readonly lookup: LookupAll;
  /** Node's roots plus the operator's, when there are any: `ca` replaces the roots, so both are given. */
  private readonly ca: string[] | undefined;

  constructor(
    private readonly policy: AddressPolicy,
    private readonly options: OutboundOptions = {},
  ) {
    // Asked on every proxied call: the clock read on each lookup rather than cached behind a timer (account-cache.ts).
    this.resolved = new LRUCache({ max: options.maxResolved ?? 10_000, ttl: options.resolveCacheMs ?? 60_000, ttlResolution: 0 });
    this.agents = new LRUCache({
      max: options.maxAgents ?? 256,
      // undici's close() lets the requests in flight on an evicted pool finish, then closes its sockets;
      // it rejects only for a pool already destroyed, which has nothing left to close.
      dispose: (agent) => void agent.close().catch(() => undefined),
    });
    this.lookup = options.lookup ?? systemLookup;
    this.ca = options.extraCa ? [...rootCertificates, options.extraCa] : undefined;
  }

  /**
   * The address to connect to when it is known without a lookup: an allowed
   * address literal, or a checked answer still cached. Undefined otherwise
   * (`resolve` looks it up, or refuses it). The proxy asks this first so that
   * its common call needs no turn of the event loop here.
   */
  checkedNow(hostname: string): CheckedAddress | undefined {
    const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    const literal = isIP(bare);
    if (literal === 4 || literal === 6) return this.policy.permits(bare) ? { address: bare, family: literal } : undefined;
    return this.resolved.get(bare);
  }

  /** Resolves a hostname and checks every address; returns the one to connect to. */
  async resolve(hostname: string): Promise<CheckedAddress> {
    const known = this.checkedNow(hostname);
    if (known) return known;
    const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    if (isIP(bare) !== 0) throw new ForbiddenHostError(`${hostname} is a private or reserved address`);
    let answers: { address: string; family: number }[];
    try {
      answers = await this.lookup(bare);
    } catch (cause) {
      throw new UpstreamError(`${hostname} could not be resolved`, { cause });
    }
    // Every answer must be allowed: a mix of public and private answers is a rebinding trick.
    const refused = answers.find((a) => !this.policy.permits(a.address));
    if (refused || answers.length === 0) throw new ForbiddenHostError(`${hostname} resolves to a private or reserved address`);
    const checked = { address: answers[0]!.address, family: answers[0]!.family as 4 | 6 };
    this.resolved.set(bare, checked);
    return checked;
  }

  /** A keep-alive pool that always connects to `checked`, whatever DNS says later. */
  dispatcherFor(origin: string, checked: CheckedAddress): Dispatcher {
    const key = `${origin}|${checked.address}`;
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new Agent({
        connect: {
          timeout: this.options.connectTimeoutMs ?? 10_000,
          ...(this.ca ? { ca: this.ca } : {}),
          // Node asks for every address (`all`) when it may race IPv4/IPv6 (autoSelectFamily).
          lookup: (_hostname, opts, callback) =>
            (opts as { all?: boolean }).all
              ? (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
                  { address: checked.address, family: checked.family },
                ])
              : callback(null, checked.address, checked.family),
        },
        headersTimeout: this.options.headersTimeoutMs ?? 30_000,
        bodyTimeout: this.options.bodyTimeoutMs ?? 60_000,
        keepAliveTimeout: 30_000,
        connections: 64,
      });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /**
   * A fetch that checks the destination first and connects to the checked
   * address. Redirects are not followed (a redirect could point inside).
   * `pinned` forces a previously checked address (per-server accounts).
   */
  fetch = async (input: string | URL, init: RequestInit & { pinned?: CheckedAddress } = {}): Promise<Response> => {
    const url = new URL(input);
    if (url.protocol !== "https:" && url.protocol !== "http:") throw new ForbiddenHostError(`${url.protocol} URLs are not allowed`);
    const checked = init.pinned ?? (await this.resolve(url.hostname));
    const { pinned: _pinned, ...rest } = init;
    return (await undiciFetch(url, {
      ...(rest as object),
      redirect: "manual",
      dispatcher: this.dispatcherFor(url.origin, checked),
    } as never)) as unknown as Response;
  };

  async close(): Promise<void> {
    const closing = [...this.agents.values()].map((agent) => agent.close());
    this.agents.clear();
    await Promise.allSettled(closing);
  }
}
