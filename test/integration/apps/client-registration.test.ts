/**
 * Registering and changing apps (src/apps/clients.ts, the Clients class)
 * called directly against the real database: every refusal of `create` with
 * its message, the defaults an app gets, secret rotation's stored overlap,
 * webhook changes, and lookups of ids too long to be any app's. The CLI,
 * the admin API and dynamic registration put their own checks in front
 * (cli/apps-cli, admin/admin-api, oauth/dynamic-registration).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { Clients, type CreateClientInput } from "../../../src/apps/clients.js";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { BrokerError } from "../../../src/errors.js";
import { GRANT_TYPES } from "../../../src/oauth/grants/index.js";
import { createTestServices, type TestServices } from "../../support/services.js";
import { sealedField } from "../../../src/crypto/sealed-fields.js";

const REDIRECT = "https://app.example/cb";
const EC_KEY = { kty: "EC", crv: "P-256", x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" };

async function refusal(promise: Promise<unknown>): Promise<{ code: string; description: string }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof BrokerError, String(err));
    return { code: err.code, description: err.description };
  }
  assert.fail("was accepted");
}

describe("app registration and changes", () => {
  let services: TestServices;
  let clients: Clients;
  const create = (input: Partial<CreateClientInput>) => clients.create({ name: "App", redirectUris: [REDIRECT], ...input }, services.keyring);
  const refused = async (input: Partial<CreateClientInput>) => (await refusal(create(input))).description;
  /** The app's stored webhook secret, opened as the webhook sender opens it (bound to the app's row and column). */
  const openedWebhookSecret = async (id: string) => {
    const row = await services.db.app.findUniqueOrThrow({ where: { id } });
    return row.sealedWebhookSecret === null
      ? null
      : services.keyring.open(row.sealedWebhookSecret, { rowId: id, field: sealedField("app", "sealedWebhookSecret") });
  };

  before(async () => {
    services = await createTestServices({ ACCESS_TOKEN_MAX_TTL_SECONDS: "7200", REFRESH_TOKEN_MAX_TTL_SECONDS: "864000" });
    clients = services.clients;
  });
  after(async () => services?.teardown());

  describe("create", () => {
    it("a confidential app by default: client_secret_basic with either secret method, a secret shown once and stored hashed, the defaults", async () => {
      const { client, secret, webhookSecret } = await create({ name: "  Padded  " });
      assert.match(secret!, /^abs_[A-Za-z0-9_-]{43}$/);
      assert.match(client.id, /^app_[A-Za-z0-9_-]+$/, "an app id says what it is");
      assert.equal(webhookSecret, undefined);
      assert.equal(client.secretHash, hashSecret(secret!));
      assert.deepEqual(
        {
          name: client.name,
          isPublic: client.isPublic,
          method: client.tokenEndpointAuthMethod,
          methods: client.tokenEndpointAuthMethods,
          grantTypes: client.grantTypes,
          responseTypes: client.responseTypes,
          scopes: client.scopes,
          connectors: client.connectors,
          ttls: [client.accessTokenTtl, client.refreshTokenTtl, client.idTokenTtl],
          allowUpstreamTokens: client.allowUpstreamTokens,
          webhookUrl: client.webhookUrl,
          requirePkce: client.requirePkce,
          registration: client.registration,
          registrationHash: client.registrationHash,
          jwks: client.jwks,
        },
        {
          name: "Padded",
          isPublic: false,
          method: "client_secret_basic",
          methods: ["client_secret_basic", "client_secret_post"],
          grantTypes: ["authorization_code", "refresh_token", "client_credentials"],
          responseTypes: ["code"],
          scopes: ["openid", "profile", "email", "offline_access", "proxy", "accounts:read"],
          connectors: [],
          // Access 3600 (under the 7200 limit), refresh cut from 30 days to the 10-day limit, ID 3600.
          ttls: [3600, 864000, 3600],
          allowUpstreamTokens: false,
          webhookUrl: null,
          requirePkce: true,
          registration: "cli",
          registrationHash: null,
          jwks: null,
        },
      );
      assert.deepEqual(await clients.find(client.id), client);
    });

    it("the default access lifetime is cut to a lower limit too", async () => {
      const limited = new Clients(services.db, { accessTokenMaxTtl: 900, refreshTokenMaxTtl: 864000 }, GRANT_TYPES);
      const { client } = await limited.create({ name: "Limited", redirectUris: [REDIRECT] });
      assert.deepEqual([client.accessTokenTtl, client.refreshTokenTtl], [900, 864000]);
    });

    it("an app registered for one secret method, a public app, a private_key_jwt app", async () => {
      const post = await create({ tokenEndpointAuthMethod: "client_secret_post" });
      assert.match(post.secret!, /^abs_/);
      assert.deepEqual(post.client.tokenEndpointAuthMethods, ["client_secret_post"]);
      const basic = await create({ tokenEndpointAuthMethod: "client_secret_basic" });
      assert.deepEqual(basic.client.tokenEndpointAuthMethods, ["client_secret_basic"]);
      const pub = await create({ isPublic: true });
      assert.deepEqual([pub.secret, pub.client.secretHash, pub.client.tokenEndpointAuthMethod, pub.client.isPublic], [undefined, null, "none", true]);
      assert.deepEqual(pub.client.grantTypes, ["authorization_code", "refresh_token"]);
      const jwt = await create({ tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [EC_KEY] } });
      assert.deepEqual([jwt.secret, jwt.client.secretHash, jwt.client.jwks], [undefined, null, { keys: [EC_KEY] }]);
    });

    it("an app allowed upstream tokens gets token exchange among its default grants", async () => {
      const { client } = await create({ allowUpstreamTokens: true });
      assert.deepEqual(client.grantTypes, ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"]);
      assert.equal(client.allowUpstreamTokens, true);
      const pub = await create({ isPublic: true, allowUpstreamTokens: true });
      assert.deepEqual(pub.client.grantTypes, ["authorization_code", "refresh_token"]);
    });

    it("what it keeps as given: lists, lifetimes, the webhook URL with a secret, PKCE opt-out, registration", async () => {
      const { client, webhookSecret } = await create({
        grantTypes: ["authorization_code"],
        responseTypes: ["id_token code", "code"],
        scopes: ["openid"],
        connectors: ["github"],
        accessTokenTtl: 60,
        refreshTokenTtl: 864000,
        idTokenTtl: 31_536_000,
        webhookUrl: "https://app.example/hook",
        requirePkce: false,
        registration: "dynamic",
        registrationHash: "h1",
      });
      assert.match(webhookSecret!, /^whsec_/);
      assert.deepEqual(
        [client.grantTypes, client.responseTypes, client.scopes, client.connectors],
        [["authorization_code"], ["code id_token", "code"], ["openid"], ["github"]],
      );
      assert.deepEqual([client.accessTokenTtl, client.refreshTokenTtl, client.idTokenTtl], [60, 864000, 31_536_000]);
      assert.deepEqual(
        [client.webhookUrl, client.requirePkce, client.registration, client.registrationHash],
        ["https://app.example/hook", false, "dynamic", "h1"],
      );
      const row = await services.db.app.findUniqueOrThrow({ where: { id: client.id } });
      assert.ok(row.sealedWebhookSecret && !row.sealedWebhookSecret.includes(webhookSecret!), "the webhook secret is stored sealed");
      assert.equal(await openedWebhookSecret(client.id), webhookSecret, "and opens as the app's webhook secret");
      assert.equal("sealedWebhookSecret" in client, false);
    });

    it("refuses a confidential app without authentication, private_key_jwt without a (public) JWKS, an empty name", async () => {
      assert.equal(await refused({ tokenEndpointAuthMethod: "none" }), "a confidential app needs a client authentication method other than none");
      assert.equal(await refused({ tokenEndpointAuthMethod: "private_key_jwt" }), "private_key_jwt needs the app's public JWKS");
      assert.equal(
        await refused({ tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [{ ...EC_KEY, d: "x" }] } }),
        'jwks key 1 contains private key material ("d"): register the public key only',
      );
      assert.equal(await refused({ jwks: { keys: [] } }), 'jwks must be a JWK Set: { "keys": [ ... ] } with at least one key', "checked whatever the method");
      assert.equal(await refused({ name: "   " }), "name must not be empty");
      // A public app is "none" whatever method it names.
      assert.equal((await create({ isPublic: true, tokenEndpointAuthMethod: "client_secret_post" })).client.tokenEndpointAuthMethod, "none");
    });

    it("refuses unknown grants and response types, client_credentials or a PKCE opt-out for a public app", async () => {
      assert.equal(await refused({ grantTypes: ["authorization_code", "password"] }), `unknown grant type "password"; known: ${GRANT_TYPES.join(", ")}`);
      assert.equal(await refused({ isPublic: true, grantTypes: ["client_credentials"] }), "a public app cannot use client_credentials");
      assert.equal(
        await refused({ isPublic: true, requirePkce: false }),
        "a public app cannot opt out of PKCE: only its code_verifier proves the code is its own (RFC 9700 §2.1.1)",
      );
      assert.equal((await create({ isPublic: true, requirePkce: true })).client.requirePkce, true);
      assert.equal(
        await refused({ responseTypes: ["code", "code  foo"] }),
        'unknown response type "code foo"; known: code, token, id_token, id_token token, code id_token, code token, code id_token token',
      );
    });

    it("a redirect URI is needed for the code grant and for any response type but code alone, and each must be valid", async () => {
      const needed = "at least one redirect URI is needed for the authorization code flow";
      assert.equal(await refused({ redirectUris: [] }), needed);
      assert.equal(await refused({ redirectUris: [], grantTypes: ["client_credentials"], responseTypes: ["token"] }), needed);
      assert.equal(
        await refused({ redirectUris: [], grantTypes: ["client_credentials"], responseTypes: ["code", "token"] }),
        needed,
        "one of several is enough",
      );
      assert.deepEqual((await create({ redirectUris: [], grantTypes: ["client_credentials"] })).client.redirectUris, []);
      assert.equal(
        await refused({ redirectUris: [REDIRECT, "http://app.example/cb"] }),
        'redirect URI "http://app.example/cb" must use https (http is only allowed for loopback addresses such as 127.0.0.1)',
      );
    });

    it("lifetimes: whole seconds from 60 to the limit, the limit's variable named", async () => {
      for (const [input, message] of [
        [{ accessTokenTtl: 59 }, "access token lifetime must be 60..7200 seconds (ACCESS_TOKEN_MAX_TTL_SECONDS)"],
        [{ accessTokenTtl: 7201 }, "access token lifetime must be 60..7200 seconds (ACCESS_TOKEN_MAX_TTL_SECONDS)"],
        [{ accessTokenTtl: 60.5 }, "access token lifetime must be 60..7200 seconds (ACCESS_TOKEN_MAX_TTL_SECONDS)"],
        [{ refreshTokenTtl: 864001 }, "refresh token lifetime must be 60..864000 seconds (REFRESH_TOKEN_MAX_TTL_SECONDS)"],
        [{ idTokenTtl: 31_536_001 }, "ID token lifetime must be 60..31536000 seconds"],
        [{ idTokenTtl: 0 }, "ID token lifetime must be 60..31536000 seconds"],
      ] as const)
        assert.equal(await refused(input), message, JSON.stringify(input));
      const { client } = await create({ accessTokenTtl: 7200, refreshTokenTtl: 60, idTokenTtl: 60 });
      assert.deepEqual([client.accessTokenTtl, client.refreshTokenTtl, client.idTokenTtl], [7200, 60, 60]);
    });

    it("a webhook URL must pass the webhook rules, and needs a keyring to seal its secret", async () => {
      assert.equal(await refused({ webhookUrl: "ftp://app.example/hook" }), 'webhook URL "ftp://app.example/hook" must use https');
      await assert.rejects(clients.create({ name: "No keyring", redirectUris: [REDIRECT], webhookUrl: "https://app.example/hook" }), {
        name: "TypeError",
        message: "a keyring is needed to seal the webhook secret",
      });
    });
  });

  describe("find", () => {
    it("an id longer than 512 characters is no app, without a query; 512 are looked up", async () => {
      const long = `app_${"x".repeat(509)}`;
      assert.equal(await clients.find(long), undefined);
      // A row with a 512-character id is found (ids are not limited in the database).
      const { client } = await create({ name: "Long id" });
      const id512 = `app_${"y".repeat(508)}`;
      await services.db.app.update({ where: { id: client.id }, data: { id: id512 } });
      assert.equal((await clients.find(id512))?.name, "Long id");
    });
  });

  describe("rotateSecret", () => {
    it("keeps the previous secret for the overlap, stored with its end; 0 ends it at once; the cached app is the new one", async () => {
      const { client, secret: first } = await create({});
      assert.equal((await clients.find(client.id))?.secretHash, hashSecret(first!), "cached");
      const before = Date.now();
      const rotated = await clients.rotateSecret(client.id, 600);
      const afterwards = Date.now();
      assert.match(rotated.secret, /^abs_/);
      assert.equal(rotated.client.secretHash, hashSecret(rotated.secret));
      assert.equal(rotated.client.previousSecretHash, hashSecret(first!));
      const ends = rotated.client.previousSecretExpiresAt!.getTime();
      assert.ok(ends >= before + 600_000 && ends <= afterwards + 600_000, `ends ${ends - before}`);
      assert.equal((await clients.find(client.id))?.secretHash, hashSecret(rotated.secret), "the cache entry was dropped");
      const again = await clients.rotateSecret(client.id, 0);
      assert.deepEqual([again.client.previousSecretHash, again.client.previousSecretExpiresAt], [null, null]);
      const byDefault = await clients.rotateSecret(client.id);
      const defaultEnds = byDefault.client.previousSecretExpiresAt!.getTime() - Date.now();
      assert.ok(defaultEnds > 86_000_000 && defaultEnds <= 86_400_000, `default overlap ${defaultEnds}`);
    });

    it("a rotation that finds the secret changed since it read the app is a conflict, and changes nothing more", async () => {
      const { client } = await create({});
      const other = await create({});
      // The database as another request would leave it: the secret replaced between this rotation's read and its write.
      const racing = new Proxy(services.db, {
        get(target, property, receiver) {
          if (property !== "app") return Reflect.get(target, property, receiver);
          return new Proxy(target.app, {
            get(app, name, appReceiver) {
              if (name !== "updateMany") return Reflect.get(app, name, appReceiver);
              return async (args: Parameters<typeof app.updateMany>[0]) => {
                await app.update({ where: { id: client.id }, data: { secretHash: hashSecret("rotated by the other request") } });
                return app.updateMany(args);
              };
            },
          });
        },
      });
      const racingClients = new Clients(racing, services.config.tokenLifetimeLimits, GRANT_TYPES);
      assert.deepEqual(await refusal(racingClients.rotateSecret(client.id, 600)), {
        code: "conflict",
        description: `the secret of app ${client.id} was rotated at the same moment by another request; rotate again`,
      });
      const row = await services.db.app.findUniqueOrThrow({ where: { id: client.id } });
      assert.deepEqual([row.secretHash, row.previousSecretHash], [hashSecret("rotated by the other request"), null]);
      assert.equal((await services.db.app.findUniqueOrThrow({ where: { id: other.client.id } })).secretHash, other.client.secretHash);
    });

    it("refuses an overlap out of range, an unknown app, a public or secret-less app", async () => {
      const { client } = await create({});
      const range = "the overlap must be a whole number of seconds from 0 to 31536000";
      for (const overlap of [-1, 1.5, 31_536_001])
        assert.deepEqual(await refusal(clients.rotateSecret(client.id, overlap)), { code: "validation_failed", description: range });
      assert.ok((await clients.rotateSecret(client.id, 31_536_000)).client.previousSecretHash);
      assert.deepEqual(await refusal(clients.rotateSecret("app_unknown", 0)), { code: "not_found", description: "app app_unknown does not exist" });
      const pub = await create({ isPublic: true });
      assert.equal(
        (await refusal(clients.rotateSecret(pub.client.id, 0))).description,
        `app ${pub.client.id} is a public client: it has no client secret to rotate`,
      );
      const jwt = await create({ tokenEndpointAuthMethod: "private_key_jwt", jwks: { keys: [EC_KEY] } });
      assert.equal(
        (await refusal(clients.rotateSecret(jwt.client.id, 0))).description,
        `app ${jwt.client.id} authenticates with private_key_jwt: it has no client secret to rotate`,
      );
    });
  });

  describe("setWebhook", () => {
    it("a first URL gets a secret; a changed URL keeps it unless asked; removing the URL removes the secret", async () => {
      const { client } = await create({});
      assert.equal((await clients.find(client.id))?.webhookUrl, null, "cached");
      const set = await clients.setWebhook(client.id, { url: "https://app.example/hook" }, services.keyring);
      assert.match(set.webhookSecret!, /^whsec_/);
      assert.equal(set.client.webhookUrl, "https://app.example/hook");
      assert.equal((await clients.find(client.id))?.webhookUrl, "https://app.example/hook", "the cache entry was dropped");
      const sealed = async () => (await services.db.app.findUniqueOrThrow({ where: { id: client.id } })).sealedWebhookSecret;
      const firstSealed = await sealed();
      assert.ok(firstSealed);
      assert.equal(await openedWebhookSecret(client.id), set.webhookSecret);
      const moved = await clients.setWebhook(client.id, { url: "https://app.example/hook2" }, services.keyring);
      assert.equal(moved.webhookSecret, undefined);
      assert.equal(await sealed(), firstSealed);
      const rotated = await clients.setWebhook(client.id, { url: "https://app.example/hook2", rotateSecret: true }, services.keyring);
      assert.match(rotated.webhookSecret!, /^whsec_/);
      assert.notEqual(await sealed(), firstSealed);
      assert.equal(await openedWebhookSecret(client.id), rotated.webhookSecret);
      const removed = await clients.setWebhook(client.id, { url: null }, services.keyring);
      assert.deepEqual([removed.client.webhookUrl, removed.webhookSecret, await sealed()], [null, undefined, null]);
      // Removing a webhook the app never had makes no secret either.
      const never = await create({});
      const none = await clients.setWebhook(never.client.id, { url: null }, services.keyring);
      assert.deepEqual([none.webhookSecret, await openedWebhookSecret(never.client.id)], [undefined, null]);
    });

    it("refuses an unknown app, rotating while removing, a URL the webhook rules refuse", async () => {
      const { client } = await create({});
      assert.deepEqual(await refusal(clients.setWebhook("app_unknown", { url: null }, services.keyring)), {
        code: "not_found",
        description: "app app_unknown does not exist",
      });
      assert.equal(
        (await refusal(clients.setWebhook(client.id, { url: null, rotateSecret: true }, services.keyring))).description,
        "a webhook secret cannot be rotated while removing the webhook URL",
      );
      assert.equal(
        (await refusal(clients.setWebhook(client.id, { url: "https://app.example/a#b" }, services.keyring))).description,
        'webhook URL "https://app.example/a#b" must not contain a fragment',
      );
    });
  });

  describe("list", () => {
    it("lists every app in the order they were created", async () => {
      const listed = new Clients(services.db, services.config.tokenLifetimeLimits, GRANT_TYPES);
      const first = await listed.create({ name: "Listed first", redirectUris: [REDIRECT] });
      const second = await listed.create({ name: "Listed second", redirectUris: [REDIRECT] });
      // A changed row is written anew at the end of the table: without its ORDER BY the list would follow that.
      await services.db.app.update({ where: { id: first.client.id }, data: { name: "Listed first, renamed" } });
      let ids = (await listed.list()).map((c) => c.id);
      assert.ok(ids.indexOf(first.client.id) < ids.indexOf(second.client.id));
      await services.db.app.update({ where: { id: first.client.id }, data: { createdAt: new Date(Date.now() + 60_000) } });
      ids = (await listed.list()).map((c) => c.id);
      assert.ok(ids.indexOf(second.client.id) < ids.indexOf(first.client.id));
      assert.equal(ids.at(-1), first.client.id);
    });
  });
});
