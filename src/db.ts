/** PostgreSQL through Prisma's Rust-free client and the pg driver adapter. */
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/prisma/client.js";

export type Db = PrismaClient;
export { Prisma } from "./generated/prisma/client.js";

export function createDb(databaseUrl: string, options: { max?: number } = {}): Db {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    // Fail fast when Postgres is down, so /readyz and requests answer 503 quickly.
    connectionTimeoutMillis: 3_000,
  });
  return new PrismaClient({ adapter });
}

/** The database name and server of a URL, for one-line error messages (no password). */
export function describeDatabaseUrl(databaseUrl: string): string {
  const u = new URL(databaseUrl);
  return `postgresql://${u.hostname}:${u.port || 5432}${u.pathname}`;
}
