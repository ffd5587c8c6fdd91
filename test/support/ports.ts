/**
 * Free TCP ports on 127.0.0.1, for tests that must know a server's URL before
 * it starts (an upstream needs the broker's callback URL in its client config).
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * The kernel's ephemeral range: the source ports of outgoing connections.
 * A port from it, free a moment ago, can become the source port of any
 * connection any process opens before the caller listens (CI once saw
 * EADDRINUSE that way, with two test files running), so ports are chosen
 * below it.
 */
function ephemeralRangeStart(): number {
  try {
    const [low] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/).map(Number);
    if (low !== undefined && Number.isInteger(low) && low > 12_000) return low;
  } catch {
    // Not Linux: IANA's dynamic range starts at 49152, Linux's default at 32768.
  }
  return 32_768;
}

const LOWEST = 10_000;
const HIGHEST = ephemeralRangeStart() - 1;

function tryListen(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (err: NodeJS.ErrnoException) => (err.code === "EADDRINUSE" || err.code === "EACCES" ? resolve(false) : reject(err)));
    server.listen(port, "127.0.0.1", () => server.close((err) => (err ? reject(err) : resolve(true))));
  });
}

/**
 * A port that was free a moment ago, outside the ephemeral range, picked at
 * random so that test files running at once rarely draw the same one.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (await tryListen(port)) return port;
  }
  throw new Error(`no free port found on 127.0.0.1 between ${LOWEST} and ${HIGHEST}`);
}
