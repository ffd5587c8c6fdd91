/**
 * The set-up files stay in step with the code: docker-compose.yml is valid
 * and wires every service (Docker itself cannot run on these machines), its
 * variables are ones src/config.ts knows, .env.example lists every variable,
 * and the npm scripts are the ones the README documents.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, statSync } from "node:fs";
import { parseDocument } from "yaml";
import { ENV_VARS } from "../../../src/config.js";

interface ComposeService {
  image?: string;
  build?: string | { context: string; dockerfile: string };
  profiles?: string[];
  volumes?: string[];
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  ports?: string[];
}

function loadCompose(): { services: Record<string, ComposeService> } {
  const doc = parseDocument(readFileSync("docker-compose.yml", "utf8"), { merge: true });
  assert.deepEqual(doc.errors, [], "docker-compose.yml is valid YAML");
  return doc.toJS() as { services: Record<string, ComposeService> };
}

describe("docker-compose.yml", () => {
  it("runs postgres 16, redis 7, a one-shot migrate, the broker (serve) and a worker; the demo only in its profile", () => {
    const { services } = loadCompose();
    assert.deepEqual(Object.keys(services).sort(), ["broker", "demo", "migrate", "postgres", "redis", "worker"]);
    for (const name of ["broker", "migrate", "postgres", "redis", "worker"])
      assert.equal(services[name]!.profiles, undefined, `${name} starts with a plain up`);
    assert.equal(services.postgres!.image, "postgres:16");
    assert.equal(services.redis!.image, "redis:7");
    assert.deepEqual(services.migrate!.command, ["migrate"]);
    assert.deepEqual(services.broker!.command, ["serve"]);
    assert.deepEqual(services.worker!.command, ["worker"]);
    for (const name of ["migrate", "broker", "worker"]) assert.equal(services[name]!.build, ".", `${name} is built from the Dockerfile`);
  });

  it("starts broker and worker only after the migrations succeeded and Redis is healthy", () => {
    const { services } = loadCompose();
    for (const name of ["broker", "worker"]) {
      assert.deepEqual(services[name]!.depends_on, { migrate: { condition: "service_completed_successfully" }, redis: { condition: "service_healthy" } });
    }
    assert.deepEqual(services.migrate!.depends_on, { postgres: { condition: "service_healthy" } });
    assert.ok(services.postgres!.healthcheck && services.redis!.healthcheck);
    assert.match(services.broker!.healthcheck!.test.join(" "), /\/readyz/);
  });

  it("gives the broker variables src/config.ts knows, pointing at the compose services", () => {
    const { services } = loadCompose();
    const env = services.broker!.environment!;
    for (const name of Object.keys(env)) assert.ok((ENV_VARS as string[]).includes(name), `${name} is a variable of src/config.ts`);
    // The Postgres URL's credentials match the postgres service.
    const pg = services.postgres!.environment!;
    assert.equal(env.DATABASE_URL, `postgresql://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`);
    assert.equal(env.REDIS_URL, "redis://redis:6379");
    assert.equal(env.HOST, "0.0.0.0");
    // Compose must not refuse `up -d postgres redis` for want of a key the broker alone needs.
    assert.equal(env.BROKER_ENCRYPTION_KEYS, "${BROKER_ENCRYPTION_KEYS:-}");
    // The host's `npm start` defaults reach the published ports.
    assert.ok(services.postgres!.ports!.includes("127.0.0.1:5432:5432"));
    assert.ok(services.redis!.ports!.includes("127.0.0.1:6379:6379"));
  });
});

describe("docker-compose.yml demo profile", () => {
  it("runs `npm run demo` from demo/Dockerfile against the compose postgres and redis, in a database of its own", () => {
    const { services } = loadCompose();
    const demo = services.demo!;
    assert.deepEqual(demo.profiles, ["demo"]);
    assert.deepEqual(demo.build, { context: ".", dockerfile: "demo/Dockerfile" });
    assert.equal(demo.environment!.DATABASE_URL, "postgresql://postgres:postgres@postgres:5432/authbroker_demo");
    assert.equal(demo.environment!.REDIS_URL, "redis://redis:6379");
    assert.equal(demo.environment!.DEMO_BIND_HOST, "0.0.0.0");
    assert.deepEqual(demo.ports, ["127.0.0.1:3000:3000", "127.0.0.1:4000:4000", "127.0.0.1:4001:4001", "127.0.0.1:4002:4002"]);
    assert.deepEqual(demo.depends_on, { postgres: { condition: "service_healthy" }, redis: { condition: "service_healthy" } });
    assert.ok(
      demo.volumes!.some((v) => v.endsWith(":/state")),
      "the demo's .env (its key) survives a restart",
    );
    const dockerfile = readFileSync("demo/Dockerfile", "utf8");
    assert.match(dockerfile, /^FROM node:24-slim$/m);
    // `npm ci` runs the project's prepare (the build), which needs src/: copied later.
    assert.match(dockerfile, /^RUN npm ci --ignore-scripts && /m, "with dev dependencies: Acme Cloud is oidc-provider");
    assert.match(dockerfile, /^COPY test\/support\/oidc-upstream\.ts /m);
    assert.match(dockerfile, /npm run demo/);
  });
});

describe("Dockerfile", () => {
  it("builds on node:24-slim with npm ci and runs the authbroker bin on the compiled dist/", () => {
    const dockerfile = readFileSync("Dockerfile", "utf8");
    assert.match(dockerfile, /^FROM node:24-slim AS build$/m);
    assert.match(dockerfile, /^FROM node:24-slim$/m);
    // `npm ci` would run the project's postinstall and prepare (the build), which need src/:
    // the build stage installs without scripts, then generates the client and builds once src/ is in.
    assert.match(dockerfile, /^RUN npm ci --ignore-scripts$/m);
    const copySrc = dockerfile.indexOf("COPY src ");
    const generate = dockerfile.indexOf("RUN node scripts/prisma.js generate");
    const build = dockerfile.indexOf("RUN npm run build");
    assert.ok(copySrc > 0 && copySrc < generate && generate < build, "src/, then prisma generate, then the build");
    assert.match(dockerfile, /^COPY --from=build \/app\/dist \.\/dist$/m);
    const runtimeStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    assert.doesNotMatch(runtimeStage, /^COPY src /m, "the image runs dist/: src/ stays in the build stage");
    assert.match(dockerfile, /^RUN npm ci\b/m);
    assert.match(dockerfile, /^ENTRYPOINT \["node", "bin\/authbroker\.js"\]$/m);
    // The runtime stage's `authbroker migrate` runs the Prisma CLI through scripts/prisma.js.
    for (const needed of ["COPY scripts", "COPY prisma ", "prisma.config.ts"]) assert.ok(runtimeStage.includes(needed), `${needed} in the image`);
    assert.match(readFileSync(".dockerignore", "utf8"), /^\.env$/m, ".env never goes into the image");
  });
});

describe(".env.example", () => {
  it("lists every variable of src/config.ts", () => {
    const example = readFileSync(".env.example", "utf8");
    const listed = [...example.matchAll(/^#?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
    assert.deepEqual([...new Set(listed)].sort(), [...ENV_VARS].sort());
  });
});

describe("package.json scripts", () => {
  const { scripts } = JSON.parse(readFileSync("package.json", "utf8")) as { scripts: Record<string, string> };

  it("generate the Prisma client and compile dist/ on install, and run init, then `dev` (embedded defaults, migrate, `all`) on start", () => {
    assert.equal(scripts.postinstall, "node scripts/prisma.js generate");
    assert.equal(scripts.prepare, "npm run --silent build");
    assert.equal(scripts.pretest, "npm run --silent db:generate && npm run --silent build");
    assert.equal(scripts.prestart, "npm run --silent db:generate && npm run --silent build && node bin/authbroker.js init --if-missing");
    assert.equal(scripts.start, "node bin/authbroker.js dev");
  });

  it("test: type check, format check, layer check, then every unit, integration and end-to-end (Chromium) test file", () => {
    assert.match(scripts.test!, /^npm run --silent typecheck && npm run --silent format:check && npm run --silent check:layers && node --import tsx --test /);
    assert.match(scripts.test!, / test\/unit\/\*\/\*\.test\.ts test\/integration\/\*\/\*\.test\.ts test\/e2e\/\*\.test\.ts$/);
  });

  it("demo: build, init, then demo/main.ts (which embeds the defaults and migrates)", () => {
    assert.equal(
      scripts.demo,
      "npm run --silent db:generate && npm run --silent build && node bin/authbroker.js init --if-missing && node --import tsx demo/main.ts",
    );
  });

  it(".ci/run is executable and ends with the README's test command", () => {
    assert.ok(statSync(".ci/run").mode & 0o100, ".ci/run is executable");
    const run = readFileSync(".ci/run", "utf8");
    assert.match(run, /set -euo pipefail/);
    // A new machine has Node.js and nothing else: the servers the tests use come from Debian.
    assert.match(run, /^APT_PACKAGES=\((?=.*\bpostgresql\b)(?=.*\bredis-server\b)(?=.*\bchromium\b).*\)$/m);
    // The README's test command, each run under a time limit so a hang fails rather than outlasting CI.
    const testRun = /^timeout --kill-after=30s "\$RUN_LIMIT" npm test$/gm;
    assert.match(run.trimEnd(), /\nnpm ci\n[\s\S]*\ntimeout --kill-after=30s "\$RUN_LIMIT" npm test$/);
    assert.match(run, /^RUN_LIMIT=\d+m$/m);
    // Once on the machine's Node.js, once on Node.js 24 from the npm registry, first on the PATH.
    assert.equal(run.match(testRun)?.length, 2, "the README's test command, once per Node.js");
    const node24 = run.slice(run.indexOf("node24_dir=$(mktemp -d)"));
    assert.match(node24, /&& npm pack --silent "node-linux-\$node_arch@24" /);
    assert.match(node24, /^export PATH="\$node24_dir\/package\/bin:\$PATH"\n[\s\S]*\ntimeout --kill-after=30s "\$RUN_LIMIT" npm test$/m);
    assert.match(readFileSync("README.md", "utf8"), /```sh\nnpm test\n```/);
  });
});
