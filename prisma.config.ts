// Prisma runs here without its engine download (see docs/operations.md "Prisma without network access"):
// the Rust-free client plus the WebAssembly schema engine over a pg adapter.
import { defineConfig } from "prisma/config";
import { PrismaPg } from "@prisma/adapter-pg";

const DEFAULT_DATABASE_URL = "postgresql://postgres:postgres@127.0.0.1:5432/authbroker";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  adapter: async () => new PrismaPg({ connectionString: process.env.DATABASE_URL ?? DEFAULT_DATABASE_URL }),
});
