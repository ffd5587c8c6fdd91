/**
 * An upstream API with a rate limit of its own, as real ones have, for the
 * proxy's outbound rate control (docs/proxy.md, "Upstream rate limits"): at
 * most `limit` requests per window of `windowMs`, the window starting at
 * the first request after the previous one ended (as GitHub's hour starts
 * at your first call); past it, 429 with `Retry-After`,
 * `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset` (epoch seconds).
 *
 * With `advertise`, every answer carries `X-RateLimit-Limit/Remaining/Reset`
 * (so the limit-th answer says 0 remaining). Paths:
 *
 *   GET /exhaust?seconds=N    200 with X-RateLimit-Remaining: 0, reset N seconds from now (nothing is counted against the window)
 *   GET /throttle?seconds=N   429 with Retry-After: N
 *   ANY other                 200 `{ n }`, counted against the window
 *
 * It records each request's arrival time and the account's API key, so a
 * test can count arrivals in any window, not only the upstream's own.
 */
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface RateLimitedUpstreamOptions {
  limit: number;
  windowMs: number;
  advertise?: boolean;
}

export interface RateLimitedUpstream {
  url: string;
  /** Arrival times (ms) and the `X-Api-Key` of every request, in order. */
  readonly arrivals: { at: number; key: string | undefined; path: string }[];
  /** Requests answered 429 because they were over the limit (not `/throttle`). */
  readonly refused: number;
  /** The most requests any of the upstream's own windows saw. */
  readonly maxPerWindow: number;
  /** The most arrivals in any span of `ms` (a stricter count than the upstream's windows). */
  maxInAnySpan(ms: number): number;
  close(): Promise<void>;
}

export async function startRateLimitedUpstream(options: RateLimitedUpstreamOptions): Promise<RateLimitedUpstream> {
  const arrivals: { at: number; key: string | undefined; path: string }[] = [];
  let windowStart = -Infinity;
  let inWindow = 0;
  let maxPerWindow = 0;
  let refused = 0;
  const sockets = new Set<Socket>();

  const resetHeaders = (res: ServerResponse, remaining: number, resetAt: number) => {
    res.setHeader("x-ratelimit-limit", String(options.limit));
    res.setHeader("x-ratelimit-remaining", String(remaining));
    res.setHeader("x-ratelimit-reset", String(Math.ceil(resetAt / 1000)));
  };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.setHeader("content-type", "application/json");
    res.writeHead(status);
    res.end(JSON.stringify(body));
  };

  const server = createServer((req, res) => {
    req.resume();
    const now = Date.now();
    const url = new URL(req.url ?? "/", "http://upstream");
    const key = typeof req.headers["x-api-key"] === "string" ? req.headers["x-api-key"] : undefined;
    arrivals.push({ at: now, key, path: url.pathname });
    const seconds = Math.max(0, Number(url.searchParams.get("seconds") ?? "1"));
    if (url.pathname.endsWith("/exhaust")) {
      resetHeaders(res, 0, now + seconds * 1000);
      return json(res, 200, { exhausted: true });
    }
    if (url.pathname.endsWith("/throttle")) {
      res.setHeader("retry-after", String(seconds));
      return json(res, 429, { message: "slow down" });
    }
    if (now >= windowStart + options.windowMs) {
      windowStart = now;
      inWindow = 0;
    }
    inWindow++;
    maxPerWindow = Math.max(maxPerWindow, inWindow);
    const resetAt = windowStart + options.windowMs;
    if (inWindow > options.limit) {
      refused++;
      res.setHeader("retry-after", String(Math.max(1, Math.ceil((resetAt - now) / 1000))));
      resetHeaders(res, 0, resetAt);
      return json(res, 429, { message: "API rate limit exceeded" });
    }
    if (options.advertise) resetHeaders(res, options.limit - inWindow, resetAt);
    json(res, 200, { n: arrivals.length });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    get refused() {
      return refused;
    },
    get maxPerWindow() {
      return maxPerWindow;
    },
    maxInAnySpan(ms) {
      const times = arrivals.filter((a) => !a.path.endsWith("/exhaust") && !a.path.endsWith("/throttle")).map((a) => a.at);
      let most = 0;
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i]! - times[j]! >= ms) j++;
        most = Math.max(most, i - j + 1);
      }
      return most;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
