/**
 * Client authentication (src/oauth/client-auth.ts) called directly, with the
 * real database and Redis: the exact answer for each way credentials can be
 * presented or wrong, which the endpoint tests (token-endpoint,
 * private-key-jwt, client-secret-*) see only through HTTP. Also the client
 * a request claims to be before it is authenticated (the per-client rate
 * limit's key), which must never throw.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import type { IncomingMessage } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import {
  authenticateClient,
  claimedClientId,
  CLIENT_ASSERTION_TYPE,
  clientAuthentication,
  parseBasicCredentials,
  type AuthenticatedClient,
} from "../../../src/oauth/client-auth.js";
import { BrokerError } from "../../../src/errors.js";
import { hashSecret } from "../../../src/crypto/secrets.js";
import { createTestServices, type TestServices } from "../../support/services.js";

function basic(id: string, secret: string, scheme = "Basic"): string {
  return `${scheme} ${Buffer.from(`${id}:${secret}`).toString("base64")}`;
}

/** A request as the endpoint's reader sees it: headers and a form body. */
function formRequest(body: Record<string, string> | string, headers: Record<string, string> = {}): IncomingMessage {
  const text = typeof body === "string" ? body : new URLSearchParams(body).toString();
  return Object.assign(Readable.from([Buffer.from(text)]), {
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
  }) as unknown as IncomingMessage;
}

/** The OAuth error `promise` rejects with: code and description. */
async function refusal(promise: Promise<unknown>): Promise<{ code: string; description: string; detail: string | undefined }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof BrokerError, `not a BrokerError: ${String(err)}`);
    return { code: err.code, description: err.description, detail: err.detail };
  }
  assert.fail("was accepted");
}

