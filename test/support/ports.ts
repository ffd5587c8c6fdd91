/**
 * Free TCP ports on 127.0.0.1, for tests that must know a server's URL before
 * it starts (an upstream needs the broker's callback URL in its client config).
 */
import { createServer } from "node:net";

/**
 * A port that was free a moment ago: bind 127.0.0.1:0, read the port the
 * kernel chose, close. Another process could take it before the caller
 * listens; on one test machine that race is rare enough to accept.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the port of a 127.0.0.1 listener"));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
