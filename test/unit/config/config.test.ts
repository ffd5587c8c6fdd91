import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, ENV_VARS, issuerPortMismatch, loadConfig } from "../../../src/config.js";

const KEY = `k1:${randomBytes(32).toString("base64")}`;
const OTHER_KEY = `k2:${randomBytes(32).toString("base64")}`;

/** Loads a config with only a valid keyring plus the given variables. */
function load(env: Record<string, string>) {
  return loadConfig({ BROKER_ENCRYPTION_KEYS: KEY, ...env });
}

/** Asserts that loading fails with one line that names the variable (and says what is wrong). */
function rejects(env: Record<string, string>, variable: string, problem: RegExp): void {
  assert.throws(
    () => loadConfig({ BROKER_ENCRYPTION_KEYS: KEY, ...env }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
      assert.equal(err.variable, variable);
      assert.match(err.message, new RegExp(`^${variable}: `));
      assert.match(err.problem, problem);
      assert.ok(!err.message.includes("\n"), `one line expected, got ${JSON.stringify(err.message)}`);
      return true;
    },
  );
}

describe("configuration defaults", () => {
  it("loads with only BROKER_ENCRYPTION_KEYS set, with defaults that work on this machine", () => {
    const config = loadConfig({ BROKER_ENCRYPTION_KEYS: KEY });
    assert.equal(config.databaseUrl, "postgresql://postgres:postgres@127.0.0.1:5432/authbroker");
    assert.equal(config.redisUrl, "redis://127.0.0.1:6379");
    assert.equal(config.port, 3000);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.issuer, "http://localhost:3000");
    assert.equal(config.connectorsDir, "./connectors");
    assert.deepEqual(config.allowPrivateHosts.cidrs, []);
    assert.equal(config.logLevel, "info");
    assert.equal(config.adminToken, undefined);
    assert.equal(config.shutdownGraceMs, 10_000);
    assert.deepEqual(
      config.tokenLifetimeLimits,
      { accessTokenMaxTtl: 86_400, refreshTokenMaxTtl: 7_776_000 },
      "access tokens a day at most, refresh tokens 90 days",
    );
    assert.equal(config.encryptionKeys.length, 1);
    assert.equal(config.encryptionKeys[0]!.kid, "k1");
    assert.equal(config.encryptionKeys[0]!.key.length, 32);
  });

  it("treats an empty variable as unset, as dotenv tools do", () => {
    const config = load({ PORT: "", LOG_LEVEL: "", BROKER_ADMIN_TOKEN: "" });
    assert.equal(config.port, 3000);
    assert.equal(config.logLevel, "info");
    assert.equal(config.adminToken, undefined);
  });

  it("reads every variable that is set", () => {
    const adminToken = randomBytes(32).toString("base64url");
    const config = load({
      BROKER_ENCRYPTION_KEYS: `${KEY},${OTHER_KEY}`,
      DATABASE_URL: "postgres://u:p@db.internal:6543/broker",
      REDIS_URL: "rediss://cache.internal:6380/2",
      PORT: "0",
      HOST: "0.0.0.0",
      BROKER_ISSUER: "https://auth.example.com/broker",
      CONNECTORS_DIR: "/etc/authbroker/connectors",
      BROKER_ALLOW_PRIVATE_HOSTS: "127.0.0.0/8, ::1/128,10.1.2.3",
      LOG_LEVEL: "debug",
      BROKER_ADMIN_TOKEN: adminToken,
      SHUTDOWN_GRACE_MS: "2500",
      TRUST_PROXY_HOPS: "2",
      ACCESS_TOKEN_MAX_TTL_SECONDS: "900",
      REFRESH_TOKEN_MAX_TTL_SECONDS: "604800",
    });
    assert.equal(config.databaseUrl, "postgres://u:p@db.internal:6543/broker");
    assert.equal(config.redisUrl, "rediss://cache.internal:6380/2");
    assert.equal(config.port, 0);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.issuer, "https://auth.example.com/broker");
    assert.equal(config.connectorsDir, "/etc/authbroker/connectors");
    assert.deepEqual(
      config.allowPrivateHosts.cidrs.map((c) => [c.text, c.family, c.prefix]),
      [
        ["127.0.0.0/8", "ipv4", 8],
        ["::1/128", "ipv6", 128],
        ["10.1.2.3", "ipv4", 32],
      ],
    );
    assert.equal(config.logLevel, "debug");
    assert.equal(config.adminToken, adminToken);
    assert.equal(config.shutdownGraceMs, 2500);
    assert.equal(config.trustProxyHops, 2);
    assert.deepEqual(config.tokenLifetimeLimits, { accessTokenMaxTtl: 900, refreshTokenMaxTtl: 604_800 });
    // The first key is the current one.
    assert.deepEqual(
      config.encryptionKeys.map((k) => k.kid),
      ["k1", "k2"],
    );
  });

  it("accepts IPv6 and host names for HOST", () => {
    assert.equal(load({ HOST: "::" }).host, "::");
    assert.equal(load({ HOST: "localhost" }).host, "localhost");
  });
});

