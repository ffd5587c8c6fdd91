/**
 * node-oidc-provider (npm `oidc-provider`, the certified OpenID provider) as
 * the reference in the token benchmarks, configured for the same work the
 * broker does, in its own process:
 *
 *   - one confidential client, `client_secret_basic`, grants
 *     `client_credentials` and `refresh_token`;
 *   - refresh tokens rotated on every use (`rotateRefreshToken: true`; a
 *     consumed one presented again revokes the grant, as the broker does);
 *   - access tokens as JWTs (RFC 9068 `at+jwt`) signed ES256 with a P-256
 *     key, through a resource indicator every token defaults to
 *     (`features.resourceIndicators`, `accessTokenFormat: "jwt"`), lifetime
 *     3,600 s: the broker's format, algorithm and lifetime;
 *   - storage: `memory` (an unbounded Map; no I/O) or `postgres` (a JSONB
 *     table, pool of 10), see oidc-provider-adapters.ts.
 *
 * Refresh tokens for the rotation benchmark are minted here, in process,
 * through oidc-provider's own models (a Grant and a RefreshToken each, as a
 * code exchange would leave them), and handed to the driver over IPC.
 *
 * Run by the driver with `fork(this file, [port, adapter, databaseUrl])`.
 */
import { createServer } from "node:http";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import Provider, { type Configuration } from "oidc-provider";
import { memoryAdapterFactory, postgresAdapterFactory, type AdapterKind } from "./oidc-provider-adapters.js";
import { OP_CLIENT_ID, OP_CLIENT_SECRET, OP_RESOURCE, OP_SCOPE, type OidcProviderCommand, type OidcProviderMessage } from "./oidc-provider-shared.js";

function configuration(adapter: Configuration["adapter"]): Configuration {
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "jwk" });
  return {
    adapter,
    clients: [
      {
        client_id: OP_CLIENT_ID,
        client_secret: OP_CLIENT_SECRET,
        grant_types: ["client_credentials", "refresh_token"],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: "client_secret_basic",
        id_token_signed_response_alg: "ES256",
      },
    ],
    clientDefaults: { id_token_signed_response_alg: "ES256", grant_types: [], response_types: [] } as never,
    jwks: { keys: [{ ...ec, kid: `op-${randomBytes(4).toString("hex")}`, alg: "ES256", use: "sig" }] as never },
    cookies: { keys: [randomBytes(32).toString("hex")] },
    scopes: ["openid", "offline_access"],
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      // As at the broker: an app learns about its own tokens only.
      introspection: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OP_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: OP_SCOPE,
          audience: OP_RESOURCE,
          accessTokenFormat: "jwt",
          accessTokenTTL: 3600,
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
    rotateRefreshToken: true,
    issueRefreshToken: () => true,
    expiresWithSession: () => false,
    ttl: {
      AccessToken: 3600,
      ClientCredentials: 3600,
      RefreshToken: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
      IdToken: 3600,
      Session: 3600,
      Interaction: 600,
      AuthorizationCode: 60,
    },
  };
}

async function main(): Promise<void> {
  const [portArg, adapterArg, databaseUrl] = process.argv.slice(2) as [string, AdapterKind, string | undefined];
  let closeAdapter = async () => undefined as void;
  let adapter: Configuration["adapter"];
  if (adapterArg === "postgres") {
    if (!databaseUrl) throw new TypeError("the postgres adapter needs a database URL");
    const pgAdapter = await postgresAdapterFactory(databaseUrl);
    adapter = pgAdapter.factory as never;
    closeAdapter = pgAdapter.close;
  } else {
    adapter = memoryAdapterFactory() as never;
  }
  const port = Number(portArg);
  if (!Number.isInteger(port) || port <= 0) throw new TypeError(`bad port argument ${JSON.stringify(process.argv)}`);
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, configuration(adapter));
  const server = createServer(provider.callback());
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const client = await provider.Client.find(OP_CLIENT_ID);
  if (!client) throw new Error("the bench client is not registered");

  /** One grant and one refresh token per entry, as an authorization code exchange leaves them. */
  async function mintRefreshToken(index: number): Promise<string> {
    const accountId = `user-${index}`;
    const grant = new provider.Grant({ accountId, clientId: OP_CLIENT_ID });
    grant.addOIDCScope("offline_access");
    grant.addResourceScope(OP_RESOURCE, OP_SCOPE);
    const grantId = await grant.save();
    const token = new provider.RefreshToken({
      accountId,
      client: client!,
      grantId,
      gty: "authorization_code",
      scope: `offline_access ${OP_SCOPE}`,
      resource: OP_RESOURCE,
      expiresWithSession: false,
    } as never);
    return token.save();
  }

  process.on("message", (raw) => {
    const command = raw as OidcProviderCommand;
    void (async () => {
      if (command.type === "mint-refresh") {
        const tokens: string[] = new Array(command.count);
        let next = 0;
        // Bounded concurrency: the postgres adapter's pool has 10 connections.
        await Promise.all(
          Array.from({ length: 20 }, async () => {
            while (next < command.count) {
              const index = next++;
              tokens[index] = await mintRefreshToken(index);
            }
          }),
        );
        process.send!({ type: "refresh-tokens", tokens } satisfies OidcProviderMessage);
      } else if (command.type === "mint-access") {
        // An opaque access token (no resource): the kind oidc-provider introspects.
        const grant = new provider.Grant({ accountId: "user-introspected", clientId: OP_CLIENT_ID });
        grant.addOIDCScope("openid offline_access");
        const grantId = await grant.save();
        const token = new provider.AccessToken({
          accountId: "user-introspected",
          client: client!,
          grantId,
          gty: "authorization_code",
          scope: "openid offline_access",
        } as never);
        process.send!({ type: "access-token", token: await token.save() } satisfies OidcProviderMessage);
      }
    })().catch((err: unknown) => {
      process.stderr.write(`oidc-provider bench server: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
  });
  process.once("disconnect", () => {
    server.close();
    server.closeAllConnections();
    void closeAdapter().finally(() => process.exit(0));
  });
  process.send!({ type: "ready", port } satisfies OidcProviderMessage);
}

await main();