describe("client authentication, called directly", () => {
  let services: TestServices;
  let secretApp: { id: string; secret: string };
  let basicApp: { id: string; secret: string };
  let publicAppId: string;
  let jwtAppId: string;
  let key: CryptoKey;
  let otherKey: CryptoKey;

  before(async () => {
    services = await createTestServices();
    const created = await services.clients.create({ name: "Secret app", redirectUris: [], grantTypes: ["client_credentials"], scopes: ["proxy"] });
    secretApp = { id: created.client.id, secret: created.secret! };
    const narrowed = await services.clients.create({
      name: "Basic app",
      redirectUris: [],
      grantTypes: ["client_credentials"],
      scopes: ["proxy"],
      tokenEndpointAuthMethod: "client_secret_basic",
    });
    basicApp = { id: narrowed.client.id, secret: narrowed.secret! };
    publicAppId = (await services.clients.create({ name: "Public app", redirectUris: ["https://app.example/cb"], isPublic: true })).client.id;
    const pair = await generateKeyPair("ES256", { extractable: true });
    key = pair.privateKey;
    otherKey = (await generateKeyPair("ES256")).privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256" };
    jwtAppId = (
      await services.clients.create({
        name: "JWT app",
        redirectUris: [],
        grantTypes: ["client_credentials"],
        scopes: ["proxy"],
        tokenEndpointAuthMethod: "private_key_jwt",
        jwks: { keys: [jwk] },
      })
    ).client.id;
  });
  after(async () => services?.teardown());

  function authenticate(form: Record<string, string>, authorization?: string): Promise<AuthenticatedClient> {
    return authenticateClient(services, { headers: authorization === undefined ? {} : { authorization } }, new Map(Object.entries(form)));
  }

  describe("client secrets", () => {
    it("the Basic scheme is matched in any case, and the credentials may be padded with spaces", async () => {
      for (const scheme of ["Basic", "basic", "BASIC"]) {
        const { client, method } = await authenticate({}, basic(secretApp.id, secretApp.secret, scheme));
        assert.equal(client.id, secretApp.id);
        assert.equal(method, "client_secret_basic");
      }
      const encoded = Buffer.from(`${secretApp.id}:${secretApp.secret}`).toString("base64");
      assert.equal((await authenticate({}, `Basic   ${encoded}  `)).method, "client_secret_basic");
    });

    it("an Authorization header of another scheme is not Basic: without other credentials there are none", async () => {
      const refused = await refusal(authenticate({}, `Bearer ${Buffer.from(`${secretApp.id}:${secretApp.secret}`).toString("base64")}`));
      assert.deepEqual([refused.code, refused.description], ["invalid_client", "client authentication failed: no client credentials"]);
      // "Basic" must begin the header.
      const later = await refusal(authenticate({}, `X ${basic(secretApp.id, secretApp.secret)}`));
      assert.equal(later.description, "client authentication failed: no client credentials");
    });

    it("the secret in the body, with the same client_id in the body as in Basic allowed", async () => {
      assert.equal((await authenticate({ client_id: secretApp.id, client_secret: secretApp.secret })).method, "client_secret_post");
      assert.equal((await authenticate({ client_id: secretApp.id }, basic(secretApp.id, secretApp.secret))).method, "client_secret_basic");
      const other = await refusal(authenticate({ client_id: basicApp.id }, basic(secretApp.id, secretApp.secret)));
      assert.deepEqual([other.code, other.description], ["invalid_request", "client_id in the body differs from the one in the Authorization header"]);
    });

    it("a wrong secret, and a secret sent with an empty client id", async () => {
      const wrong = await refusal(authenticate({}, basic(secretApp.id, "abs_wrong")));
      assert.deepEqual([wrong.code, wrong.description], ["invalid_client", "client authentication failed: wrong client secret"]);
      const wrongInBody = await refusal(authenticate({ client_id: secretApp.id, client_secret: "abs_wrong" }));
      assert.deepEqual([wrongInBody.code, wrongInBody.description], ["invalid_client", "client authentication failed: wrong client secret"]);
      const noId = await refusal(authenticate({}, basic("", secretApp.secret)));
      assert.deepEqual([noId.code, noId.description], ["invalid_client", "client authentication failed: no client_id"]);
      const noIdInBody = await refusal(authenticate({ client_secret: secretApp.secret }));
      assert.equal(noIdInBody.description, "client authentication failed: no client_id");
    });

    it("an unknown client, and a method the client is not registered for (naming the registered ones)", async () => {
      const unknown = await refusal(authenticate({}, basic("app_unknown", "x")));
      assert.deepEqual([unknown.code, unknown.description], ["invalid_client", "client authentication failed: unknown client"]);
      const post = await refusal(authenticate({ client_id: basicApp.id, client_secret: basicApp.secret }));
      assert.equal(post.description, "client authentication failed: the client is registered for client_secret_basic, not client_secret_post");
      const publicWithSecret = await refusal(authenticate({}, basic(publicAppId, "x")));
      assert.equal(publicWithSecret.description, "client authentication failed: the client is registered for none, not client_secret_basic");
      const defaults = await refusal(authenticate({ client_id: secretApp.id }));
      assert.equal(defaults.description, "client authentication failed: the client is registered for client_secret_basic or client_secret_post, not none");
    });

    it("after a rotation the previous secret works until its stored expiry, never without one", async () => {
      const { client, secret: first } = await services.clients.create({ name: "Rotated", redirectUris: [], grantTypes: ["client_credentials"] });
      const { secret: second } = await services.clients.rotateSecret(client.id, 3600);
      for (const secret of [first!, second]) assert.equal((await authenticate({}, basic(client.id, secret))).client.id, client.id);
      const wrong = "client authentication failed: wrong client secret";
      // The row as the overlap's end leaves it (set directly: no waiting).
      await services.db.app.update({ where: { id: client.id }, data: { previousSecretExpiresAt: new Date(Date.now() - 1000) } });
      services.clients.invalidate(client.id);
      assert.equal((await refusal(authenticate({}, basic(client.id, first!)))).description, wrong);
      assert.equal((await authenticate({}, basic(client.id, second))).client.id, client.id);
      // A previous secret's end without the previous secret (never written by the broker) accepts nothing more.
      await services.db.app.update({ where: { id: client.id }, data: { previousSecretHash: null, previousSecretExpiresAt: new Date(Date.now() + 3_600_000) } });
      services.clients.invalidate(client.id);
      assert.equal((await refusal(authenticate({}, basic(client.id, first!)))).description, wrong);
      await services.db.app.update({ where: { id: client.id }, data: { previousSecretHash: hashSecret(first!), previousSecretExpiresAt: null } });
      services.clients.invalidate(client.id);
      assert.equal((await refusal(authenticate({}, basic(client.id, first!)))).description, wrong, "a previous secret without an expiry is not accepted");
      // A secret app whose row lost its hash (never written by the broker) refuses every secret rather than failing.
      await services.db.app.update({ where: { id: client.id }, data: { secretHash: null, previousSecretHash: null } });
      services.clients.invalidate(client.id);
      assert.equal((await refusal(authenticate({}, basic(client.id, second)))).description, wrong);
    });

    it("the previous secret is refused from its expiry's very millisecond", async (t) => {
      const { client, secret: first } = await services.clients.create({ name: "Rotated at the edge", redirectUris: [], grantTypes: ["client_credentials"] });
      await services.clients.rotateSecret(client.id, 3600);
      const end = Date.now() + 60_000;
      await services.db.app.update({ where: { id: client.id }, data: { previousSecretExpiresAt: new Date(end) } });
      services.clients.invalidate(client.id);
      const now = t.mock.method(Date, "now", () => end - 1);
      assert.equal((await authenticate({}, basic(client.id, first!))).client.id, client.id, "one millisecond before its end");
      now.mock.mockImplementation(() => end);
      assert.equal((await refusal(authenticate({}, basic(client.id, first!)))).description, "client authentication failed: wrong client secret");
    });

    it("Basic credentials are form-urlencoded: '+' is a space and %XX a byte, wherever either appears alone", () => {
      const parse = (id: string, secret: string) => parseBasicCredentials(basic(id, secret));
      assert.deepEqual(parse("a+b+c", "s"), { clientId: "a b c", clientSecret: "s" });
      assert.deepEqual(parse("a%2Fb%2Fc", "s%3A"), { clientId: "a/b/c", clientSecret: "s:" });
      assert.deepEqual(parse("plain", "x+y%20z"), { clientId: "plain", clientSecret: "x y z" });
      assert.deepEqual(parse("id", "a:b"), { clientId: "id", clientSecret: "a:b" }, "the first colon separates");
      assert.deepEqual(parse("id", ""), { clientId: "id", clientSecret: "" });
    });

    it("malformed Basic credentials are invalid_request with a reason", () => {
      const notBasic = "the Authorization header is not valid Basic credentials";
      for (const header of [
        "Basic ",
        "Basic !!!!",
        `Basic ${Buffer.from("no-colon").toString("base64")}`,
        `Basic x${Buffer.from("a:b").toString("base64")}!`,
        // Base64 of "id:secret" with something before or after it.
        `Basic ${Buffer.from("id:secret").toString("base64")}!`,
        `Basic !${Buffer.from("id:secret").toString("base64")}`,
      ]) {
        assert.throws(
          () => parseBasicCredentials(header),
          (err: unknown) => err instanceof BrokerError && err.code === "invalid_request" && err.description === notBasic,
          header,
        );
      }
      assert.throws(
        () => parseBasicCredentials(basic("%zz", "s")),
        (err: unknown) =>
          err instanceof BrokerError &&
          err.code === "invalid_request" &&
          err.description === "the client credentials in the Authorization header are not form-urlencoded (RFC 6749 §2.3.1)",
      );
    });
  });

  describe("public clients", () => {
    it("a public client says who it is with client_id alone", async () => {
      const { client, method } = await authenticate({ client_id: publicAppId });
      assert.equal(client.id, publicAppId);
      assert.equal(method, "none");
    });

    it("client_assertion_type alone is an assertion method, not none: the assertion is missing", async () => {
      const refused = await refusal(authenticate({ client_id: jwtAppId, client_assertion_type: CLIENT_ASSERTION_TYPE }));
      assert.deepEqual([refused.code, refused.description], ["invalid_request", "client_assertion is missing"]);
    });
  });

  describe("client assertions (private_key_jwt)", () => {
    function assertion(claims: Record<string, unknown>, options: { signWith?: CryptoKey; kid?: string } = {}): Promise<string> {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: jwtAppId, sub: jwtAppId, aud: services.config.issuer, jti: randomUUID(), iat: now, exp: now + 60, ...claims })
        .setProtectedHeader({ alg: "ES256", kid: options.kid ?? "k1" })
        .sign(options.signWith ?? key);
    }
    const present = (signed: string, extra: Record<string, string> = {}) =>
      authenticate({ client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: signed, ...extra });

    it("accepts the app's assertion and remembers its jti in Redis until shortly after it expires", async () => {
      const jti = randomUUID();
      const { client, method } = await present(await assertion({ jti }));
      assert.equal(client.id, jwtAppId);
      assert.equal(method, "private_key_jwt");
      const key = `client-assertion:jti:${jwtAppId}:${createHash("sha256").update(jti).digest("base64url")}`;
      assert.equal(await services.redis.get(key), "1");
      const ttl = await services.redis.ttl(key);
      // exp is 60 s ahead; remembered for that plus the 30 s clock tolerance (less the time this test took).
      assert.ok(ttl > 60 && ttl <= 90, `ttl ${ttl}`);
    });

    it("an assertion that expired within the clock tolerance is accepted, its jti remembered until the tolerance ends", async () => {
      const now = Math.floor(Date.now() / 1000);
      const jti = randomUUID();
      await present(await assertion({ jti, iat: now - 100, exp: now - 5 }));
      const ttl = await services.redis.ttl(`client-assertion:jti:${jwtAppId}:${createHash("sha256").update(jti).digest("base64url")}`);
      // 25 s: exp is 5 s past, the tolerance 30 s.
      assert.ok(ttl > 10 && ttl <= 25, `ttl ${ttl}`);
    });

    it("lives at most 300 s from iat (with 30 s tolerance), counted from now when iat is missing or in the future", async () => {
      const now = Math.floor(Date.now() / 1000);
      // Exactly the longest life is accepted, a second more refused.
      await present(await assertion({ iat: now - 10, exp: now - 10 + 330 }));
      const longer = await refusal(present(await assertion({ iat: now - 10, exp: now - 10 + 331 })));
      assert.deepEqual(
        [longer.code, longer.description],
        ["invalid_client", "client authentication failed: the client assertion may live at most 300 seconds"],
      );
      // An iat in the future does not move the limit (jose allows iat up to the tolerance ahead).
      const future = await refusal(present(await assertion({ iat: now + 20, exp: now + 345 })));
      assert.equal(future.description, "client authentication failed: the client assertion may live at most 300 seconds");
      const noIat = await refusal(present(await assertion({ iat: undefined, exp: now + 400 })));
      assert.equal(noIat.description, "client authentication failed: the client assertion may live at most 300 seconds");
    });

    it("a replayed jti", async () => {
      const signed = await assertion({});
      await present(signed);
      const replay = await refusal(present(signed));
      assert.deepEqual(
        [replay.code, replay.description],
        ["invalid_client", "client authentication failed: the client assertion was already used (jti replayed)"],
      );
    });

    it("a missing, empty or non-string jti, an empty or missing sub, a client_id other than sub", async () => {
      assert.equal(
        (await refusal(present(await assertion({ jti: undefined })))).description,
        "client authentication failed: the client assertion's jti claim is missing or invalid",
      );
      for (const jti of ["", 42]) {
        const refused = await refusal(present(await assertion({ jti })));
        assert.deepEqual([refused.code, refused.description], ["invalid_client", "client authentication failed: the client assertion has no jti"], String(jti));
      }
      for (const sub of ["", undefined, 42]) {
        const refused = await refusal(present(await assertion({ sub })));
        assert.deepEqual([refused.code, refused.description], ["invalid_client", "client authentication failed: the client assertion has no sub"], String(sub));
      }
      const other = await refusal(present(await assertion({}), { client_id: secretApp.id }));
      assert.deepEqual([other.code, other.description], ["invalid_request", "client_id differs from the sub of the client assertion"]);
      assert.equal((await present(await assertion({}), { client_id: jwtAppId })).client.id, jwtAppId, "the same client_id is allowed");
    });

    it("the wrong assertion type, and an assertion that is not a JWT", async () => {
      const type = await refusal(authenticate({ client_assertion_type: "urn:other", client_assertion: await assertion({}) }));
      assert.deepEqual([type.code, type.description], ["invalid_request", `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`]);
      // client_assertion alone is an assertion method too (not none, though client_id names the app): its type is missing.
      const untyped = await refusal(authenticate({ client_id: jwtAppId, client_assertion: await assertion({}) }));
      assert.deepEqual([untyped.code, untyped.description], ["invalid_request", `client_assertion_type must be ${CLIENT_ASSERTION_TYPE}`]);
      const notJwt = await refusal(present("not-a-jwt"));
      assert.deepEqual([notJwt.code, notJwt.description], ["invalid_client", "client authentication failed: client_assertion is not a JWT"]);
    });

    it("aud: the issuer as a single string, and the refusal says what it got instead", async () => {
      const issuer = services.config.issuer;
      const cases: [unknown, string][] = [
        [[issuer], "an array"],
        [[issuer, "https://other.example"], "an array"],
      ];
      for (const [aud, why] of cases) {
        const refused = await refusal(present(await assertion({ aud })));
        assert.deepEqual(
          [refused.code, refused.description],
          [
            "invalid_client",
            `client authentication failed: the client assertion's aud must be the issuer identifier "${issuer}" as a single string, not ${why}`,
          ],
        );
      }
      const wrong = await refusal(present(await assertion({ aud: "https://other.example" })));
      assert.equal(wrong.description, "client authentication failed: the client assertion's aud must be the issuer identifier, as a single string");
      assert.equal(wrong.detail, "ERR_JWT_CLAIM_VALIDATION_FAILED");
    });

    it("names what jose refused: expiry, iss or sub, another claim, the algorithm, the key", async () => {
      const now = Math.floor(Date.now() / 1000);
      const describe = async (signed: string) => (await refusal(present(signed))).description;
      assert.equal(await describe(await assertion({ iat: now - 200, exp: now - 100 })), "client authentication failed: the client assertion has expired");
      assert.equal(
        await describe(await assertion({ iss: secretApp.id })),
        "client authentication failed: the client assertion's iss and sub must be the client_id",
      );
      assert.equal(await describe(await assertion({ nbf: now + 600 })), "client authentication failed: the client assertion's nbf claim is missing or invalid");
      assert.equal(await describe(await assertion({ exp: undefined })), "client authentication failed: the client assertion's exp claim is missing or invalid");
      assert.equal(
        await describe(await assertion({}, { signWith: otherKey })),
        "client authentication failed: no key of the app's JWKS verifies the client assertion",
      );
      assert.equal(
        await describe(await assertion({}, { kid: "unknown" })),
        "client authentication failed: no key of the app's JWKS verifies the client assertion",
      );
      const hmac = await new SignJWT({ iss: jwtAppId, sub: jwtAppId, aud: services.config.issuer, jti: randomUUID(), exp: now + 60 })
        .setProtectedHeader({ alg: "HS256" })
        .sign(new Uint8Array(32));
      assert.equal(await describe(hmac), "client authentication failed: the client assertion's algorithm is not allowed");
      const [header, payload] = (await assertion({})).split(".");
      assert.equal(await describe(`${header}.${payload}.%%%`), "client authentication failed: the client assertion is not valid");
    });

    it("every asymmetric algorithm of the list is accepted", async () => {
      const algorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
      const pairs = await Promise.all(algorithms.map((alg) => generateKeyPair(alg, { extractable: true })));
      const keys = await Promise.all(pairs.map(async ({ publicKey }, i) => ({ ...(await exportJWK(publicKey)), kid: algorithms[i], alg: algorithms[i] })));
      const { client } = await services.clients.create({
        name: "Every algorithm",
        redirectUris: [],
        grantTypes: ["client_credentials"],
        tokenEndpointAuthMethod: "private_key_jwt",
        jwks: { keys },
      });
      const now = Math.floor(Date.now() / 1000);
      for (const [i, alg] of algorithms.entries()) {
        const signed = await new SignJWT({ iss: client.id, sub: client.id, aud: services.config.issuer, jti: randomUUID(), exp: now + 60 })
          .setProtectedHeader({ alg, kid: alg })
          .sign(pairs[i]!.privateKey);
        assert.equal((await present(signed)).client.id, client.id, alg);
      }
    });

    /** A private_key_jwt app registered with this one key (whose stored row a test then damages). */
    async function keyApp(name: string, jwk: JWK) {
      const { client } = await services.clients.create({
        name,
        redirectUris: [],
        grantTypes: ["client_credentials"],
        tokenEndpointAuthMethod: "private_key_jwt",
        jwks: { keys: [jwk] },
      });
      return client;
    }

    it("an app whose stored key cannot be imported refuses every assertion as invalid_client, never a 500", async () => {
      const jwk = { ...(await exportJWK((await generateKeyPair("ES256")).publicKey)), kid: "k1", alg: "ES256" };
      const client = await keyApp("Damaged key app", jwk);
      // As a row written before registration tried to make a key of each JWK would hold it: a P-256
      // point whose x coordinate is a byte short, a JWK of the right shape that no key can be made of.
      await services.db.app.update({ where: { id: client.id }, data: { jwks: { keys: [{ ...jwk, x: jwk.x!.slice(0, -2) }] } } });
      services.clients.invalidate(client.id);
      const refused = await refusal(present(await assertion({ iss: client.id, sub: client.id })));
      assert.deepEqual(
        [refused.code, refused.description, refused.detail],
        ["invalid_client", "client authentication failed: the app has no usable JWKS", "a key of the app's registered jwks cannot be imported"],
      );
    });

    it("an app whose stored JWKS is not a JWK Set refuses every assertion", async () => {
      const jwk = { ...(await exportJWK((await generateKeyPair("ES256")).publicKey)), kid: "k1" };
      const client = await keyApp("Broken JWKS app", jwk);
      // As a row written before registration checked JWK Sets would hold it.
      await services.db.app.update({ where: { id: client.id }, data: { jwks: { not: "a jwks" } } });
      services.clients.invalidate(client.id);
      const refused = await refusal(present(await assertion({ iss: client.id, sub: client.id })));
      assert.deepEqual(
        [refused.code, refused.description, refused.detail],
        ["invalid_client", "client authentication failed: the app has no usable JWKS", "the app's registered jwks is not a JWK Set"],
      );
    });
  });

  describe("several methods", () => {
    it("more than one method in a request is invalid_request", async () => {
      const refused = await refusal(authenticate({ client_id: secretApp.id, client_secret: secretApp.secret }, basic(secretApp.id, secretApp.secret)));
      assert.deepEqual([refused.code, refused.description], ["invalid_request", "the request uses more than one client authentication method"]);
    });
  });

  describe("the authenticator of the back-channel endpoints", () => {
    it("reads the form and authenticates its client", async () => {
      const authenticator = clientAuthentication(services);
      assert.equal(authenticator.name, "client");
      const request = formRequest({ grant_type: "client_credentials", client_id: secretApp.id, client_secret: secretApp.secret });
      const result = await authenticator.authenticate(request, {});
      assert.equal(result.client.id, secretApp.id);
      assert.equal(result.method, "client_secret_post");
      assert.equal(result.form.get("grant_type"), "client_credentials");
    });
  });

  describe("the client a request claims to be (per-client rate limit)", () => {
    it("Basic first, then client_id in the form, then the assertion's sub", async () => {
      assert.equal(await claimedClientId(formRequest({ client_id: "app_body" }, { authorization: basic("app_basic", "x") })), "app_basic");
      assert.equal(await claimedClientId(formRequest({ client_id: "app_body", client_assertion: await signedSub("app_sub") })), "app_body");
      assert.equal(await claimedClientId(formRequest({ client_assertion: await signedSub("app_sub") })), "app_sub");
    });

    it("nothing, never an error, for malformed Basic, an unreadable form, no id, a non-JWT or a sub that is not a string", async () => {
      assert.equal(await claimedClientId(formRequest({ client_id: "app_body" }, { authorization: "Basic !!!" })), undefined);
      assert.equal(await claimedClientId(formRequest("client_id=a&client_id=b")), undefined);
      assert.equal(await claimedClientId(formRequest({ grant_type: "client_credentials" })), undefined);
      assert.equal(await claimedClientId(formRequest({ client_assertion: "not-a-jwt" })), undefined);
      assert.equal(await claimedClientId(formRequest({ client_assertion: await signedSub(42) })), undefined);
    });
  });
});

/** An unsigned-looking JWT with this sub: claimedClientId only decodes it. */
async function signedSub(sub: unknown): Promise<string> {
  return new SignJWT({ sub: sub as string }).setProtectedHeader({ alg: "HS256" }).sign(new Uint8Array(32));
}
