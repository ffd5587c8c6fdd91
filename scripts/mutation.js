// `npm run test:mutation [group…] [-- --survivors]`: one Stryker run per module group of
// stryker.config.mjs (all groups when none is named), one after the other, then
// the score of each group and of all of them. Not part of `npm test`: it takes
// minutes per group on a 2-core machine (docs/security.md, "Mutation testing").
// `--survivors` mutates only the lines where the group's last report
// (reports/mutation/<group>.json) has survivors: the check after tests were
// added for them, in minutes instead of a whole run (its score is of those lines only).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { groups } from "../stryker.config.mjs";

const args = process.argv.slice(2);
const onlySurvivors = args.includes("--survivors");
const names = args.filter((arg) => arg !== "--survivors");
for (const name of names) if (!(name in groups)) throw new Error(`unknown group "${name}": one of ${Object.keys(groups).join(", ")}`);
const selected = names.length ? names : Object.keys(groups);

/** Killed and timed-out mutants count as detected; compile errors and mutants no test reaches are listed apart. */
function tally(report) {
  const counts = { Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, CompileError: 0, RuntimeError: 0, Ignored: 0 };
  const survivors = [];
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const mutant of mutants) {
      counts[mutant.status] = (counts[mutant.status] ?? 0) + 1;
      if (mutant.status === "Survived" || mutant.status === "NoCoverage")
        survivors.push(`${file}:${mutant.location.start.line} ${mutant.mutatorName} ${mutant.status}: ${mutant.replacement ?? ""}`.trim());
    }
  }
  return { counts, survivors };
}

/** Stryker's `--mutate` value for the lines of a report's survivors (`file:line-line`, comma-separated), or undefined when there are none. */
function survivorLines(report) {
  const ranges = new Set();
  for (const [file, { mutants }] of Object.entries(report.files)) {
    for (const mutant of mutants) {
      if (mutant.status === "Survived" || mutant.status === "NoCoverage") ranges.add(`${file}:${mutant.location.start.line}-${mutant.location.end.line}`);
    }
  }
  return ranges.size ? [...ranges].join(",") : undefined;
}

const total = { detected: 0, valid: 0 };
for (const name of selected) {
  const file = `reports/mutation/${name}.json`;
  const strykerArgs = ["stryker", "run", "stryker.config.mjs"];
  if (onlySurvivors) {
    if (!existsSync(file)) throw new Error(`${name}: --survivors needs the report of an earlier run (${file})`);
    const lines = survivorLines(JSON.parse(readFileSync(file, "utf8")));
    if (!lines) {
      console.log(`${name}: no survivors in ${file}`);
      continue;
    }
    strykerArgs.push("--mutate", lines);
  }
  const started = Date.now();
  const run = spawnSync("npx", strykerArgs, { stdio: "inherit", env: { ...process.env, MUTATION_GROUP: name } });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  if (run.status !== 0 || !existsSync(file)) {
    console.error(`${name}: Stryker failed (exit ${run.status}) after ${minutes} min`);
    process.exitCode = 1;
    continue;
  }
  const { counts, survivors } = tally(JSON.parse(readFileSync(file, "utf8")));
  const detected = counts.Killed + counts.Timeout;
  const valid = detected + counts.Survived + counts.NoCoverage;
  total.detected += detected;
  total.valid += valid;
  console.log(`\n${name}: ${detected}/${valid} killed (${((100 * detected) / valid).toFixed(1)} %) in ${minutes} min; ${JSON.stringify(counts)}`);
  for (const line of survivors) console.log(`  survived: ${line}`);
}
if (total.valid) console.log(`\nall: ${total.detected}/${total.valid} killed (${((100 * total.detected) / total.valid).toFixed(1)} %)`);
