/**
 * Organisation-wide server-to-server access as the big suites do it, with
 * the SHIPPED connector files (connectors/microsoft-graph-app.yaml,
 * google-service-account.yaml, box.yaml) pointed at local token endpoints
 * that check each assertion as the real ones do
 * (test/support/org-wide-upstreams.ts): Microsoft Graph app-only (client
 * credentials with a certificate: a private_key_jwt client assertion
 * carrying `x5t#S256`), Google domain-wide delegation (`sub` = the user to
 * act as), Box enterprise (`box_sub_type: enterprise`). Credentials are
 * stored through the real CLI, as an operator would.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK, type JWK } from "jose";
import { startTestBroker, type TestBroker } from "../../support/broker.js";
import { randomKeyEntry, TEST_REDIS_URL } from "../../support/services.js";
import { registerTestApp, type TestApp } from "../../support/flow.js";
import { rewriteShippedConnector, startOrgWideUpstreams, type OrgWideUpstreams } from "../../support/org-wide-upstreams.js";
import { buildKindContext } from "../../../src/connectors/context.js";
import { isRefresher, isServiceTokenFetcher } from "../../../src/connectors/kinds/types.js";
import { ConnectorNotConfigured } from "../../../src/connectors/errors.js";

const BIN = fileURLToPath(new URL("../../../bin/authbroker.js", import.meta.url));
const SHIPPED = fileURLToPath(new URL("../../../connectors/", import.meta.url));
const TENANT = "0f0e0d0c-aaaa-bbbb-cccc-contoso00001";
const ENTRA_CLIENT = "11111111-2222-3333-4444-555555555555";
const GOOGLE_SA = "broker@acme-project.iam.gserviceaccount.com";
const BOX = { clientId: "box-client-id-0123", clientSecret: "box-client-secret-0123456789", publicKeyId: "box-key-7" };

describe("organisation-wide server-to-server connectors", () => {
  const keys = randomKeyEntry();
  const scratch = mkdtempSync(join(tmpdir(), "authbroker-orgwide-"));
  let upstreams: OrgWideUpstreams;
  let broker: TestBroker;
  let app: TestApp;

  function cli(args: string[], input?: string) {
    const result = spawnSync(process.execPath, [BIN, ...args], {
      cwd: scratch,
      env: {
        PATH: process.env.PATH ?? "",
        CONNECTORS_DIR: broker.services.config.connectorsDir,
        DATABASE_URL: broker.services.database.url,
        BROKER_ENCRYPTION_KEYS: keys,
        REDIS_URL: TEST_REDIS_URL,
        MICROSOFT_TENANT_ID: TENANT,
      },
      encoding: "utf8",
      timeout: 60_000,
      input,
    });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** A key and a self-signed certificate for it, made as the connector file tells the operator to. */
  function opensslKeyAndCertificate(name: string): { key: string; cert: string } {
    const key = join(scratch, `${name}-key.pem`);
    const cert = join(scratch, `${name}-cert.pem`);
    const made = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=authbroker"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(made.status, 0, made.stderr);
    return { key, cert };
  }

  /** A service grant of a connector for the test app, as the connect flow asks the kind for it. */
  async function serviceGrant(connectorId: string, scopeNames: string[], subject?: string) {
    const connector = broker.services.connectors.get(connectorId)!;
    const kind = broker.services.kinds.for(connector);
    assert.ok(isServiceTokenFetcher(kind) && isRefresher(kind));
    const ctx = await buildKindContext(broker.services, { connector, appId: app.id, upstreamScopes: scopeNames.flatMap((name) => connector.scopes[name]!) });
    return { grant: await kind.fetchServiceGrant(ctx, subject), refresh: () => kind.refresh({ ...ctx, fields: subject ? { subject } : undefined }, "") };
  }

  before(async () => {
    upstreams = await startOrgWideUpstreams();
    const shipped = (name: string) => rewriteShippedConnector(readFileSync(join(SHIPPED, name), "utf8"), upstreams);
    broker = await startTestBroker({
      connectors: {
        "microsoft-graph-app.yaml": shipped("microsoft-graph-app.yaml"),
        "google-service-account.yaml": shipped("google-service-account.yaml"),
        "box.yaml": shipped("box.yaml"),
      },
      env: { MICROSOFT_TENANT_ID: TENANT, BROKER_ENCRYPTION_KEYS: keys },
    });
    app = await registerTestApp(broker);
  });

  after(async () => {
    await broker?.stop();
    await upstreams?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  describe("Microsoft Graph app-only (client credentials with a certificate)", () => {
    it("refuses keygen and a key without its certificate, saying what to run", () => {
      const keygen = cli(["credentials", "keygen", "microsoft-graph-app"]);
      assert.equal(keygen.status, 2);
      assert.match(keygen.stderr, /keygen makes no certificate.*--certificate-file cert\.pem/);
      const { key } = opensslKeyAndCertificate("bare");
      const bare = cli(["credentials", "set", "microsoft-graph-app", "--client-id", ENTRA_CLIENT, "--private-key-file", key]);
      assert.equal(bare.status, 2);
      assert.match(bare.stderr, /names its key by certificate: add --certificate-file/);
      const other = opensslKeyAndCertificate("other");
      const mismatched = cli(["credentials", "set", "microsoft-graph-app", "--private-key-file", key, "--certificate-file", other.cert]);
      assert.equal(mismatched.status, 2);
      assert.match(mismatched.stderr, /the certificate is for another key than the private key/);
    });

    it("a connector whose stored key has no certificate is not configured, and the error says how to fix it", async () => {
      await assert.rejects(serviceGrant("microsoft-graph-app", ["graph"]), (err: unknown) => {
        assert.ok(err instanceof ConnectorNotConfigured);
        assert.match(err.message, /--private-key-file key\.pem --certificate-file cert\.pem/);
        return true;
      });
    });

    it("gets an app-only token with an assertion Entra accepts: x5t#S256 of the uploaded certificate, aud the token endpoint, iss = sub = client id", async () => {
      const { key, cert } = opensslKeyAndCertificate("entra");
      const stored = cli([
        "credentials",
        "set",
        "microsoft-graph-app",
        "--client-id",
        ENTRA_CLIENT,
        "--private-key-file",
        key,
        "--certificate-file",
        cert,
        "--json",
      ]);
      assert.equal(stored.status, 0, stored.stderr);
      const printed = JSON.parse(stored.stdout) as { certificateThumbprint: string };
      upstreams.registerEntraApp(TENANT, ENTRA_CLIENT, readFileSync(cert, "utf8"));

      const { grant } = await serviceGrant("microsoft-graph-app", ["graph"]);
      const { header, claims, form } = upstreams.accepted.at(-1)!;
      assert.equal(upstreams.accepted.at(-1)!.suite, "entra");
      assert.equal(header["x5t#S256"], printed.certificateThumbprint);
      assert.equal(header.alg, "RS256");
      assert.equal(claims.aud, `${upstreams.url}/entra/${TENANT}/oauth2/v2.0/token`);
      assert.deepEqual([claims.iss, claims.sub], [ENTRA_CLIENT, ENTRA_CLIENT]);
      assert.ok(claims.exp! - claims.nbf! <= 600 && claims.exp! > Date.now() / 1000);
      assert.equal(form.scope, "https://graph.microsoft.com/.default");
      assert.equal(form.client_secret, undefined);
      assert.equal(grant.tokens.expirySource, "expires_in");
      assert.equal(grant.identity.subject, ENTRA_CLIENT, "the account stands for the app itself");
    });

    it("a certificate the tenant never saw is refused by the upstream", async () => {
      const { key, cert } = opensslKeyAndCertificate("unknown");
      assert.equal(cli(["credentials", "set", "microsoft-graph-app", "--private-key-file", key, "--certificate-file", cert]).status, 0);
      // The app-only token of the previous test is shared while valid (client_credentials): forget it.
      const cached = await broker.services.redis.keys("upstream:shared-token:microsoft-graph-app:*");
      if (cached.length > 0) await broker.services.redis.del(...cached);
      await assert.rejects(serviceGrant("microsoft-graph-app", ["graph"]));
      assert.match(upstreams.refused.at(-1)!.body.error_description ?? "", /AADSTS700027: the certificate with this thumbprint is not registered/);
    });
  });

  describe("Google domain-wide delegation", () => {
    let publicJwk: JWK;
    before(async () => {
      const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
      const keyFile = join(scratch, "service-account.json");
      const privateKeyId = "6f1e0c0ffee0123456789abcdef0123456789abc";
      writeFileSync(
        keyFile,
        JSON.stringify({
          type: "service_account",
          project_id: "acme-project",
          private_key_id: privateKeyId,
          private_key: privateKey.export({ format: "pem", type: "pkcs8" }),
          client_email: GOOGLE_SA,
        }),
      );
      const stored = cli(["credentials", "set", "google-service-account", "--private-key-file", keyFile]);
      assert.equal(stored.status, 0, stored.stderr);
      publicJwk = { ...(await exportJWK(publicKey)), kid: privateKeyId };
      upstreams.registerGoogleServiceAccount(GOOGLE_SA, publicJwk, { domain: "acme.example", scopes: ["https://www.googleapis.com/auth/drive.readonly"] });
    });

    it("acts as a user of the domain: sub is the user, the scopes a claim, kid the key file's private_key_id, at most an hour", async () => {
      const { grant } = await serviceGrant("google-service-account", ["drive.read"], "alice@acme.example");
      const { header, claims } = upstreams.accepted.at(-1)!;
      assert.equal(upstreams.accepted.at(-1)!.suite, "google");
      assert.deepEqual([header.alg, header.kid, header.typ], ["RS256", publicJwk.kid, "JWT"]);
      assert.equal(claims.iss, GOOGLE_SA);
      assert.equal(claims.sub, "alice@acme.example");
      assert.equal(claims.scope, "https://www.googleapis.com/auth/drive.readonly");
      assert.equal(claims.aud, `${upstreams.url}/google/token`);
      assert.ok(claims.exp! - claims.iat! <= 3600);
      assert.equal(grant.identity.subject, "alice@acme.example");
      assert.deepEqual(grant.tokens.fields, { subject: "alice@acme.example" }, "the user is kept for the next assertion");
    });

    it("without a user, acts as the service account itself (no sub)", async () => {
      await serviceGrant("google-service-account", ["drive.read"]);
      assert.equal(upstreams.accepted.at(-1)!.claims.sub, undefined);
    });

    it("a user outside the delegated domain, or a scope the admin did not allow, is refused by the upstream", async () => {
      await assert.rejects(serviceGrant("google-service-account", ["drive.read"], "mallory@elsewhere.example"));
      assert.equal(upstreams.refused.at(-1)!.body.error, "unauthorized_client");
      await assert.rejects(serviceGrant("google-service-account", ["gmail.read"], "alice@acme.example"));
      assert.equal(upstreams.refused.at(-1)!.body.error, "unauthorized_client");
    });
  });

  describe("Box enterprise (JWT app)", () => {
    before(async () => {
      const made = cli(["credentials", "keygen", "box", "--kid", BOX.publicKeyId, "--json"]);
      assert.equal(made.status, 0, made.stderr);
      const { publicJwk } = JSON.parse(made.stdout) as { publicJwk: JWK };
      const stored = cli(["credentials", "set", "box", "--client-id", BOX.clientId, "--client-secret-stdin"], `${BOX.clientSecret}\n`);
      assert.equal(stored.status, 0, stored.stderr);
      upstreams.registerBoxApp({ ...BOX, publicJwk, enterprises: ["1234567"] });
    });

    it("acts for an enterprise that authorized the app: kid the registered key id, box_sub_type enterprise, exp within 60 s, a long jti, id and secret in the body", async () => {
      const { grant, refresh } = await serviceGrant("box", [], "1234567");
      const { header, claims, form } = upstreams.accepted.at(-1)!;
      assert.equal(upstreams.accepted.at(-1)!.suite, "box");
      assert.deepEqual([header.alg, header.kid], ["RS256", BOX.publicKeyId]);
      assert.deepEqual([claims.iss, claims.sub, claims.box_sub_type], [BOX.clientId, "1234567", "enterprise"]);
      assert.equal(claims.aud, `${upstreams.url}/box/oauth2/token`);
      assert.ok(claims.exp! - Date.now() / 1000 <= 60);
      assert.ok(String(claims.jti).length >= 16 && String(claims.jti).length <= 128);
      assert.deepEqual([form.client_id, form.client_secret], [BOX.clientId, BOX.clientSecret]);
      assert.equal(grant.identity.subject, "svc-1234567", "who it is comes from /users/me: the enterprise's service account");
      assert.equal(grant.tokens.expirySource, "expires_in");
      await refresh();
      assert.equal(upstreams.accepted.at(-1)!.claims.sub, "1234567", "the refresh asserts the same enterprise");
    });

    it("an enterprise that did not authorize the app is refused by the upstream", async () => {
      await assert.rejects(serviceGrant("box", [], "7654321"));
      assert.match(upstreams.refused.at(-1)!.body.error_description ?? "", /has not authorized this app/);
    });
  });
});
