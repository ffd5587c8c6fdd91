/**
 * "Acme Cloud", the sample upstream service of the demo: a real OpenID
 * Connect provider (node-oidc-provider, through test/support/oidc-upstream.ts
 * in interactive mode: a login form and a consent page) plus a small JSON API
 * that answers with the signed-in user's files.
 *
 * The API takes two kinds of credential, as many real services do:
 *   Authorization: Bearer <access token>   issued by the provider (the oidc connectors)
 *   X-Api-Key: <key>                        a personal API key (the api_key connector)
 *
 *   GET /api/me      who the credential belongs to: { id, email, name }
 *   GET /api/files   that user's files
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { randomBytes } from "node:crypto";
import { startOidcUpstream, type OidcUpstream, type UpstreamUser } from "../test/support/oidc-upstream.js";

export interface DemoUser extends UpstreamUser {
  username: string;
  password: string;
  /** The user's personal API key (for the API-key connector). */
  apiKey: string;
  files: { name: string; size: number; modified: string }[];
}

/** The demo's accounts. Printed by `npm run demo`: nothing here is a secret. */
export const DEMO_USERS: DemoUser[] = [
  {
    username: "alice",
    password: "wonderland",
    apiKey: "acme_live_alice_3f9c2b7e41d8",
    sub: "acme-user-1001",
    email: "alice@acme.test",
    name: "Alice Liddell",
    files: [
      { name: "Quarterly report.pdf", size: 482_113, modified: "2026-03-02" },
      { name: "Tea party guest list.xlsx", size: 18_204, modified: "2026-02-14" },
      { name: "Rabbit hole survey.png", size: 1_204_557, modified: "2026-01-30" },
    ],
  },
  {
    username: "bob",
    password: "builder",
    apiKey: "acme_live_bob_8a1e5d0c92f7",
    sub: "acme-user-1002",
    email: "bob@acme.test",
    name: "Bob Builder",
    files: [{ name: "Site plan.dwg", size: 2_048_000, modified: "2026-02-20" }],
  },
];

/** The broker's client registration at Acme Cloud. */
export const ACME_CLOUD_CLIENT_ID = "authbroker-demo";

export interface AcmeCloud {
  /** `http://127.0.0.1:PORT`: the issuer, the login pages and the API. */
  url: string;
  port: number;
  /** The broker's client secret at Acme Cloud: new on every start (Acme Cloud keeps nothing on disk). */
  clientSecret: string;
  upstream: OidcUpstream;
  close(): Promise<void>;
}

export interface AcmeCloudOptions {
  /** @defaultValue a free port */
  port?: number;
  /** @defaultValue 127.0.0.1 */
  host?: string;
  /** Where Acme Cloud may send the broker's authorization responses: the broker's redirect URIs of the demo's connectors. */
  brokerCallbackUrls: string[];
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}

export async function startAcmeCloud(options: AcmeCloudOptions): Promise<AcmeCloud> {
  const clientSecret = randomBytes(24).toString("base64url");
  const bySub = new Map(DEMO_USERS.map((u) => [u.sub, u]));
  const byKey = new Map(DEMO_USERS.map((u) => [u.apiKey, u]));

  /** The user a request's credential belongs to, or undefined. */
  async function authenticate(
    req: IncomingMessage,
    findAccessToken: (token: string) => Promise<{ accountId: string } | undefined>,
  ): Promise<DemoUser | undefined> {
    const apiKey = req.headers["x-api-key"];
    if (typeof apiKey === "string") return byKey.get(apiKey);
    const bearer = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    if (bearer === undefined) return undefined;
    const token = await findAccessToken(bearer);
    return token ? bySub.get(token.accountId) : undefined;
  }

  const upstream = await startOidcUpstream({
    port: options.port,
    host: options.host,
    interactive: true,
    brand: "Acme Cloud",
    users: Object.fromEntries(DEMO_USERS.map((u) => [u.username, { sub: u.sub, email: u.email, name: u.name }])),
    user: DEMO_USERS[0],
    passwords: Object.fromEntries(DEMO_USERS.map((u) => [u.username, u.password])),
    scopes: ["files:read"],
    clients: [{ client_id: ACME_CLOUD_CLIENT_ID, client_secret: clientSecret, client_name: "authbroker (demo)", redirect_uris: options.brokerCallbackUrls }],
    api: async (req, res, { url, findAccessToken }) => {
      const user = await authenticate(req, findAccessToken);
      if (!user) {
        sendJson(
          res,
          401,
          { error: "invalid_token", error_description: "a valid access token or API key is required" },
          { "www-authenticate": 'Bearer realm="acme-cloud"' },
        );
        return;
      }
      if (req.method !== "GET") {
        sendJson(res, 405, { error: "method_not_allowed" }, { allow: "GET" });
        return;
      }
      if (url.pathname === "/api/me") {
        sendJson(res, 200, { id: user.sub, email: user.email, name: user.name });
        return;
      }
      if (url.pathname === "/api/files") {
        sendJson(res, 200, { owner: user.email, files: user.files });
        return;
      }
      sendJson(res, 404, { error: "not_found" });
    },
  });
  return { url: upstream.url, port: upstream.port, clientSecret, upstream, close: () => upstream.close() };
}
