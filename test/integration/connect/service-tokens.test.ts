/**
 * Kinds where the broker acts with its own credentials (issue 5):
 * jwt_bearer (RFC 7523) with keys made by `authbroker credentials keygen`
 * or imported with `credentials set --private-key-file`, assertions
 * verified upstream with jose against the printed public key, the subject
 * asked on the connect page; and client_credentials, whose one token every
 * account of the connector app shares. The CLI runs as the real binary.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as client from "openid-client";
import { decodeJwt, type JWK } from "jose";
import { parse } from "node-html-parser";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { TestBrowser } from "../../support/browser.js";
import { randomKeyEntry, TEST_REDIS_URL } from "../../support/services.js";
import { registerTestApp, TEST_APP_REDIRECT, type TestApp } from "../../support/flow.js";
import { JWT_BEARER, startKindsUpstream, type KindsUpstream } from "../../support/kinds-upstream.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { refreshAccount } from "../../../src/accounts/refresh.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));
const CLIENT = { id: "broker-at-kinds", secret: "kinds-client-secret-0123456789" };

describe("jwt_bearer and client_credentials connectors", () => {
  const keys = randomKeyEntry();
  let upstream: KindsUpstream;
  let broker: TestBroker;
  let app: TestApp;
  let otherApp: TestApp;
  let cliEnv: Record<string, string>;
  const scratch = mkdtempSync(join(tmpdir(), "authbroker-keys-"));

  function cli(args: string[], input?: string) {
    const result = spawnSync(process.execPath, [BIN, ...args], {
      cwd: scratch,
      env: { PATH: process.env.PATH ?? "", ...cliEnv },
      encoding: "utf8",
      timeout: 60_000,
      input,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  before(async () => {
    upstream = await startKindsUpstream({ client: CLIENT });
    const identity = { url: upstream.meUrl, subject: "id", email: "email", name: "name" };
    broker = await startTestBroker({
      env: { BROKER_ENCRYPTION_KEYS: keys },
      connectors: {
        "box-like.json": {
          id: "box-like",
          name: "Boxy",
          auth: {
            kind: "jwt_bearer",
            tokenUrl: upstream.tokenUrl,
            claims: { box_sub_type: "enterprise" },
            subject: { label: "Enterprise ID", pattern: "[0-9]+", description: "A number." },
            tokenAuthMethod: "client_secret_post",
            assertionLifetimeSeconds: 60,
          },
          api: { baseUrl: upstream.apiUrl },
          identity,
        },
        "gsa-like.json": {
          id: "gsa-like",
          name: "Googly service account",
          auth: {
            kind: "jwt_bearer",
            tokenUrl: upstream.tokenUrl,
            scopeClaim: true,
            subject: { label: "User to act as", required: false },
            assertionLifetimeSeconds: 300,
          },
          scopes: { drive: ["drive.read"] },
          defaultScopes: ["drive"],
          api: { baseUrl: upstream.apiUrl },
        },
        "self-es.json": {
          id: "self-es",
          name: "Self ES",
          auth: { kind: "jwt_bearer", tokenUrl: upstream.tokenUrl, algorithm: "ES256" },
          api: { baseUrl: upstream.apiUrl },
        },
        "cc.json": {
          id: "cc",
          name: "Catalogue",
          auth: { kind: "client_credentials", tokenUrl: upstream.tokenUrl, clientId: CLIENT.id, clientSecret: CLIENT.secret },
          scopes: { catalog: ["catalog.read"] },
          defaultScopes: ["catalog"],
          api: { baseUrl: upstream.apiUrl },
        },
      },
    });
    app = await registerTestApp(broker);
    otherApp = await registerTestApp(broker);
    cliEnv = {
      CONNECTORS_DIR: broker.services.config.connectorsDir,
      DATABASE_URL: broker.services.database.url,
      BROKER_ENCRYPTION_KEYS: keys,
      REDIS_URL: TEST_REDIS_URL,
    };
  });

  after(async () => {
    await broker?.stop();
    await upstream?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const toApp = { stopAt: (u: URL) => u.href.startsWith(TEST_APP_REDIRECT) };

  async function startConnect(target: TestApp, connector: string) {
    const browser = new TestBrowser();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const url = client.buildAuthorizationUrl(target.config, {
      redirect_uri: TEST_APP_REDIRECT,
      scope: "proxy",
      connector,
      state,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    });
    const page = await browser.navigate(url, toApp);
    return { browser, page, verifier, state };
  }

  async function accountIdOf(target: TestApp, back: URL, started: { verifier: string; state: string }): Promise<string> {
    assert.ok(back.searchParams.get("code"), `expected a code, got ${back.href}`);
    const tokens = await client.authorizationCodeGrant(target.config, back, { pkceCodeVerifier: started.verifier, expectedState: started.state });
    return String(decodeJwt(tokens.access_token).acct);
  }

  describe("authbroker credentials keygen / set", () => {
    it("keygen seals a new private key and prints only the public key, as PEM and JWK", async () => {
      const result = cli(["credentials", "keygen", "box-like", "--json"]);
      assert.equal(result.status, 0, result.stderr);
      const printed = JSON.parse(result.stdout) as { alg: string; kid: string; publicKeyPem: string; publicJwk: JWK; created: boolean };
      assert.equal(printed.alg, "RS256");
      assert.match(printed.publicKeyPem, /^-----BEGIN PUBLIC KEY-----\n/);
      assert.deepEqual(Object.keys(printed.publicJwk).sort(), ["alg", "e", "kid", "kty", "n", "use"]);
      const row = await broker.services.db.connectorCredential.findUniqueOrThrow({
        where: { connectorId_appKey_hostname: { connectorId: "box-like", appKey: "*", hostname: "" } },
      });
      assert.match(String(row.sealedPrivateJwk), /^v1\./);
      const privateJwk = broker.services.keyring.openJson<JWK>(row.sealedPrivateJwk!, { rowId: row.id, field: "ConnectorCredential.sealedPrivateJwk" });
      assert.equal(privateJwk.kid, printed.kid);
      assert.ok(privateJwk.d && !result.stdout.includes(privateJwk.d), "the private key is never printed");
      assert.deepEqual(row.publicJwk, printed.publicJwk);
      upstream.registerJwk(printed.publicJwk);

      const text = cli(["credentials", "keygen", "self-es", "--alg", "ES256", "--kid", "es-key-1"]);
      assert.equal(text.status, 0, text.stderr);
      assert.match(text.stdout, /stored a new ES256 private key of "self-es" as the default for every app \(kid es-key-1\)/);
      const jwk = JSON.parse(text.stdout.slice(text.stdout.indexOf("{"))) as JWK;
      assert.deepEqual([jwk.kty, jwk.crv, jwk.kid, jwk.d], ["EC", "P-256", "es-key-1", undefined]);
      upstream.registerJwk(jwk);
    });

    it("credentials set stores the client id and secret next to the key, which is kept", () => {
      const result = cli(["credentials", "set", "box-like", "--client-id", CLIENT.id, "--client-secret-stdin", "--json"], `${CLIENT.secret}\n`);
      assert.equal(result.status, 0, result.stderr);
      assert.deepEqual(JSON.parse(result.stdout), {
        connector: "box-like",
        app: null,
        appKey: "*",
        hostname: null,
        clientId: CLIENT.id,
        clientSecretStored: true,
        created: false,
      });
      assert.equal(
        cli(["credentials", "set", "self-es", "--client-id", CLIENT.id]).status,
        0,
        "no secret needed where the assertion is the only authentication",
      );
    });

    it("credentials set --private-key-file imports a Google service-account key file, its client_email and key id", async () => {
      const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const file = join(scratch, "service-account.json");
      writeFileSync(
        file,
        JSON.stringify({
          type: "service_account",
          client_email: "robot@project.iam.gserviceaccount.test",
          private_key_id: "g-key-77",
          private_key: privateKey.export({ type: "pkcs8", format: "pem" }),
        }),
      );
      const result = cli(["credentials", "set", "gsa-like", "--private-key-file", file, "--json"]);
      assert.equal(result.status, 0, result.stderr);
      const printed = JSON.parse(result.stdout) as { clientId: string; kid: string; alg: string; publicJwk: JWK };
      assert.deepEqual([printed.clientId, printed.kid, printed.alg], ["robot@project.iam.gserviceaccount.test", "g-key-77", "RS256"]);
      assert.equal(printed.publicJwk.d, undefined);
      upstream.registerJwk(printed.publicJwk);
    });

    it("refuses keygen for a connector that signs nothing, and a key file without a private key (exit 2)", () => {
      const cc = cli(["credentials", "keygen", "cc"]);
      assert.equal(cc.status, 2);
      assert.match(cc.stderr, /signs nothing/);
      const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const file = join(scratch, "public.pem");
      writeFileSync(file, publicKey.export({ type: "spki", format: "pem" }));
      const pub = cli(["credentials", "set", "gsa-like", "--private-key-file", file]);
      assert.equal(pub.status, 2);
      assert.match(pub.stderr, /not a PEM private key|public key/);
      assert.equal(cli(["credentials", "keygen", "box-like", "--alg", "HS256"]).status, 2);
    });
  });

  describe("jwt_bearer", () => {
    it("asks for the subject, and the upstream verifies the signed assertion: iss, sub, aud, extra claims, jti, a short exp", async () => {
      upstream.setJwtBearerPolicy({ issuer: CLIENT.id, requiredClaims: { box_sub_type: "enterprise" }, maxLifetimeSeconds: 60, requireClientSecretPost: true });
      const started = await startConnect(app, "box-like");
      assert.equal(started.page.url.pathname, "/connect/credentials");
      const subject = parse(started.page.body).querySelector('input[name="subject"]')!;
      assert.equal(parse(started.page.body).querySelector(`label[for="${subject.getAttribute("id")}"]`)?.text, "Enterprise ID");
      assert.equal(subject.getAttribute("type"), "text");

      const wrongShape = await started.browser.submitForm(started.page, { fields: { subject: "acme" }, ...toApp });
      assert.match(parse(wrongShape.body).querySelector('[role="alert"]')!.text, /Enterprise ID does not have the expected format/);
      assert.equal(upstream.assertions.length, 0, "nothing was signed for a subject of the wrong shape");

      const back = await started.browser.submitForm(wrongShape, { fields: { subject: "4242" }, ...toApp });
      const accountId = await accountIdOf(app, back.url, started);
      const { header, claims } = upstream.assertions.at(-1)!;
      const printedKid = (await broker.services.db.connectorCredential.findFirstOrThrow({ where: { connectorId: "box-like" } })).publicJwk as JWK;
      assert.deepEqual([header.alg, header.kid, header.typ], ["RS256", printedKid.kid, "JWT"]);
      assert.equal(claims.iss, CLIENT.id);
      assert.equal(claims.sub, "4242");
      assert.equal(claims.aud, upstream.tokenUrl);
      assert.equal(claims.box_sub_type, "enterprise");
      assert.ok(typeof claims.jti === "string" && claims.jti.length >= 16);
      assert.ok(claims.exp! - claims.iat! <= 60);
      const form = upstream.requests.filter((r) => r.form?.grant_type === JWT_BEARER).at(-1)!.form!;
      assert.deepEqual([form.client_id, form.client_secret], [CLIENT.id, CLIENT.secret], "Box-style client_secret_post next to the assertion");
      const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
      assert.equal(account.upstreamSubject, "4242");
      const stored = await readCredentials(broker.services.db, broker.services.keyring, accountId);
      assert.deepEqual(stored?.fields, { subject: "4242" });
      assert.equal(stored?.refreshToken, undefined);

      // A new assertion is the refresh: same subject, new jti.
      const refreshed = await refreshAccount(broker.services, accountId, { force: true });
      assert.equal(refreshed.outcome, "refreshed");
      const next = upstream.assertions.at(-1)!.claims;
      assert.equal(next.sub, "4242");
      assert.notEqual(next.jti, claims.jti);
      assert.notEqual(refreshed.credentials.accessToken, stored?.accessToken);
    });

    it("a subject the upstream refuses is shown on the form", async () => {
      upstream.setJwtBearerPolicy({ issuer: CLIENT.id, requiredClaims: { box_sub_type: "enterprise" }, requireClientSecretPost: true, subjects: ["4242"] });
      const started = await startConnect(app, "box-like");
      const again = await started.browser.submitForm(started.page, { fields: { subject: "999" }, ...toApp });
      assert.equal(again.url.pathname, "/connect/credentials");
      assert.match(parse(again.body).querySelector('[role="alert"]')!.text, /Boxy refused access for this Enterprise ID/);
      assert.equal(parse(again.body).querySelector('input[name="subject"]')?.getAttribute("value"), "999");
    });

    it("an optional subject left empty sends no sub; scopes go in the assertion's scope claim", async () => {
      upstream.setJwtBearerPolicy({ issuer: "robot@project.iam.gserviceaccount.test", maxLifetimeSeconds: 300 });
      const started = await startConnect(app, "gsa-like");
      assert.match(started.page.body, /User to act as <span class="muted">\(optional\)<\/span>/);
      const back = await started.browser.submitForm(started.page, { fields: { subject: "" }, ...toApp });
      await accountIdOf(app, back.url, started);
      const { header, claims } = upstream.assertions.at(-1)!;
      assert.equal(header.kid, "g-key-77");
      assert.equal(claims.sub, undefined);
      assert.equal(claims.scope, "drive.read");
      assert.equal(upstream.requests.filter((r) => r.form?.grant_type === JWT_BEARER).at(-1)!.form!.scope, undefined);
    });

    it("a connector without a subject connects at once, as itself (sub = its client id), with an ES256 key", async () => {
      upstream.setJwtBearerPolicy({ issuer: CLIENT.id });
      const started = await startConnect(app, "self-es");
      assert.ok(started.page.stopped, "no page to fill in");
      assert.ok(!started.page.chain.some((u) => u.pathname.startsWith("/connect/") && u.pathname !== "/connect/start"), "no page to fill in");
      const accountId = await accountIdOf(app, started.page.url, started);
      const { header, claims } = upstream.assertions.at(-1)!;
      assert.deepEqual([header.alg, header.kid, claims.sub], ["ES256", "es-key-1", CLIENT.id]);
      assert.equal((await broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } })).upstreamSubject, CLIENT.id);
    });
  });

  describe("client_credentials", () => {
    it("connects at once, and every account of the connector app shares one upstream token", async () => {
      await broker.services.redis.del(...(await broker.services.redis.keys("upstream:shared-token:cc:*")), "none");
      const before = upstream.grants.client_credentials ?? 0;
      const first = await startConnect(app, "cc");
      assert.ok(first.page.stopped);
      const firstAccount = await accountIdOf(app, first.page.url, first);
      const second = await startConnect(otherApp, "cc");
      const secondAccount = await accountIdOf(otherApp, second.page.url, second);
      assert.notEqual(firstAccount, secondAccount);
      assert.equal((upstream.grants.client_credentials ?? 0) - before, 1, "one token request for both accounts");
      const [a, b] = await Promise.all([firstAccount, secondAccount].map((id) => readCredentials(broker.services.db, broker.services.keyring, id)));
      assert.ok(a?.accessToken);
      assert.equal(a.accessToken, b?.accessToken);
      assert.equal(upstream.requests.filter((r) => r.form?.grant_type === "client_credentials").at(-1)!.form!.scope, "catalog.read");
      const account = await broker.services.db.account.findUniqueOrThrow({ where: { id: firstAccount } });
      assert.equal(account.upstreamSubject, CLIENT.id);
      const cached = (await broker.services.redis.keys("upstream:shared-token:cc:*"))[0]!;
      assert.ok(!((await broker.services.redis.get(cached)) ?? "").includes(a.accessToken), "the shared token is sealed in Redis");

      // Refreshing one account adopts the shared token while it is fresh: no upstream request.
      assert.equal((await refreshAccount(broker.services, firstAccount, { force: true })).outcome, "refreshed");
      assert.equal((upstream.grants.client_credentials ?? 0) - before, 1);

      // Once it runs out, one refresh fetches the next token and the other account adopts it.
      await broker.services.redis.del(cached);
      const renewed = await refreshAccount(broker.services, firstAccount, { force: true });
      assert.equal((upstream.grants.client_credentials ?? 0) - before, 2);
      assert.notEqual(renewed.credentials.accessToken, a.accessToken);
      const adopted = await refreshAccount(broker.services, secondAccount, { force: true });
      assert.equal(adopted.credentials.accessToken, renewed.credentials.accessToken);
      assert.equal((upstream.grants.client_credentials ?? 0) - before, 2);
    });

    it("an upstream that refuses the broker's client sends the app an error, and stores nothing", async () => {
      await broker.services.redis.del(...(await broker.services.redis.keys("upstream:shared-token:cc:*")), "none");
      const accounts = await broker.services.db.account.count();
      upstream.failNextToken(401, { error: "invalid_client" });
      const started = await startConnect(app, "cc");
      assert.ok(started.page.stopped);
      assert.equal(started.page.url.searchParams.get("error"), "server_error");
      assert.equal(started.page.url.searchParams.get("state"), started.state);
      assert.equal(await broker.services.db.account.count(), accounts);
    });
  });
});