describe("the issuer and PORT", () => {
  it("with BROKER_ISSUER unset, the issuer follows PORT", () => {
    assert.equal(load({ PORT: "4000" }).issuer, "http://localhost:4000");
    assert.equal(load({ PORT: "4000", BROKER_ISSUER: "" }).issuer, "http://localhost:4000", "empty counts as unset");
  });

  it("an explicit BROKER_ISSUER wins over PORT", () => {
    assert.equal(load({ PORT: "4000", BROKER_ISSUER: "https://auth.example.com" }).issuer, "https://auth.example.com");
  });

  it("warns when an issuer on this machine names another port than PORT", () => {
    const warning = issuerPortMismatch(load({ PORT: "4000", BROKER_ISSUER: "http://localhost:3000" }));
    assert.match(warning ?? "", /^BROKER_ISSUER \(http:\/\/localhost:3000\) names port 3000 on this machine, but the broker listens on PORT 4000: /);
    assert.ok(issuerPortMismatch(load({ PORT: "3000", BROKER_ISSUER: "http://127.0.0.1:4000" })));
    assert.ok(issuerPortMismatch(load({ PORT: "3000", BROKER_ISSUER: "http://[::1]:4000" })));
    assert.match(issuerPortMismatch(load({ PORT: "3000", BROKER_ISSUER: "http://localhost" })) ?? "", /names port 80 /, "no port: the scheme's");
  });

  it("stays quiet when they agree, behind a proxy (another host), and for PORT=0", () => {
    assert.equal(issuerPortMismatch(load({ PORT: "4000" })), undefined, "the default follows PORT");
    assert.equal(issuerPortMismatch(load({ PORT: "4000", BROKER_ISSUER: "http://127.0.0.1:4000" })), undefined);
    assert.equal(issuerPortMismatch(load({ PORT: "3000", BROKER_ISSUER: "https://auth.example.com" })), undefined, "a reverse proxy's address");
    assert.equal(issuerPortMismatch(load({ PORT: "0", BROKER_ISSUER: "http://localhost:3000" })), undefined, "a free port, picked at listen");
  });
});

