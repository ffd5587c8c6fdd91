/**
 * The broker's upstream client credentials: the app's own row first, then
 * the connector-wide default, then the connector file; secrets sealed and
 * bound to their row; a connector with none anywhere is a clear error. A
 * per-server connector whose token endpoint is on the end user's server
 * uses the credentials registered for that server, and the connector-wide
 * ones only for the servers its file lists.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { stringify } from "yaml";
import { parseConnectorText } from "../../../src/connectors/loader.js";
import { checkedServerName, isRegisteredServer, resolveConnectorCredentials, setConnectorCredentials } from "../../../src/connectors/credentials.js";
import { ConnectorNotConfigured, ServerNotRegistered } from "../../../src/connectors/errors.js";
import { SealError } from "../../../src/crypto/keyring.js";
import { NotFound } from "../../../src/errors.js";
import { createTestServices, type TestServices } from "../../support/services.js";

function connector(id: string, env: NodeJS.ProcessEnv, extra: Record<string, unknown> = {}) {
  return parseConnectorText(
    `connectors/${id}.yaml`,
    stringify({
      id,
      name: id,
      auth: {
        kind: "oidc",
        issuer: "https://login.example",
        clientId: `\${env:${id.toUpperCase()}_ID}`,
        clientSecret: `\${env:${id.toUpperCase()}_SECRET}`,
        ...extra,
      },
    }),
    env,
  );
}

describe("upstream client credentials", () => {
  let services: TestServices;

  before(async () => {
    services = await createTestServices();
    for (const id of ["app_one", "app_two"]) {
      await services.db.app.create({
        data: { id, name: id, tokenEndpointAuthMethod: "client_secret_basic", redirectUris: [], grantTypes: [], responseTypes: [], scopes: [] },
      });
    }
  });

  after(async () => {
    await services?.teardown();
  });

  it("come from the connector file when nothing is stored", async () => {
    const file = connector("filed", { FILED_ID: "file-id", FILED_SECRET: "file-secret" });
    assert.deepEqual(await resolveConnectorCredentials(services, file, "app_one"), { clientId: "file-id", clientSecret: "file-secret", source: "file" });
  });

  it("the connector-wide default row beats the file, and an app's own row beats both", async () => {
    const both = connector("layered", { LAYERED_ID: "file-id", LAYERED_SECRET: "file-secret" });
    await setConnectorCredentials(services, { connectorId: "layered", clientId: "default-id", clientSecret: "default-secret" });
    await setConnectorCredentials(services, { connectorId: "layered", appId: "app_one", clientId: "one-id", clientSecret: "one-secret" });
    assert.deepEqual(await resolveConnectorCredentials(services, both, "app_one"), { clientId: "one-id", clientSecret: "one-secret", source: "app" });
    assert.deepEqual(await resolveConnectorCredentials(services, both, "app_two"), {
      clientId: "default-id",
      clientSecret: "default-secret",
      source: "default",
    });
  });

  it("setting again replaces the stored id and secret (one row per connector and app)", async () => {
    const first = await setConnectorCredentials(services, { connectorId: "replaced", clientId: "id-1", clientSecret: "secret-1" });
    const second = await setConnectorCredentials(services, { connectorId: "replaced", clientId: "id-2", clientSecret: "secret-2" });
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.id, first.id);
    assert.equal(await services.db.connectorCredential.count({ where: { connectorId: "replaced" } }), 1);
    assert.deepEqual(await resolveConnectorCredentials(services, connector("replaced", {}), "app_one"), {
      clientId: "id-2",
      clientSecret: "secret-2",
      source: "default",
    });
  });

  it("the secret is stored sealed, and a sealed secret moved to another row does not open", async () => {
    const stored = await setConnectorCredentials(services, { connectorId: "sealed", clientId: "sealed-id", clientSecret: "very-secret-value" });
    const other = await setConnectorCredentials(services, { connectorId: "sealed", appId: "app_two", clientId: "other-id", clientSecret: "other-secret" });
    const row = await services.db.connectorCredential.findUniqueOrThrow({ where: { id: stored.id } });
    const sealed = row.sealedClientSecret;
    assert.ok(sealed !== null, "a secret is stored");
    assert.ok(sealed.startsWith("v1."));
    assert.ok(!sealed.includes("very-secret-value"));
    assert.equal(services.keyring.open(sealed, { rowId: stored.id, field: "ConnectorCredential.sealedClientSecret" }), "very-secret-value");
    // Swap the default's ciphertext into app_two's row: authentication fails instead of handing out another row's secret.
    await services.db.connectorCredential.update({ where: { id: other.id }, data: { sealedClientSecret: sealed } });
    await assert.rejects(resolveConnectorCredentials(services, connector("sealed", {}), "app_two"), SealError);
  });

  it("a connector with no credentials anywhere names the variables to set and the command to run", async () => {
    await assert.rejects(resolveConnectorCredentials(services, connector("bare", {}), "app_one"), (err: unknown) => {
      assert.ok(err instanceof ConnectorNotConfigured);
      assert.equal(err.code, "connector_not_configured");
      assert.equal(err.connectorId, "bare");
      assert.match(
        err.description,
        /connector "bare" has no upstream client id or client secret for app "app_one": set BARE_ID and BARE_SECRET, or run `authbroker credentials set bare/,
      );
      return true;
    });
  });

  it("a client id without a secret is not enough for client_secret_basic", async () => {
    await assert.rejects(
      resolveConnectorCredentials(services, connector("halfway", { HALFWAY_ID: "id-only" }), "app_one"),
      (err: unknown) => err instanceof ConnectorNotConfigured && /no upstream client secret/.test(err.description),
    );
  });

  it("private_key_jwt needs a stored private key, not a secret", async () => {
    const keyed = connector("keyed", { KEYED_ID: "kid-client" }, { tokenAuthMethod: "private_key_jwt" });
    await assert.rejects(
      resolveConnectorCredentials(services, keyed, "app_one"),
      (err: unknown) => err instanceof ConnectorNotConfigured && /private key/.test(err.description) && /credentials keygen keyed/.test(err.description),
    );
  });

  it("storing credentials for an app that does not exist is NotFound", async () => {
    await assert.rejects(setConnectorCredentials(services, { connectorId: "x", appId: "app_missing", clientId: "a", clientSecret: "b" }), NotFound);
  });

  describe("per-server connectors", () => {
    /** A GitLab-like connector: token endpoint on the end user's server; the file's credentials shared with `shared.example`. */
    const perServer = (id: string, sharedCredentialHosts: string[] = []) =>
      parseConnectorText(
        `connectors/${id}.yaml`,
        stringify({
          id,
          name: id,
          auth: {
            kind: "oauth2",
            authorizationUrl: "https://{hostname}/oauth/authorize",
            tokenUrl: "https://{hostname}/oauth/token",
            clientId: "file-id",
            clientSecret: "file-secret",
          },
          hostname: { sharedCredentialHosts },
          identity: { url: "https://{hostname}/api/v4/user", subject: "id" },
        }),
        {},
      );

    it("use the credentials registered for the server, the app's own first", async () => {
      const forge = perServer("forge");
      await setConnectorCredentials(services, {
        connectorId: "forge",
        hostname: "git.one.example",
        clientId: "one-default",
        clientSecret: "one-default-secret",
      });
      await setConnectorCredentials(services, {
        connectorId: "forge",
        hostname: "git.one.example",
        appId: "app_one",
        clientId: "one-app",
        clientSecret: "one-app-secret",
      });
      assert.deepEqual(await resolveConnectorCredentials(services, forge, "app_one", "git.one.example"), {
        clientId: "one-app",
        clientSecret: "one-app-secret",
        source: "app",
        hostname: "git.one.example",
      });
      assert.deepEqual(await resolveConnectorCredentials(services, forge, "app_two", "git.one.example"), {
        clientId: "one-default",
        clientSecret: "one-default-secret",
        source: "default",
        hostname: "git.one.example",
      });
      assert.equal(await isRegisteredServer(services.db, "forge", "git.one.example", "app_two"), true);
      assert.equal(await isRegisteredServer(services.db, "forge", "git.two.example", "app_two"), false);
    });

    it("never send the connector-wide ones (file or database) to a server the file does not list", async () => {
      const forge = perServer("forge-unlisted");
      await setConnectorCredentials(services, { connectorId: "forge-unlisted", clientId: "wide-id", clientSecret: "wide-secret" });
      await assert.rejects(
        resolveConnectorCredentials(services, forge, "app_one", "attacker.example"),
        (err: unknown) => err instanceof ServerNotRegistered && err.hostname === "attacker.example" && /--hostname attacker\.example/.test(err.description),
      );
      await assert.rejects(resolveConnectorCredentials(services, forge, "app_one"), TypeError, "a server is required");
    });

    it("send the connector-wide ones to the servers the file lists (a domain wildcard covers the hosts under it)", async () => {
      const forge = perServer("forge-shared", ["shared.example", "*.my.example"]);
      assert.deepEqual(await resolveConnectorCredentials(services, forge, "app_one", "shared.example"), {
        clientId: "file-id",
        clientSecret: "file-secret",
        source: "file",
      });
      assert.equal((await resolveConnectorCredentials(services, forge, "app_one", "acme.my.example")).clientId, "file-id");
      for (const host of ["my.example", "evilmy.example", "shared.example:8443", "shared.example.evil"]) {
        await assert.rejects(resolveConnectorCredentials(services, forge, "app_one", host), ServerNotRegistered, host);
      }
    });

    it("server names are stored as the connect pages store them, and only for connectors whose credentials go to the server", () => {
      assert.equal(checkedServerName(perServer("n"), " https://Git.Example.COM./ "), "git.example.com");
      assert.equal(checkedServerName(perServer("n"), "git.example.com:8443"), "git.example.com:8443");
      assert.throws(() => checkedServerName(perServer("n"), "git.example.com/path"), TypeError);
      assert.throws(() => checkedServerName(connector("wide", {}), "git.example.com"), /connector-wide/);
    });
  });

  it("storing records an audit event without the secret", async () => {
    await setConnectorCredentials(services, { connectorId: "audited", clientId: "a-id", clientSecret: "audit-secret" });
    const events = await services.db.auditEvent.findMany({ where: { action: "connector_credentials.set", connectorId: "audited" } });
    assert.equal(events.length, 1);
    assert.ok(!JSON.stringify({ ...events[0], id: String(events[0]!.id) }).includes("audit-secret"));
    assert.deepEqual(events[0]!.detail, { appKey: "*", created: true });
  });
});
