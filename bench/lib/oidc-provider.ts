/**
 * The driver's side of the oidc-provider reference server
 * (oidc-provider-server.ts): start it in its own process, ask it for
 * pre-minted tokens, stop it.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { freePort } from "../../test/support/ports.js";
import type { AdapterKind } from "./oidc-provider-adapters.js";
import type { OidcProviderCommand, OidcProviderMessage } from "./oidc-provider-shared.js";
import { nodeArgsFromEnv } from "./broker.js";

export { OP_CLIENT_ID, OP_CLIENT_SECRET, OP_RESOURCE, OP_SCOPE } from "./oidc-provider-shared.js";

export interface OidcProviderProcess {
  url: string;
  pid: number;
  adapter: AdapterKind;
  mintRefreshTokens(count: number): Promise<string[]>;
  mintAccessToken(): Promise<string>;
  stop(): Promise<void>;
}

function nextMessage<T extends OidcProviderMessage["type"]>(child: ChildProcess, type: T): Promise<Extract<OidcProviderMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: OidcProviderMessage) => {
      if (message.type !== type) return;
      child.off("message", onMessage);
      child.off("exit", onExit);
      resolve(message as Extract<OidcProviderMessage, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`the oidc-provider process exited (${code})`));
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

export async function startOidcProvider(adapter: AdapterKind, databaseUrl?: string): Promise<OidcProviderProcess> {
  const port = await freePort();
  const child = fork(fileURLToPath(new URL("./oidc-provider-server.ts", import.meta.url)), [String(port), adapter, databaseUrl ?? ""], {
    execArgv: ["--import", "tsx", ...nodeArgsFromEnv()],
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NODE_ENV: "production" },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await nextMessage(child, "ready");
  const send = (command: OidcProviderCommand) => child.send(command);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    adapter,
    async mintRefreshTokens(count) {
      const answer = nextMessage(child, "refresh-tokens");
      send({ type: "mint-refresh", count });
      return (await answer).tokens;
    },
    async mintAccessToken() {
      const answer = nextMessage(child, "access-token");
      send({ type: "mint-access" });
      return (await answer).token;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.disconnect();
      const killer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}
