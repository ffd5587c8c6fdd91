/**
 * Reads a V8 CPU profile (`node --cpu-prof`, e.g. a broker run with
 * BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof") and prints where the
 * time went: self time by function and by package/file, and inclusive time
 * of the broker's own functions. Usage:
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [top=25]
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new TypeError("usage: profile-summary.ts <file.cpuprofile> [top]");
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

const selfMs = new Map<number, number>();
profile.samples.forEach((id, i) => selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));
const total = [...selfMs.values()].reduce((a, b) => a + b, 0);

/** The broker's own file of a frame (`src/…`, or `dist/…` for the compiled CLI), undefined for anything else. */
function ownPath(url: string): string | undefined {
  if (url.includes("node_modules/")) return undefined;
  const at = Math.max(url.lastIndexOf("/src/"), url.lastIndexOf("/dist/"));
  return at === -1 ? undefined : url.slice(at + 1);
}

function where(url: string): string {
  if (!url) return "(native/builtin)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm !== -1) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith("node:")) return url;
  const own = ownPath(url);
  return own ?? url.replace(/^file:\/\//, "");
}
const label = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${where(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;

function tally(key: (n: ProfileNode) => string): [string, number][] {
  const sums = new Map<string, number>();
  for (const [id, ms] of selfMs) {
    const k = key(byId.get(id)!);
    sums.set(k, (sums.get(k) ?? 0) + ms);
  }
  return [...sums].sort((a, b) => b[1] - a[1]);
}

function print(title: string, rows: [string, number][]): void {
  process.stdout.write(`\n${title}\n`);
  for (const [k, ms] of rows.slice(0, top)) process.stdout.write(`${((ms / total) * 100).toFixed(1).padStart(6)} %  ${ms.toFixed(0).padStart(7)} ms  ${k}\n`);
}

process.stdout.write(`${file}: ${total.toFixed(0)} ms sampled\n`);
print(
  "self time by package / file",
  tally((n) => where(n.callFrame.url)),
);
print("self time by function", tally(label));

// Inclusive time of the broker's own functions: each sample counts once per distinct function on its stack.
const inclusive = new Map<string, number>();
profile.samples.forEach((id, i) => {
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur)!;
    if (ownPath(n.callFrame.url) === undefined) continue;
    const k = label(n);
    if (seen.has(k)) continue;
    seen.add(k);
    inclusive.set(k, (inclusive.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  }
});
print(
  "inclusive time of broker functions (src/ or dist/)",
  [...inclusive].sort((a, b) => b[1] - a[1]),
);
