/**
 * Access-token verification remembers tokens it verified (tokens.ts), so the
 * proxy, userinfo and introspection do not check the same signature on every
 * call. What it remembers must never outlive what made the token valid:
 * expiry, the publication of its signing key, the issuer; and revocation is
 * never remembered at all.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createTestServices, type TestServices } from "../../support/services.js";
import { issueAccessToken, verifyAccessToken, verifyAccessTokenSignature } from "../../../src/oauth/tokens.js";
import { revokeAccessToken } from "../../../src/revocation/revocation.js";
import { InvalidToken } from "../../../src/errors.js";
import { until } from "../../support/wait.js";
import { proxyResourceUri } from "../../../src/oauth/resources.js";
import { generateKeyPair, SignJWT, type CryptoKey } from "jose";

type SigningKey = { kid: string; privateKey: CryptoKey };

/**
 * A token with the claims the broker issues (an app's own token, for ten
 * minutes), less `omit`, plus `override`; signed with the broker's current
 * key, or `key`: what the broker would accept, or one claim away from it.
 */
async function signedAsIssued(
  services: TestServices,
  token: { issuer: string; app: string; jti: string; omit?: string[]; override?: Record<string, unknown>; key?: SigningKey | undefined },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: token.issuer,
    aud: token.issuer,
    sub: token.app,
    client_id: token.app,
    scope: "proxy",
    jti: token.jti,
    iat: now,
    exp: now + 600,
    ...token.override,
  };
  for (const name of token.omit ?? []) delete claims[name];
  const signing = token.key ?? (await services.signingKeys.current());
  return new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: signing.kid, typ: "at+jwt" }).sign(signing.privateKey);
}

