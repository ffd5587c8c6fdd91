/**
 * A TCP proxy on 127.0.0.1 that a fault test can cut and restore: the way to
 * take PostgreSQL (or any shared server) away from one broker without
 * stopping the server other test files use at the same time. `cut()` drops
 * every connection and stops listening, so new connections are refused
 * (ECONNREFUSED, as when the server is stopped); `restore()` listens again on
 * the same port, so the broker's URL stays valid.
 */
import { createServer, connect, type Server, type Socket } from "node:net";

export interface TcpProxy {
  port: number;
  /** Connections proxied since start. */
  readonly accepted: number;
  cut(): Promise<void>;
  /**
   * A network partition: connections stay open (and new ones are accepted)
   * but no byte goes through, in either direction, until `restore()`.
   */
  freeze(): void;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let frozen = false;
  let held: (() => void)[] = [];
  let server: Server | undefined;
  let port = 0;

  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
  };

  const open = () =>
    new Promise<void>((resolve, reject) => {
      const listening = createServer((client) => {
        accepted++;
        const upstream = connect(target);
        track(client);
        track(upstream);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
        // While frozen, bytes are held back (not dropped): they flow again on restore, as after a partition heals.
        const relay = (from: Socket, to: Socket) => {
          from.on("data", (chunk: Buffer) => {
            if (frozen) {
              from.pause();
              held.push(() => {
                to.write(chunk);
                from.resume();
              });
            } else to.write(chunk);
          });
        };
        relay(client, upstream);
        relay(upstream, client);
      });
      listening.once("error", reject);
      listening.listen(port, "127.0.0.1", () => {
        listening.off("error", reject);
        server = listening;
        port = (listening.address() as { port: number }).port;
        resolve();
      });
    });

  const cut = async () => {
    const closing = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (closing) await new Promise<void>((resolve) => closing.close(() => resolve()));
  };

  await open();
  return {
    port,
    get accepted() {
      return accepted;
    },
    cut,
    freeze: () => {
      frozen = true;
    },
    restore: async () => {
      if (frozen) {
        frozen = false;
        const release = held;
        held = [];
        for (const resume of release) resume();
      }
      if (server) return;
      // The port was just ours; another process taking it in between is not expected on a test machine, but retry briefly.
      for (let attempt = 0; ; attempt++) {
        try {
          await open();
          return;
        } catch (err) {
          if (attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    close: cut,
  };
}
