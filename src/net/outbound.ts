/**
 * SSRF-safe outbound HTTP for everything the broker sends upstream (token
 * requests, identity lookups, discovery, the proxy). A hostname is resolved
 * once and every address it resolves to must pass the AddressPolicy; the
 * connection then goes to that checked address (undici's `connect.lookup`
 * answers with it), so DNS cannot change between the check and the connect
 * (no DNS-rebinding window). TLS still verifies the certificate for the
 * hostname. Connections are pooled per origin and address, with keep-alive.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
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

export interface OutboundOptions {
  connectTimeoutMs?: number;
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /** How long a resolved address is trusted before the next request re-resolves. */
  resolveCacheMs?: number;
}

export class Outbound {
  private readonly agents = new Map<string, Agent>();
  private readonly resolved = new Map<string, { checked: CheckedAddress; at: number }>();

  constructor(
    private readonly policy: AddressPolicy,
    private readonly options: OutboundOptions = {},
  ) {}

  /** Resolves a hostname and checks every address; returns the one to connect to. */
  async resolve(hostname: string): Promise<CheckedAddress> {
    const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
    const literal = isIP(bare);
    if (literal === 4 || literal === 6) {
      if (!this.policy.permits(bare)) throw new ForbiddenHostError(`${hostname} is a private or reserved address`);
      return { address: bare, family: literal };
    }
    const cached = this.resolved.get(bare);
    if (cached && Date.now() - cached.at < (this.options.resolveCacheMs ?? 60_000)) return cached.checked;
    let answers: { address: string; family: number }[];
    try {
      answers = await lookup(bare, { all: true, verbatim: true });
    } catch (cause) {
      throw new UpstreamError(`${hostname} could not be resolved`, { cause });
    }
    // Every answer must be allowed: a mix of public and private answers is a rebinding trick.
    const refused = answers.find((a) => !this.policy.permits(a.address));
    if (refused || answers.length === 0) throw new ForbiddenHostError(`${hostname} resolves to a private or reserved address`);
    const checked = { address: answers[0]!.address, family: answers[0]!.family as 4 | 6 };
    this.resolved.set(bare, { checked, at: Date.now() });
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
          // Node asks for every address (`all`) when it may race IPv4/IPv6 (autoSelectFamily).
          lookup: (_hostname, opts, callback) =>
            (opts as { all?: boolean }).all
              ? (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: checked.address, family: checked.family }])
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
    return (await undiciFetch(url, { ...(rest as object), redirect: "manual", dispatcher: this.dispatcherFor(url.origin, checked) } as never)) as unknown as Response;
  };

  async close(): Promise<void> {
    await Promise.allSettled([...this.agents.values()].map((a) => a.close()));
    this.agents.clear();
  }
}
