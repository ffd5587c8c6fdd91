/**
 * Token exchange (RFC 8693) for upstream tokens, with openid-client's
 * `genericGrantRequest` as the app: a broker access token for one of the
 * app's accounts (scope `tokens:read`) is exchanged for the account's
 * upstream access token — refreshed first when about to expire — only for
 * apps allowed to read upstream tokens. And every refusal.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { connectAccount, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { readCredentials, storeCredentials, type StoredTokens } from "../../../src/accounts/vault.js";
import { basic, form, send } from "../../support/raw-http.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";

describe("token exchange for upstream access tokens (RFC 8693)", () => {
  let fixture: AsFixture;
  let reader: FixtureApp;
  let otherReader: FixtureApp;
  let notAllowed: FixtureApp;
  let withoutGrant: FixtureApp;
  const scopes = ["openid", "offline_access", "proxy", "tokens:read"];

  before(async () => {
    fixture = await startAsFixture();
    reader = await registerApp(fixture, { name: "Reader", scopes, allowUpstreamTokens: true });
    otherReader = await registerApp(fixture, { name: "Other reader", scopes, allowUpstreamTokens: true });
    notAllowed = await registerApp(fixture, { name: "Not allowed", scopes, grantTypes: ["authorization_code", "refresh_token", TOKEN_EXCHANGE] });
    withoutGrant = await registerApp(fixture, {
      name: "Without the grant",
      scopes,
      allowUpstreamTokens: true,
      grantTypes: ["authorization_code", "refresh_token"],
    });
  });

  after(async () => {
    await fixture?.close();
  });

  function exchange(app: FixtureApp, subjectToken: string, extra: Record<string, string> = {}) {
    return client.genericGrantRequest(app.config, TOKEN_EXCHANGE, { subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE, ...extra });
  }

  /** The error, and its description: matched by a pattern, or equal to a string (each refusal says which check failed). */
  function refusedWith(error: string, description?: RegExp | string) {
    return (err: client.ResponseBodyError) => {
      assert.equal(err.error, error, err.error_description);
      if (typeof description === "string") assert.equal(err.error_description, description);
      else if (description) assert.match(err.error_description ?? "", description);
      return true;
    };
  }

  /** The exchange as it travels, for what openid-client would normalise (it lowercases `token_type`). */
  async function rawExchange(app: FixtureApp, subjectToken: string): Promise<{ status: number; body: Record<string, unknown>; requestId: string }> {
    const res = await send(fixture.broker.url, {
      path: "/oauth/token",
      ...form(
        { grant_type: TOKEN_EXCHANGE, subject_token: subjectToken, subject_token_type: ACCESS_TOKEN_TYPE },
        { authorization: basic(app.id, app.secret!) },
      ),
    });
    return { status: res.status, body: res.json<Record<string, unknown>>()!, requestId: String(res.headers["x-request-id"]) };
  }

  /** Replaces an account's stored upstream credentials, as a connector of another kind or upstream would have left them. */
  async function storedAs(accountId: string, tokens: StoredTokens): Promise<void> {
    const services = fixture.broker.services;
    await storeCredentials(services.db, services.keyring, accountId, tokens);
  }

  describe("exchanges", () => {
    it("gives the account's upstream access token, which works at the upstream API, and no refresh token", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy tokens:read offline_access");
      const logged = fixture.broker.services.logs.lines.length;
      const exchanged = await exchange(reader, tokens.access_token);
      assert.ok(fixture.github.issuedAccessTokens().includes(exchanged.access_token), "the upstream's own token");
      const lines = fixture.broker.services.logs.lines.slice(logged).filter((line) => line.msg === "upstream access token handed out (token exchange)");
      assert.deepEqual(
        lines.map(({ clientId, accountId, connectorId }) => ({ clientId, accountId, connectorId })),
        [{ clientId: reader.id, accountId: tokens.accountId, connectorId: "gh" }],
        "one line naming the app, the account and the connector (never the token)",
      );
      assert.equal(exchanged.issued_token_type, ACCESS_TOKEN_TYPE);
      assert.equal(exchanged.token_type, "bearer");
      assert.ok(exchanged.expires_in! > 3000 && exchanged.expires_in! <= 3600);
      assert.equal(exchanged.refresh_token, undefined, "the upstream refresh token never leaves the vault");
      const api = await fetch(`${fixture.github.apiUrl}/whoami`, { headers: { authorization: `Bearer ${exchanged.access_token}` } });
      assert.equal(api.status, 200);
      const audit = await fixture.broker.services.db.auditEvent.findFirst({ where: { action: "upstream_token.issued", accountId: tokens.accountId } });
      assert.equal(audit?.appId, reader.id);
      // Who took an upstream token, for which account and connector, in which request: the audit says all of it.
      const account = await fixture.broker.services.db.account.findUniqueOrThrow({ where: { id: tokens.accountId } });
      assert.deepEqual(
        { actorType: audit?.actorType, actorId: audit?.actorId, connectorId: audit?.connectorId, hasRequestId: typeof audit?.requestId === "string" },
        { actorType: "app", actorId: reader.id, connectorId: account.connectorId, hasRequestId: true },
      );
    });

    it("refreshes an upstream token about to expire before handing it out, once", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy tokens:read");
      const services = fixture.broker.services;
      const before = await readCredentials(services.db, services.keyring, tokens.accountId);
      await services.db.credential.update({ where: { accountId: tokens.accountId }, data: { expiresAt: new Date(Date.now() + 30_000) } });
      const refreshesBefore = fixture.github.stats.tokenByGrant.refresh_token ?? 0;
      const exchanged = await exchange(reader, tokens.access_token);
      assert.notEqual(exchanged.access_token, before!.accessToken, "a new upstream token");
      assert.equal(fixture.github.stats.tokenByGrant.refresh_token, refreshesBefore + 1);
      assert.ok(exchanged.expires_in! > 3000, "fresh");
      const stored = await readCredentials(services.db, services.keyring, tokens.accountId);
      assert.equal(stored!.accessToken, exchanged.access_token, "stored before it was handed out");
      const again = await exchange(reader, tokens.access_token);
      assert.equal(again.access_token, exchanged.access_token);
      assert.equal(fixture.github.stats.tokenByGrant.refresh_token, refreshesBefore + 1, "no second refresh for a fresh token");
    });

    it("hands out what the vault holds: token_type as RFC 8693 wants it, expires_in only with an expiry, the stored scope", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy tokens:read");
      // No expiry, no refresh token: nothing to refresh, the token as it is.
      await storedAs(tokens.accountId, { accessToken: "up-1", tokenType: "BEARER", scope: "repo read:user" });
      const shouted = await rawExchange(reader, tokens.access_token);
      assert.deepEqual(
        { status: shouted.status, body: shouted.body },
        {
          status: 200,
          body: { access_token: "up-1", issued_token_type: ACCESS_TOKEN_TYPE, token_type: "Bearer", scope: "repo read:user" },
        },
      );
      await storedAs(tokens.accountId, { accessToken: "up-2", expiresAt: new Date(Date.now() + 600_000), scope: "" });
      const untyped = await rawExchange(reader, tokens.access_token);
      assert.equal(untyped.status, 200, JSON.stringify(untyped.body));
      assert.equal(untyped.body.token_type, "Bearer", "no type from the upstream: bearer (RFC 6750)");
      assert.ok(Number(untyped.body.expires_in) > 590 && Number(untyped.body.expires_in) <= 600, String(untyped.body.expires_in));
      assert.equal("scope" in untyped.body, false, "an empty scope is no scope: none answered");
      await storedAs(tokens.accountId, { accessToken: "up-3", tokenType: "DPoP" });
      assert.equal((await rawExchange(reader, tokens.access_token)).body.token_type, "DPoP", "another type is told as the upstream said it");
    });
  });

  describe("refusals", () => {
    it("an app not allowed to read upstream tokens gets unauthorized_client", async () => {
      const tokens = await connectAccount(fixture, notAllowed, "proxy tokens:read");
      await assert.rejects(exchange(notAllowed, tokens.access_token), refusedWith("unauthorized_client", /allow-upstream-tokens/));
    });

    it("an app not registered for the token-exchange grant gets unauthorized_client", async () => {
      const tokens = await connectAccount(fixture, withoutGrant, "proxy tokens:read");
      await assert.rejects(exchange(withoutGrant, tokens.access_token), refusedWith("unauthorized_client"));
    });

    it("a subject token without tokens:read is refused", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy");
      await assert.rejects(exchange(reader, tokens.access_token), refusedWith("invalid_request", /tokens:read/));
    });

    it("another app's subject token is refused", async () => {
      const tokens = await connectAccount(fixture, otherReader, "proxy tokens:read");
      await assert.rejects(exchange(reader, tokens.access_token), refusedWith("invalid_request", /another app/));
    });

    it("a token not bound to an account (client credentials) is refused", async () => {
      const own = await client.clientCredentialsGrant(reader.config, { scope: "tokens:read" });
      await assert.rejects(exchange(reader, own.access_token), refusedWith("invalid_request", /not bound to an account/));
    });

    it("a revoked or malformed subject token is refused", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy tokens:read");
      await client.tokenRevocation(reader.config, tokens.access_token);
      await assert.rejects(exchange(reader, tokens.access_token), refusedWith("invalid_request", /revoked/));
      await assert.rejects(exchange(reader, "not-a-token"), refusedWith("invalid_request"));
    });

    it("other token types, audiences, delegation and scopes are refused", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy tokens:read");
      await assert.rejects(
        exchange(reader, tokens.access_token, { requested_token_type: "urn:ietf:params:oauth:token-type:refresh_token" }),
        refusedWith("invalid_request", `requested_token_type must be ${ACCESS_TOKEN_TYPE}: only upstream access tokens are handed out`),
      );
      await assert.rejects(
        exchange(reader, tokens.access_token, { subject_token_type: "urn:ietf:params:oauth:token-type:jwt" }),
        refusedWith("invalid_request", `subject_token_type must be ${ACCESS_TOKEN_TYPE} (a broker access token)`),
      );
      const noTarget = "the upstream token is issued for the account's own service; audience and resource cannot be chosen";
      await assert.rejects(exchange(reader, tokens.access_token, { audience: "https://api.example" }), refusedWith("invalid_target", noTarget));
      await assert.rejects(
        exchange(reader, tokens.access_token, { actor_token: "x", actor_token_type: ACCESS_TOKEN_TYPE }),
        refusedWith("invalid_request", "delegation (actor_token) is not supported"),
      );
      await assert.rejects(
        exchange(reader, tokens.access_token, { scope: "repo" }),
        refusedWith("invalid_scope", "the upstream token carries the scopes the account was connected with; scope cannot be chosen"),
      );
      await assert.rejects(
        client.genericGrantRequest(reader.config, TOKEN_EXCHANGE, { subject_token_type: ACCESS_TOKEN_TYPE }),
        refusedWith("invalid_request", /subject_token/),
      );
    });

    it("an actor_token_type without an actor_token is refused as delegation too", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy tokens:read");
      await assert.rejects(exchange(reader, tokens.access_token, { actor_token_type: ACCESS_TOKEN_TYPE }), refusedWith("invalid_request", /actor_token/));
      await assert.rejects(exchange(reader, tokens.access_token, { actor_token: tokens.access_token }), refusedWith("invalid_request", /actor_token/));
    });

    it("an upstream failing the refresh for another reason is told as such, and the account stays active", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy tokens:read");
      const services = fixture.broker.services;
      await services.db.credential.update({ where: { accountId: tokens.accountId }, data: { expiresAt: new Date(Date.now() + 30_000) } });
      fixture.github.failNextToken(500, { error: "server_error" });
      // openid-client takes a 5xx for no OAuth answer and hands over the response itself.
      const failure = await exchange(reader, tokens.access_token).then(
        () => assert.fail("the exchange succeeded"),
        (err: Error & { cause?: Response }) => err,
      );
      const answer = failure.cause!;
      assert.equal(answer.status, 502);
      assert.deepEqual(await answer.json(), { error: "upstream_error", error_description: "GitHub-like answered HTTP 500 during the refresh" });
      assert.equal((await services.db.account.findUniqueOrThrow({ where: { id: tokens.accountId } })).status, "active");
    });

    it("an account gone since the subject token, one without an upstream access token, and an expired unrefreshable token are refused", async () => {
      const gone = await connectAccount(fixture, reader, "proxy tokens:read");
      // Removed behind the broker's back: the subject token itself still verifies.
      await fixture.broker.services.db.account.delete({ where: { id: gone.accountId } });
      await assert.rejects(exchange(reader, gone.access_token), refusedWith("invalid_request", "the account of subject_token no longer exists"));

      const tokens = await connectAccount(fixture, reader, "proxy tokens:read");
      // What an api_key connector keeps: the fields the user typed, no access token.
      await storedAs(tokens.accountId, { fields: { apiKey: "k-123" } });
      await assert.rejects(
        exchange(reader, tokens.access_token),
        refusedWith("invalid_request", "the account's connector (gh) keeps no upstream access token"),
      );

      const expired = "the upstream access token has expired and cannot be refreshed; the end user must connect the account again";
      await storedAs(tokens.accountId, { accessToken: "up-old", expiresAt: new Date(Date.now() - 5_000) });
      await assert.rejects(exchange(reader, tokens.access_token), refusedWith("invalid_request", expired));
      // Less than a second left is no time at all: expires_in would be 0.
      await storedAs(tokens.accountId, { accessToken: "up-last", expiresAt: new Date(Date.now() + 900) });
      await assert.rejects(exchange(reader, tokens.access_token), refusedWith("invalid_request", expired));
    });

    it("an account that must be connected again is refused; an upstream refusing the refresh marks it so", async () => {
      const tokens = await connectAccount(fixture, reader, "proxy tokens:read");
      const services = fixture.broker.services;
      await services.db.credential.update({ where: { accountId: tokens.accountId }, data: { expiresAt: new Date(Date.now() + 30_000) } });
      fixture.github.failNextToken(400, { error: "invalid_grant", error_description: "revoked" });
      const { requestId, ...refused } = await rawExchange(reader, tokens.access_token);
      assert.deepEqual(refused, {
        status: 400,
        body: { error: "invalid_request", error_description: "the upstream refused the account's refresh token; the end user must connect it again" },
      });
      assert.equal((await services.db.account.findUniqueOrThrow({ where: { id: tokens.accountId } })).status, "needs_reauth");
      // The refresh made for the exchange is part of its request: the account's event names it.
      const marked = await services.db.auditEvent.findFirst({ where: { action: "account.needs_reauth", accountId: tokens.accountId } });
      assert.equal(marked?.requestId, requestId);
      await assert.rejects(
        exchange(reader, tokens.access_token),
        refusedWith("invalid_request", "the account of subject_token is needs_reauth; the end user must connect it again"),
      );
    });
  });
});