describe("a bad variable stops the start with one line naming it", () => {
  it("DATABASE_URL that is not a PostgreSQL URL", () => {
    rejects({ DATABASE_URL: "mysql://127.0.0.1/db" }, "DATABASE_URL", /postgresql:\/\//);
    rejects({ DATABASE_URL: "not a url" }, "DATABASE_URL", /must be a URL/);
  });

  it("REDIS_URL that is not a Redis URL", () => {
    rejects({ REDIS_URL: "http://127.0.0.1:6379" }, "REDIS_URL", /redis:\/\//);
    rejects({ REDIS_URL: "127.0.0.1:6379" }, "REDIS_URL", /must be a URL/);
  });

  it("PORT that is not an integer in 0-65535", () => {
    rejects({ PORT: "abc" }, "PORT", /must be an integer/);
    rejects({ PORT: "80.5" }, "PORT", /must be an integer/);
    rejects({ PORT: "   " }, "PORT", /must be an integer/);
    rejects({ PORT: "70000" }, "PORT", /0-65535/);
    rejects({ PORT: "-1" }, "PORT", /0-65535/);
  });

  it("HOST that is neither an address nor a host name", () => {
    rejects({ HOST: "not a host!" }, "HOST", /IP address or a host name/);
    rejects({ HOST: "   " }, "HOST", /IP address or a host name/);
    rejects({ HOST: "http://127.0.0.1" }, "HOST", /IP address or a host name/);
  });

  it("BROKER_ISSUER with a trailing slash, a query or a fragment, or not http(s)", () => {
    rejects({ BROKER_ISSUER: "https://auth.example.com/" }, "BROKER_ISSUER", /trailing slash/);
    rejects({ BROKER_ISSUER: "https://auth.example.com/broker/" }, "BROKER_ISSUER", /trailing slash/);
    rejects({ BROKER_ISSUER: "https://auth.example.com?tenant=a" }, "BROKER_ISSUER", /query/);
    rejects({ BROKER_ISSUER: "https://auth.example.com/x?" }, "BROKER_ISSUER", /query/);
    rejects({ BROKER_ISSUER: "https://auth.example.com#top" }, "BROKER_ISSUER", /fragment/);
    rejects({ BROKER_ISSUER: "ftp://auth.example.com" }, "BROKER_ISSUER", /http:\/\/ or https:\/\//);
  });

  it("BROKER_ENCRYPTION_KEYS missing points at `authbroker init`", () => {
    assert.throws(
      () => loadConfig({}),
      (err: unknown) =>
        err instanceof ConfigError && err.variable === "BROKER_ENCRYPTION_KEYS" && /is not set/.test(err.problem) && /authbroker init/.test(err.problem),
    );
  });

  it("BROKER_ENCRYPTION_KEYS with a key of the wrong length", () => {
    rejects({ BROKER_ENCRYPTION_KEYS: `k1:${randomBytes(16).toString("base64")}` }, "BROKER_ENCRYPTION_KEYS", /"k1" must be 32 bytes/);
    rejects({ BROKER_ENCRYPTION_KEYS: `k1:${randomBytes(33).toString("base64")}` }, "BROKER_ENCRYPTION_KEYS", /"k1" must be 32 bytes/);
    rejects({ BROKER_ENCRYPTION_KEYS: "k1:not*base64" }, "BROKER_ENCRYPTION_KEYS", /"k1" must be 32 bytes/);
  });

  it("BROKER_ENCRYPTION_KEYS with a bad or missing key id", () => {
    rejects({ BROKER_ENCRYPTION_KEYS: `bad kid:${randomBytes(32).toString("base64")}` }, "BROKER_ENCRYPTION_KEYS", /entry 1 must be kid:base64key/);
    rejects({ BROKER_ENCRYPTION_KEYS: randomBytes(32).toString("base64") }, "BROKER_ENCRYPTION_KEYS", /entry 1 must be kid:base64key/);
    rejects(
      { BROKER_ENCRYPTION_KEYS: `${KEY},${"x".repeat(33)}:${randomBytes(32).toString("base64")}` },
      "BROKER_ENCRYPTION_KEYS",
      /entry 2 must be kid:base64key/,
    );
  });

  it("BROKER_ENCRYPTION_KEYS with a key id twice", () => {
    rejects({ BROKER_ENCRYPTION_KEYS: `${KEY},k1:${randomBytes(32).toString("base64")}` }, "BROKER_ENCRYPTION_KEYS", /"k1" appears twice/);
  });

  it("BROKER_ALLOW_PRIVATE_HOSTS with something that is not a CIDR", () => {
    rejects({ BROKER_ALLOW_PRIVATE_HOSTS: "127.0.0.0/8,10.0.0.0/33" }, "BROKER_ALLOW_PRIVATE_HOSTS", /"10\.0\.0\.0\/33" is not a CIDR/);
    rejects({ BROKER_ALLOW_PRIVATE_HOSTS: "localhost" }, "BROKER_ALLOW_PRIVATE_HOSTS", /"localhost" is not a CIDR/);
    rejects({ BROKER_ALLOW_PRIVATE_HOSTS: "::1/129" }, "BROKER_ALLOW_PRIVATE_HOSTS", /is not a CIDR/);
    rejects({ BROKER_ALLOW_PRIVATE_HOSTS: "10.0.0.0/8x" }, "BROKER_ALLOW_PRIVATE_HOSTS", /is not a CIDR/);
  });

  it("BROKER_OUTBOUND_CA_FILE that cannot be read or holds no certificate", () => {
    rejects({ BROKER_OUTBOUND_CA_FILE: "/nonexistent/ca.pem" }, "BROKER_OUTBOUND_CA_FILE", /cannot be read \(ENOENT\): \/nonexistent\/ca\.pem/);
    const notPem = join(mkdtempSync(join(tmpdir(), "authbroker-config-")), "ca.pem");
    writeFileSync(notPem, "not a certificate");
    rejects({ BROKER_OUTBOUND_CA_FILE: notPem }, "BROKER_OUTBOUND_CA_FILE", /holds no PEM certificate/);
  });

  it("BROKER_OUTBOUND_CA_FILE's certificates are read at start", () => {
    const file = join(mkdtempSync(join(tmpdir(), "authbroker-config-")), "ca.pem");
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    writeFileSync(file, pem);
    assert.equal(loadConfig({ BROKER_ENCRYPTION_KEYS: KEY, BROKER_OUTBOUND_CA_FILE: file }).outboundCa, pem);
    assert.equal(loadConfig({ BROKER_ENCRYPTION_KEYS: KEY }).outboundCa, undefined);
  });

  it("LOG_LEVEL that pino does not know", () => {
    rejects({ LOG_LEVEL: "verbose" }, "LOG_LEVEL", /must be one of fatal, error, warn, info, debug, trace, silent/);
  });

  it("BROKER_ADMIN_TOKEN shorter than 32 characters", () => {
    rejects({ BROKER_ADMIN_TOKEN: "short-token" }, "BROKER_ADMIN_TOKEN", /at least 32 characters/);
  });

  it("SHUTDOWN_GRACE_MS that is not a whole number of milliseconds", () => {
    rejects({ SHUTDOWN_GRACE_MS: "soon" }, "SHUTDOWN_GRACE_MS", /must be an integer/);
  });

  it("TRUST_PROXY_HOPS outside 0-10", () => {
    rejects({ TRUST_PROXY_HOPS: "11" }, "TRUST_PROXY_HOPS", /must be 0-10/);
    rejects({ TRUST_PROXY_HOPS: "yes" }, "TRUST_PROXY_HOPS", /must be an integer/);
  });

  it("ACCESS_TOKEN_MAX_TTL_SECONDS and REFRESH_TOKEN_MAX_TTL_SECONDS outside 60 s .. 1 year", () => {
    rejects({ ACCESS_TOKEN_MAX_TTL_SECONDS: "59" }, "ACCESS_TOKEN_MAX_TTL_SECONDS", /must be 60-31536000/);
    rejects({ REFRESH_TOKEN_MAX_TTL_SECONDS: "31536001" }, "REFRESH_TOKEN_MAX_TTL_SECONDS", /must be 60-31536000/);
    rejects({ ACCESS_TOKEN_MAX_TTL_SECONDS: "1d" }, "ACCESS_TOKEN_MAX_TTL_SECONDS", /must be an integer/);
  });

  it("never echoes a secret value in the error line", () => {
    const secret = randomBytes(16).toString("base64");
    assert.throws(
      () => loadConfig({ BROKER_ENCRYPTION_KEYS: `k1:${secret}` }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes(secret),
    );
  });
});

describe("docs/operations.md configuration table", () => {
  it("lists exactly the variables declared in src/config.ts", () => {
    const operations = readFileSync("docs/operations.md", "utf8");
    const section = operations.split(/^## /m).find((s) => s.startsWith("Configuration"));
    assert.ok(section, "docs/operations.md has a ## Configuration section");
    const documented = [...section.matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]);
    assert.deepEqual([...documented].sort(), [...ENV_VARS].sort());
  });
});
