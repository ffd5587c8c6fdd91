/**
 * Every benchmark, one after another (each starts and stops its own
 * servers), each filing its run in docs/benchmarks.md: `npm run bench:all`.
 * BENCH_ALL (comma-separated: token,introspection,jwks,refresh,proxy) picks
 * some; the other BENCH_* options pass through.
 */
import { spawnSync } from "node:child_process";

const ALL = ["token", "introspection", "jwks", "refresh", "proxy"];
const chosen = process.env.BENCH_ALL ? process.env.BENCH_ALL.split(",").map((s) => s.trim()) : ALL;
const failed: string[] = [];
for (const name of chosen) {
  if (!ALL.includes(name)) throw new TypeError(`BENCH_ALL: unknown benchmark "${name}"; known: ${ALL.join(", ")}`);
  process.stderr.write(`\n=== npm run bench:${name} ===\n`);
  const { status } = spawnSync("npm", ["run", "--silent", `bench:${name}`], { stdio: "inherit" });
  if (status !== 0) failed.push(name);
}
if (failed.length) {
  process.stderr.write(`\nfailed: ${failed.join(", ")}\n`);
  process.exitCode = 1;
}