describe("verified access tokens are remembered only while they stay valid", () => {
  let services: TestServices;

  before(async () => {
    services = await createTestServices({ BROKER_ISSUER: "http://127.0.0.1:1" });
    await services.signingKeys.ensureCurrent();
  });
  after(() => services?.teardown());

  const issue = (ttl: number) => issueAccessToken(services, { client: { id: "app_cache", accessTokenTtl: ttl }, subject: "app_cache", scope: "proxy", ttl });

  it("a token verified twice gives the same claims, which no caller can change for the next one", async () => {
    const { accessToken, claims } = await issueAccessToken(services, {
      client: { id: "app_cache", accessTokenTtl: 3600 },
      subject: "app_cache",
      scope: "proxy",
      ttl: 3600,
      actor: { sub: "agent_cache", client_id: "agent_cache" },
    });
    const first = await verifyAccessTokenSignature(services, accessToken);
    assert.throws(() => ((first as { scope: string }).scope = "tampered"), TypeError, "the claims are frozen");
    assert.throws(() => ((first.act as { client_id: string }).client_id = "someone"), TypeError, "nested claims too");
    const second = await verifyAccessTokenSignature(services, accessToken);
    assert.equal(second.scope, "proxy");
    assert.equal(second.act?.client_id, "agent_cache");
    assert.equal(second.jti, claims.jti);
  });

  it("a remembered token is refused once it has expired (beyond the clock tolerance)", async (t) => {
    const { accessToken } = await issue(60);
    await verifyAccessTokenSignature(services, accessToken);
    // 60 s of life + 60 s of tolerance later, for the cache and for jose alike.
    t.mock.timers.enable({ apis: ["Date"], now: Date.now() + 121_000 });
    await assert.rejects(
      async () => verifyAccessTokenSignature(services, accessToken),
      (err: unknown) => err instanceof InvalidToken && /expired/.test(err.description),
    );
  });

  it("a remembered token is refused once its signing key is no longer published", async () => {
    const { accessToken } = await issue(3600);
    await verifyAccessTokenSignature(services, accessToken);
    // An operator pulls the key (say it leaked): rotate, then retire the old key at once.
    await services.signingKeys.rotate(0);
    await services.signingKeys.retireExpired(new Date(Date.now() + 3_600_000));
    services.signingKeys.invalidate();
    await assert.rejects(async () => verifyAccessTokenSignature(services, accessToken), InvalidToken);
  });

  it("a remembered token is refused by a broker with another issuer sharing the keys", async () => {
    const { accessToken } = await issue(3600);
    await verifyAccessTokenSignature(services, accessToken);
    await assert.rejects(
      async () => verifyAccessTokenSignature({ ...services, config: { ...services.config, issuer: "http://127.0.0.1:2" } }, accessToken),
      InvalidToken,
    );
  });

  it("a token ending like a remembered one but different before that is verified anew: another payload under its signature is refused", async () => {
    const { accessToken, claims } = await issue(3600);
    await verifyAccessTokenSignature(services, accessToken);
    // The remembered token's header and signature around another app's payload: the same last characters, another text.
    const [header, payload, signature] = accessToken.split(".");
    const forged = { ...JSON.parse(Buffer.from(payload!, "base64url").toString()), sub: "app_other", client_id: "app_other" };
    const forgedToken = `${header}.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${signature}`;
    assert.equal(forgedToken.slice(-64), accessToken.slice(-64));
    await assert.rejects(async () => verifyAccessTokenSignature(services, forgedToken), InvalidToken);
    // The real token is still accepted, with its own claims.
    assert.equal((await verifyAccessTokenSignature(services, accessToken)).client_id, claims.client_id);
  });

  it("revocation is checked on every use, remembered token or not", async () => {
    const { accessToken, claims } = await issue(3600);
    await verifyAccessToken(services, accessToken, "broker");
    await revokeAccessToken(services.redis, claims);
    await assert.rejects(
      async () => verifyAccessToken(services, accessToken, "broker"),
      (err: unknown) => err instanceof InvalidToken && /revoked/.test(err.description),
    );
  });

  it("a remembered token whose every check can be made at once is answered without a promise; a refusal is always a promise", async () => {
    const { accessToken, claims } = await issueAccessToken(services, {
      client: { id: "app_cache", accessTokenTtl: 3600 },
      subject: "app_cache",
      scope: "proxy",
      audience: proxyResourceUri(services.config.issuer),
    });
    // Once the revocation cache knows the token clear (its subscription live, one lookup made), nothing is left to wait for.
    const atOnce = await until("the verification to need no wait", async () => {
      const answer = verifyAccessToken(services, accessToken, "proxy");
      if (answer instanceof Promise) return void (await answer);
      return answer;
    });
    assert.equal(atOnce.jti, claims.jti);
    const forBroker = verifyAccessToken(services, accessToken, "broker");
    assert.ok(forBroker instanceof Promise, "a refusal (here: the audience) is a rejected promise, not a throw");
    await assert.rejects(forBroker, (err: unknown) => err instanceof InvalidToken && /another resource/.test(err.description));
    await revokeAccessToken(services.redis, claims);
    const revoked = verifyAccessToken(services, accessToken, "proxy");
    assert.ok(revoked instanceof Promise);
    await assert.rejects(revoked, (err: unknown) => err instanceof InvalidToken && /revoked/.test(err.description));
  });
});

describe("a token signed with the broker's own key is still refused when it is not one the broker issues", () => {
  let services: TestServices;
  const issuer = "http://127.0.0.1:1";
  let serial = 0;

  before(async () => {
    services = await createTestServices({ BROKER_ISSUER: issuer });
    await services.signingKeys.ensureCurrent();
  });
  after(() => services?.teardown());

  /** Claims as the broker issues them, less `omit`, plus `override`; signed with its current key (or `key`). */
  const forged = (omit: string[], override: Record<string, unknown> = {}, key?: SigningKey) =>
    signedAsIssued(services, { issuer, app: "app_forged", jti: `forged-${++serial}`, omit, override, key });

  const refusedAs = (description: RegExp) => (err: unknown) => err instanceof InvalidToken && description.test(err.description);

  it("as it was issued, it is accepted (the forgery below differs in one claim only)", async () => {
    const claims = await verifyAccessTokenSignature(services, await forged([]));
    assert.equal(claims.client_id, "app_forged");
  });

  for (const missing of ["exp", "iat", "jti", "sub", "client_id", "aud", "scope"]) {
    it(`without \`${missing}\`: refused as not valid`, async () => {
      await assert.rejects(async () => verifyAccessTokenSignature(services, await forged([missing])), refusedAs(/^the access token is not valid$/));
    });
  }

  const wrongTypes: [string, unknown][] = [
    ["jti", 42],
    ["client_id", ["app_forged"]],
    ["scope", ["proxy"]],
    ["aud", [issuer]],
  ];
  for (const [claim, value] of wrongTypes) {
    it(`\`${claim}\` not a string (${JSON.stringify(value)}): refused as not valid`, async () => {
      await assert.rejects(
        async () => verifyAccessTokenSignature(services, await forged([], { [claim]: value })),
        refusedAs(/^the access token is not valid$/),
      );
    });
  }

  it("expired beyond the leeway: refused, and told so; the operator's log gets jose's code", async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    await assert.rejects(
      async () => verifyAccessTokenSignature(services, await forged([], { iat: past - 600, exp: past })),
      (err: unknown) => refusedAs(/^the access token has expired$/)(err) && (err as { detail?: string }).detail === "ERR_JWT_EXPIRED",
    );
  });

  it("signed by a key that is not the broker's: refused, and told so", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    await assert.rejects(
      async () => verifyAccessTokenSignature(services, await forged([], {}, { kid: "not-a-broker-key", privateKey })),
      refusedAs(/^the access token is not signed by a key of this broker$/),
    );
  });
});

