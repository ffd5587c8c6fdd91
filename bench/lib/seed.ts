/**
 * Data the broker benchmarks start from, written through the broker's own
 * modules, or, for pools of thousands of rows, with the SQL the grants
 * themselves write (src/oauth/grants/authorization-code.ts consumeCode): a
 * refresh family and its first refresh token, stored only as SHA-256.
 */
import { connectAccount } from "../../src/accounts/accounts.js";
import { generateId } from "../../src/crypto/secrets.js";
import { generateRefreshToken } from "../../src/oauth/tokens.js";
import type { Services } from "../../src/services.js";

/** An api_key connector: accounts need one, and this kind needs no upstream to exist. */
export const BENCH_CONNECTOR = {
  id: "bench",
  name: "Bench API",
  auth: { kind: "api_key", fields: [{ name: "key", label: "API key", secret: true }] },
  api: { baseUrl: "http://127.0.0.1:9/", credentials: "header:X-Api-Key" },
  identity: { url: "http://127.0.0.1:9/me", subject: "id" },
};

export interface BenchApp {
  clientId: string;
  clientSecret: string;
  /** `Basic base64(id:secret)` (client_secret_basic). */
  authorization: string;
  accountId: string;
}

/** A confidential app (client_secret_basic) with client_credentials and refresh_token, and one connected account. */
export async function createBenchApp(services: Services): Promise<BenchApp> {
  const { client, secret } = await services.clients.create({
    name: "Bench",
    redirectUris: [],
    grantTypes: ["client_credentials", "refresh_token"],
    scopes: ["proxy", "accounts:read", "offline_access"],
  });
  const { id: accountId } = await connectAccount(services.db, services.keyring, {
    appId: client.id,
    connectorId: BENCH_CONNECTOR.id,
    identity: { subject: "bench-user", email: "bench@example.test", name: "Bench User" },
    scopes: [],
    tokens: { fields: { key: "bench-key" } },
  });
  const clientSecret = secret!;
  // RFC 6749 §2.3.1: form-urlencode each half, then base64.
  const authorization = `Basic ${Buffer.from(`${encodeURIComponent(client.id)}:${encodeURIComponent(clientSecret)}`).toString("base64")}`;
  return { clientId: client.id, clientSecret, authorization, accountId };
}

/**
 * `count` refresh tokens, each the only live token of its own family (as
 * many code exchanges would leave them), bound to the account, scope
 * `proxy offline_access`. Returns the token values.
 */
export async function mintRefreshTokens(
  services: Services,
  app: BenchApp,
  count: number,
  options: { scope?: string; ttlSeconds?: number } = {},
): Promise<string[]> {
  const scope = options.scope ?? "proxy offline_access";
  const ttl = options.ttlSeconds ?? 30 * 24 * 3600;
  const values: string[] = [];
  for (let offset = 0; offset < count; offset += 5_000) {
    const size = Math.min(5_000, count - offset);
    const families: string[] = [];
    const hashes: string[] = [];
    for (let i = 0; i < size; i++) {
      const { refreshToken, tokenHash } = generateRefreshToken();
      values.push(refreshToken);
      hashes.push(tokenHash);
      families.push(generateId("gr", 16));
    }
    await services.db.$executeRaw`
      WITH family AS (
        INSERT INTO "RefreshFamily" ("id", "appId", "accountId", "scope", "createdAt")
        SELECT f, ${app.clientId}, ${app.accountId}, ${scope}, now() AT TIME ZONE 'UTC' FROM unnest(${families}::text[]) AS f
        RETURNING "id"
      )
      INSERT INTO "RefreshToken" ("tokenHash", "familyId", "expiresAt", "createdAt")
      SELECT h, f, (now() AT TIME ZONE 'UTC') + ${ttl}::int * interval '1 second', now() AT TIME ZONE 'UTC'
        FROM unnest(${hashes}::text[], ${families}::text[]) AS t(h, f)`;
  }
  // Fresh statistics, so the planner treats the pool like a table that grew over time.
  await services.db.$executeRawUnsafe(`ANALYZE "RefreshToken", "RefreshFamily"`);
  return values;
}
