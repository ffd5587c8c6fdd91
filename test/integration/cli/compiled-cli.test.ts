/**
 * bin/authbroker.js runs the compiled CLI in dist/ when it is current, and
 * the TypeScript in src/ (through tsx) when any file there is newer than the
 * last build: a test or an operator never runs code older than src/. The
 * rule is checked on a scratch copy of bin/ with a dist/ and a src/ that
 * say which one ran; the real build is checked to compile every file of
 * src/ and to answer `--help` by itself.
 */
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

let root: string;
/** Sets a file's modification time to `secondsAgo` before now. */
const age = (file: string, secondsAgo: number) => {
  const at = new Date(Date.now() - secondsAgo * 1000);
  utimesSync(file, at, at);
};
const runBin = (cwd = root) => spawnSync(process.execPath, [join(root, "bin", "authbroker.js")], { cwd, encoding: "utf8", timeout: 60_000 });
const MAIN = (which: string) => `export async function main() { process.stdout.write(${JSON.stringify(which)}); return 0; }\n`;

describe("bin/authbroker.js picks dist/ or src/", () => {
  before(() => {
    root = mkdtempSync(join(tmpdir(), "authbroker-bin-"));
    mkdirSync(join(root, "bin"));
    copyFileSync(join(REPO, "bin", "authbroker.js"), join(root, "bin", "authbroker.js"));
    writeFileSync(join(root, "package.json"), JSON.stringify({ type: "module" }));
    // tsx, for the fallback, from the repository's node_modules.
    symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
    mkdirSync(join(root, "dist", "cli"), { recursive: true });
    writeFileSync(join(root, "dist", "cli", "index.js"), MAIN("dist"));
    mkdirSync(join(root, "src", "cli"), { recursive: true });
    writeFileSync(join(root, "src", "cli", "index.ts"), MAIN("src").replace("main()", "main(): Promise<number>"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it("runs dist/ when it was built after every file in src/", () => {
    for (const file of [join(root, "src", "cli", "index.ts"), join(root, "src", "cli"), join(root, "src")]) age(file, 60);
    writeFileSync(join(root, "dist", ".built"), "");
    assert.equal(runBin().stdout, "dist");
  });

  it("runs src/ through tsx when a file in src/ changed after the build", () => {
    age(join(root, "dist", ".built"), 30);
    writeFileSync(join(root, "src", "cli", "index.ts"), MAIN("src, changed").replace("main()", "main(): Promise<number>"));
    assert.equal(runBin().stdout, "src, changed");
  });

  it("runs src/ when a file was added to or deleted from src/ after the build", () => {
    writeFileSync(join(root, "dist", ".built"), "");
    assert.equal(runBin().stdout, "dist");
    age(join(root, "dist", ".built"), 30);
    // A deletion leaves no newer file, only a newer directory.
    writeFileSync(join(root, "src", "gone.ts"), "");
    rmSync(join(root, "src", "gone.ts"));
    assert.equal(runBin().stdout, "src, changed");
  });

  it("runs src/ when there has been no build", () => {
    rmSync(join(root, "dist", ".built"));
    assert.equal(runBin().stdout, "src, changed");
  });

  it("runs dist/ where there is no src/ (the Docker image), from any working directory", () => {
    writeFileSync(join(root, "dist", ".built"), "");
    rmSync(join(root, "src"), { recursive: true });
    assert.equal(runBin(tmpdir()).stdout, "dist");
  });
});

describe("npm run build", () => {
  // Into a directory of its own: rebuilding dist/ would pull it from under CLI processes other tests run meanwhile.
  const out = join(REPO, "test-results", "build-check");
  after(() => rmSync(out, { recursive: true, force: true }));

  it("compiles every TypeScript file of src/, the generated Prisma client included, into a CLI that runs", () => {
    const built = spawnSync(process.execPath, ["scripts/build.js", relative(REPO, out)], { cwd: REPO, encoding: "utf8", timeout: 60_000 });
    assert.equal(built.status, 0, built.stderr);
    const sources = readdirSync(join(REPO, "src"), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith(".ts"))
      .map((e) => relative(join(REPO, "src"), join(e.parentPath, e.name)).replace(/\.ts$/, ".js"));
    assert.ok(sources.includes(join("generated", "prisma", "client.js")));
    for (const file of sources) assert.ok(existsSync(join(out, file)), `${file} compiled`);
    assert.ok(existsSync(join(out, ".built")));

    const cli = pathToFileURL(join(out, "cli", "index.js")).href;
    const help = spawnSync(
      process.execPath,
      ["--input-type=module", "-e", `const { main } = await import(${JSON.stringify(cli)}); process.exitCode = await main(["node", "authbroker", "--help"]);`],
      {
        cwd: tmpdir(),
        encoding: "utf8",
        timeout: 30_000,
      },
    );
    assert.equal(help.status, 0, help.stderr);
    for (const verb of ["init", "migrate", "serve", "all", "dev", "apps", "accounts", "connectors", "credentials", "keys"])
      assert.match(help.stdout, new RegExp(`^  ${verb}\\b`, "m"));
  });
});