describe("what verification remembers is bounded (tokens.ts: 10,000 tokens of up to 4,096 characters)", () => {
  const issuer = "http://127.0.0.1:1";
  let serial = 0;

  /** Services of their own: the cache is per set of signing keys, so what each test counts starts at zero. */
  async function freshServices(t: { after: (fn: () => Promise<void>) => void }): Promise<TestServices> {
    const services = await createTestServices({ BROKER_ISSUER: issuer });
    t.after(() => services.teardown());
    await services.signingKeys.ensureCurrent();
    return services;
  }

  /** A token as the broker issues them, with a `pad` claim of `padding` characters when asked. */
  const signed = (services: TestServices, padding = 0) =>
    signedAsIssued(services, { issuer, app: "app_bound", jti: `bound-${++serial}`, override: padding > 0 ? { pad: "p".repeat(padding) } : {} });

  /** The shortest token of at least `length` characters, by padding its claims (base64url makes most lengths). */
  async function signedOfLength(services: TestServices, length: number): Promise<string> {
    const unpadded = (await signed(services)).length;
    for (let padding = Math.max(1, Math.floor(((length - unpadded) * 3) / 4) - 8); ; padding++) {
      const token = await signed(services, padding);
      if (token.length >= length) return token;
    }
  }

  /** Whether `token` is answered from what was remembered, i.e. without a promise (the key's publication read just before). A miss remembers it. */
  async function rememberedNow(services: TestServices, token: string): Promise<boolean> {
    await services.signingKeys.current();
    const answer = verifyAccessTokenSignature(services, token);
    if (answer instanceof Promise) await answer;
    return !(answer instanceof Promise);
  }

  it("a token of 4,096 characters is remembered; a longer one is verified anew on every use, and still accepted", async (t) => {
    const services = await freshServices(t);
    const longest = await signedOfLength(services, 4_096);
    const tooLong = await signedOfLength(services, 4_097);
    assert.equal(longest.length, 4_096);
    assert.ok(tooLong.length > 4_096 && tooLong.length <= 4_098, `${tooLong.length} characters`);
    await verifyAccessTokenSignature(services, longest);
    assert.equal(await rememberedNow(services, longest), true);
    assert.equal((await verifyAccessTokenSignature(services, tooLong)).client_id, "app_bound");
    assert.equal(await rememberedNow(services, tooLong), false);
  });

  it("at most 10,000 tokens are remembered: the 10,001st drops the one remembered first", async (t) => {
    const services = await freshServices(t);
    const tokens: string[] = [];
    for (let i = 0; i < 10_000; i++) tokens.push(await signed(services));
    for (const token of tokens) await verifyAccessTokenSignature(services, token);
    assert.equal(await rememberedNow(services, tokens[0]!), true, "all 10,000 kept");
    const newest = await signed(services);
    await verifyAccessTokenSignature(services, newest);
    assert.equal(await rememberedNow(services, newest), true);
    assert.equal(await rememberedNow(services, tokens[1]!), true, "the second remembered is kept");
    assert.equal(await rememberedNow(services, tokens[0]!), false, "the first remembered is dropped");
  });
});
