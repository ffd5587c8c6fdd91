/**
 * Token exchange with `resource` = the proxy (delegation, issue 19): an MCP
 * server exchanges the token an agent sent it for a proxy token acting for
 * the agent's user, at the same or at another connector; connect on demand
 * when the user has no account there (the `connection_required`
 * elicitation, the /connect/on-demand page, the ordinary connect flow);
 * the act chain; the audit; and every refusal. Real broker, Redis,
 * PostgreSQL and upstreams (test/support/as-fixture.ts).
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import * as client from "openid-client";
import { decodeJwt } from "jose";
import { ElicitRequestURLParamsSchema } from "@modelcontextprotocol/sdk/types.js";
import { connectAccount, registerApp, startAsFixture, type AsFixture, type FixtureApp } from "../../support/as-fixture.js";
import { TestBrowser } from "../../support/browser.js";
import { issueAccessToken, type ActorClaim } from "../../../src/oauth/tokens.js";
import { flushProxyAudit } from "../../../src/proxy/router.js";
import { createConnectTicket, readConnectTicket } from "../../../src/oauth/connect-tickets.js";
import { csrfTokenFor } from "../../../src/connect/csrf.js";
import { sealUserCookie, userCookieName } from "../../../src/oauth/user-cookie.js";
import { revokeFamily } from "../../../src/revocation/revocation.js";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const RESOURCE = "https://files-mcp.example.test/mcp";

interface ExchangeAnswer {
  status: number;
  body: Record<string, unknown>;
}

describe("token exchange for the proxy: delegation and connect on demand", () => {
  let fixture: AsFixture;
  let agent: FixtureApp;
  let mcp: FixtureApp;
  let stranger: FixtureApp;
  let ghOnly: FixtureApp;
  let proxyUri: string;
  let nextSub = 0;

  before(async () => {
    fixture = await startAsFixture();
    proxyUri = `${fixture.broker.url}/v1/proxy`;
    agent = await registerApp(fixture, {
      name: "Research Agent",
      scopes: ["openid", "offline_access", "proxy"],
      grantTypes: ["authorization_code", "refresh_token", TOKEN_EXCHANGE],
    });
    mcp = await registerApp(fixture, { name: "Files MCP", scopes: ["proxy"], grantTypes: ["client_credentials", TOKEN_EXCHANGE] });
    stranger = await registerApp(fixture, { name: "Stranger", scopes: ["proxy"], grantTypes: ["client_credentials", TOKEN_EXCHANGE] });
    ghOnly = await registerApp(fixture, {
      name: "GitHub only",
      scopes: ["offline_access", "proxy"],
      connectors: ["gh"],
      grantTypes: ["authorization_code", "refresh_token", TOKEN_EXCHANGE],
    });
    await fixture.broker.services.db.resource.create({ data: { uri: RESOURCE, name: "Files MCP", scopes: ["files:read"], appId: mcp.id } });
  });

  after(async () => {
    await fixture?.close();
  });

  /**
   * A new end user of the agent with a gh account, connected in `browser`
   * (which so carries the broker's cookie naming the user: on-demand links
   * for the user open there), and the token the agent got for the MCP
   * server (aud = the resource).
   */
  async function agentTokenForMcp(
    app: FixtureApp = agent,
    options: { scope?: string; act?: ActorClaim; ttl?: number } = {},
  ): Promise<{ token: string; accountId: string; gid: string; exp: number; browser: TestBrowser }> {
    const browser = new TestBrowser();
    const connected = await connectAccount(fixture, app, "offline_access proxy", { browser });
    const claims = decodeJwt(connected.access_token);
    const appClient = (await fixture.broker.services.clients.find(app.id))!;
    const issued = await issueAccessToken(fixture.broker.services, {
      client: appClient,
      subject: connected.accountId,
      scope: options.scope ?? "files:read",
      accountId: connected.accountId,
      connectorId: "gh",
      grantId: String(claims.gid),
      audience: RESOURCE,
      ...(options.act ? { actor: options.act } : {}),
      ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    });
    return { token: issued.accessToken, accountId: connected.accountId, gid: String(claims.gid), exp: issued.claims.exp, browser };
  }

  async function exchange(app: FixtureApp, params: Record<string, string>): Promise<ExchangeAnswer> {
    const response = await fetch(`${fixture.broker.url}/oauth/token`, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.id)}:${encodeURIComponent(app.secret!)}`).toString("base64")}`,
      },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE,
        subject_token_type: ACCESS_TOKEN_TYPE,
        resource: proxyUri,
        scope: "proxy",
        ...params,
      }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  function refused(answer: ExchangeAnswer, error: string, description?: RegExp): void {
    assert.equal(answer.body.error, error, String(answer.body.error_description));
    assert.equal(answer.status, 400);
    if (description) assert.match(String(answer.body.error_description), description);
  }

  /** Opens an elicitation's URL in the user's `browser`, confirms, and signs in at the OIDC upstream as `sub`; returns the last page. */
  async function connectOnDemand(url: string, sub: string, browser: TestBrowser) {
    fixture.oidc.setUser({ sub, email: `${sub}@example.test`, name: sub });
    const page = await browser.navigate(url);
    assert.equal(page.status, 200);
    return { page, done: await browser.submitForm(page, { button: "Connect" }) };
  }

  describe("the MCP server acts for the agent's user", () => {
    it("no account at the other connector: connection_required with an MCP URL elicitation; connected on demand, the same exchange works at the proxy", async () => {
      const subject = await agentTokenForMcp();
      const first = await exchange(mcp, { subject_token: subject.token, audience: "acme-oidc" });
      refused(first, "connection_required", /no Acme OIDC account/);
      const elicitations = first.body.elicitations as unknown[];
      assert.equal(elicitations.length, 1);
      const elicitation = ElicitRequestURLParamsSchema.parse(elicitations[0]);
      assert.equal(elicitation.mode, "url");
      assert.ok(elicitation.url.startsWith(`${fixture.broker.url}/connect/on-demand/`), elicitation.url);
      assert.match(elicitation.message, /Acme OIDC/);

      const { page, done } = await connectOnDemand(elicitation.url, `od-${++nextSub}`, subject.browser);
      assert.match(page.body, /Research Agent/);
      assert.match(page.body, /Files MCP/);
      assert.match(page.body, /Acme OIDC/);
      assert.equal(done.status, 200, done.body);
      assert.match(done.body, /<title>Account connected/);
      assert.match(done.body, /Your Acme OIDC account is connected/);
      assert.match(done.body, /<strong>Research Agent<\/strong> can now use it for you\. You can return to your agent; it continues by itself\./);
      assert.match(done.body, /You can close this window/);

      const linked = await fixture.broker.services.db.account.findFirstOrThrow({
        where: { appId: agent.id, connectorId: "acme-oidc", userId: subject.accountId },
      });
      assert.equal(linked.status, "active");
      // The connecting browser is (still) known as the user: the page renews the cookie that names it.
      assert.ok(
        (done.headers.get("set-cookie") ?? "").includes(`${userCookieName(agent.id)}=`),
        `the user cookie is set again: ${done.headers.get("set-cookie")}`,
      );
      const connectedLine = fixture.broker.services.logs.lines.find((l) => l.msg === "account connected on demand" && l.accountId === linked.id);
      assert.ok(connectedLine, "the on-demand connect is logged");
      assert.deepEqual(
        [connectedLine.level, connectedLine.clientId, connectedLine.connectorId, connectedLine.requestedBy],
        [30, agent.id, "acme-oidc", mcp.id],
      );

      const second = await exchange(mcp, { subject_token: subject.token, audience: "acme-oidc" });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      assert.equal(second.body.issued_token_type, ACCESS_TOKEN_TYPE);
      assert.equal(second.body.token_type, "Bearer");
      assert.equal(second.body.scope, "proxy");
      const claims = decodeJwt(String(second.body.access_token));
      assert.equal(claims.aud, proxyUri);
      assert.equal(claims.client_id, agent.id, "the subject's app: the proxy's ownership check holds");
      assert.equal(claims.acct, linked.id);
      assert.equal(claims.sub, linked.id);
      assert.equal(claims.connector, "acme-oidc");
      assert.equal(claims.gid, subject.gid);
      assert.deepEqual(claims.act, { sub: mcp.id, client_id: mcp.id });
      assert.ok(claims.exp! <= subject.exp);

      const proxied = await fetch(`${fixture.broker.url}/v1/proxy/files`, { headers: { authorization: `Bearer ${String(second.body.access_token)}` } });
      assert.equal(proxied.status, 200, await proxied.clone().text());

      const exchanged = await fixture.broker.services.db.auditEvent.findFirstOrThrow({ where: { action: "token.exchanged", accountId: linked.id } });
      assert.equal(exchanged.actorId, mcp.id);
      assert.equal(exchanged.appId, agent.id);
      assert.deepEqual(exchanged.detail, {
        user: subject.accountId,
        subject_account: subject.accountId,
        subject_aud: RESOURCE,
        act: { sub: mcp.id, client_id: mcp.id, act: null },
      });
      await flushProxyAudit(fixture.broker.services);
      const call = await fixture.broker.services.db.auditEvent.findFirstOrThrow({ where: { action: "proxy.request", accountId: linked.id } });
      assert.equal(call.appId, agent.id);
      const detail = call.detail as Record<string, unknown>;
      assert.equal(detail.user, subject.accountId);
      assert.deepEqual(detail.act, { sub: mcp.id, client_id: mcp.id });
    });

    it("revoking the subject's grant revokes the exchanged token", async () => {
      const subject = await agentTokenForMcp();
      const answer = await exchange(mcp, { subject_token: subject.token });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const token = String(answer.body.access_token);
      const ok = await fetch(`${fixture.broker.url}/v1/proxy/user`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      await revokeFamily(fixture.broker.services, subject.gid, "the end user revoked the agent");
      const refusedCall = await fetch(`${fixture.broker.url}/v1/proxy/user`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(refusedCall.status, 401);
    });

    it("without audience: the subject's own account; an actor token names the actor, the subject's act nested", async () => {
      const subject = await agentTokenForMcp(agent, { act: { sub: "agent-runtime", client_id: "runtime" } });
      const actorToken = (await client.clientCredentialsGrant(mcp.config, { scope: "proxy" })).access_token;
      const answer = await exchange(mcp, { subject_token: subject.token, actor_token: actorToken, actor_token_type: ACCESS_TOKEN_TYPE });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const claims = decodeJwt(String(answer.body.access_token));
      assert.equal(claims.acct, subject.accountId);
      assert.equal(claims.connector, "gh");
      assert.deepEqual(claims.act, { sub: mcp.id, client_id: mcp.id, act: { sub: "agent-runtime", client_id: "runtime" } });
    });

    it("the subject's own app exchanges its token (with proxy) for the proxy: no act", async () => {
      const connected = await connectAccount(fixture, agent, "offline_access proxy");
      const logged = fixture.broker.services.logs.lines.length;
      const answer = await exchange(agent, { subject_token: connected.access_token });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const claims = decodeJwt(String(answer.body.access_token));
      assert.equal(claims.act, undefined);
      assert.equal(claims.aud, proxyUri);
      const lines = fixture.broker.services.logs.lines.slice(logged).filter((line) => line.msg === "token exchanged for the proxy (delegation)");
      assert.deepEqual(
        lines.map(({ clientId, appId, accountId, connectorId }) => ({ clientId, appId, accountId, connectorId })),
        [{ clientId: agent.id, appId: agent.id, accountId: connected.accountId, connectorId: "gh" }],
        "one line naming who exchanged, for which app, account and connector (never a token)",
      );
      // Scope is a space-delimited list (RFC 6749 §3.3): empty entries between spaces name no scope.
      // requested_token_type may name the one type issued.
      const typed = await exchange(agent, { subject_token: connected.access_token, requested_token_type: ACCESS_TOKEN_TYPE });
      assert.equal(typed.status, 200, JSON.stringify(typed.body));
      const spaced = await exchange(agent, { subject_token: connected.access_token, scope: "proxy  proxy" });
      assert.equal(spaced.status, 200, JSON.stringify(spaced.body));
      assert.equal(spaced.body.scope, "proxy");
    });

    it("an account that needs re-authorization: connection_required, to reconnect", async () => {
      const subject = await agentTokenForMcp();
      await fixture.broker.services.db.account.update({ where: { id: subject.accountId }, data: { status: "needs_reauth" } });
      const answer = await exchange(mcp, { subject_token: subject.token });
      refused(answer, "connection_required", /connected again/);
      const elicitation = ElicitRequestURLParamsSchema.parse((answer.body.elicitations as unknown[])[0]);
      assert.match(elicitation.message, /Reconnect your GitHub-like account/);
    });

    it("a reconnect keeps the account's host; the subject's account is never swapped for another of the user's", async () => {
      const subject = await agentTokenForMcp();
      const db = fixture.broker.services.db;
      // The host a per-server account was connected at travels with its reconnect ticket (the end user does not type it again).
      const own = await db.account.update({ where: { id: subject.accountId }, data: { status: "needs_reauth", hostname: "git.example.test" } });
      const answer = await exchange(mcp, { subject_token: subject.token });
      refused(answer, "connection_required", /connected again/);
      const ticketId = new URL(ElicitRequestURLParamsSchema.parse((answer.body.elicitations as unknown[])[0]).url).pathname.split("/").pop()!;
      const ticket = await readConnectTicket(fixture.broker.services.redis, ticketId);
      assert.deepEqual(
        { userId: ticket?.userId, connectorId: ticket?.connectorId, hostname: ticket?.hostname, requestedBy: ticket?.requestedBy },
        { userId: subject.accountId, connectorId: "gh", hostname: "git.example.test", requestedBy: mcp.id },
      );
      // The same user also holds an active gh account: without audience the token still acts for the subject's own, which must be reconnected.
      await db.account.create({
        data: { id: `${own.id}-second`, appId: own.appId, connectorId: "gh", upstreamSubject: `${own.upstreamSubject}-second`, userId: own.id, scopes: [] },
      });
      refused(await exchange(mcp, { subject_token: subject.token }), "connection_required", /connected again/);
    });
  });

  describe("refusals", () => {
    it("a client that is neither the subject's app nor the resource's: invalid_request", async () => {
      const subject = await agentTokenForMcp();
      refused(await exchange(stranger, { subject_token: subject.token }), "invalid_request", /may not exchange/);
    });

    it("an actor token of another client: invalid_request", async () => {
      const subject = await agentTokenForMcp();
      const othersToken = (await client.clientCredentialsGrant(stranger.config, { scope: "proxy" })).access_token;
      refused(
        await exchange(mcp, { subject_token: subject.token, actor_token: othersToken, actor_token_type: ACCESS_TOKEN_TYPE }),
        "invalid_request",
        /another client/,
      );
      refused(await exchange(mcp, { subject_token: subject.token, actor_token: othersToken }), "invalid_request", /together/);
      refused(
        await exchange(mcp, { subject_token: subject.token, actor_token: othersToken, actor_token_type: "urn:ietf:params:oauth:token-type:jwt" }),
        "invalid_request",
        /actor_token_type/,
      );
    });

    it("a chain deeper than 5 actors: invalid_request; exactly 5 is issued", async () => {
      let act: ActorClaim | undefined;
      for (let i = 0; i < 4; i++) act = { sub: `hop-${i}`, client_id: `hop-${i}`, ...(act ? { act } : {}) };
      // Four hops in the subject and the MCP server as the fifth: the longest chain allowed.
      const longest = await exchange(mcp, { subject_token: (await agentTokenForMcp(agent, { act })).token });
      assert.equal(longest.status, 200, JSON.stringify(longest.body));
      let depth = 0;
      for (let a = decodeJwt(String(longest.body.access_token)).act as ActorClaim | undefined; a; a = a.act) depth += 1;
      assert.equal(depth, 5);
      act = { sub: "hop-4", client_id: "hop-4", act };
      const subject = await agentTokenForMcp(agent, { act });
      refused(await exchange(mcp, { subject_token: subject.token }), "invalid_request", /longer than 5/);
    });

    it("another resource than the proxy: invalid_target", async () => {
      const subject = await agentTokenForMcp();
      refused(await exchange(mcp, { subject_token: subject.token, resource: RESOURCE }), "invalid_target", /v1\/proxy/);
      refused(await exchange(mcp, { subject_token: subject.token, resource: "https://elsewhere.example/api" }), "invalid_target");
    });

    it("an unknown connector, or one the app may not use, as audience: invalid_target", async () => {
      const subject = await agentTokenForMcp();
      refused(await exchange(mcp, { subject_token: subject.token, audience: "nope" }), "invalid_target", /nope/);
      const restricted = await connectAccount(fixture, ghOnly, "offline_access proxy");
      refused(await exchange(ghOnly, { subject_token: restricted.access_token, audience: "acme-oidc" }), "invalid_target", /acme-oidc/);
    });

    it("any scope but proxy, or a subject without proxy exchanged by its own app: invalid_scope", async () => {
      const subject = await agentTokenForMcp();
      refused(
        await exchange(mcp, { subject_token: subject.token, scope: "proxy files:read" }),
        "invalid_scope",
        /^a token for the proxy carries scope "proxy" only$/,
      );
      const own = await agentTokenForMcp();
      refused(await exchange(agent, { subject_token: own.token }), "invalid_scope", /lacks scope "proxy"/);
    });

    it("bad subject tokens: invalid_request", async () => {
      refused(
        await exchange(mcp, { subject_token: "not-a-token" }),
        "invalid_request",
        /^subject_token is not a valid broker access token: the access token is not valid$/,
      );
      const appToken = (await client.clientCredentialsGrant(mcp.config, { scope: "proxy" })).access_token;
      refused(await exchange(mcp, { subject_token: appToken }), "invalid_request", /not bound to an account/);
      const subject = await agentTokenForMcp();
      refused(
        await exchange(mcp, { subject_token: subject.token, subject_token_type: "urn:ietf:params:oauth:token-type:jwt" }),
        "invalid_request",
        /^subject_token_type must be urn:ietf:params:oauth:token-type:access_token \(a broker access token\)$/,
      );
      refused(
        await exchange(mcp, { subject_token: subject.token, requested_token_type: "urn:ietf:params:oauth:token-type:refresh_token" }),
        "invalid_request",
        /^requested_token_type must be urn:ietf:params:oauth:token-type:access_token$/,
      );
      refused(
        await exchange(mcp, { subject_token: subject.token, actor_token: "not-a-token", actor_token_type: ACCESS_TOKEN_TYPE }),
        "invalid_request",
        /^actor_token is not a valid broker access token: the access token is not valid$/,
      );
    });

    it("a subject token at its last second, an account or an app gone since it was issued: invalid_request", async () => {
      // A token expired within the clock tolerance still verifies; with no second left it cannot be exchanged (the new one would live 0 s).
      const last = await agentTokenForMcp(agent, { ttl: 0 });
      refused(await exchange(mcp, { subject_token: last.token }), "invalid_request", /^subject_token has expired$/);

      const orphan = await agentTokenForMcp();
      // Removed behind the broker's back: the subject token itself still verifies.
      await fixture.broker.services.db.account.delete({ where: { id: orphan.accountId } });
      refused(await exchange(mcp, { subject_token: orphan.token }), "invalid_request", /^the account of subject_token no longer exists$/);

      const shortLived = await registerApp(fixture, {
        name: "Short-lived agent",
        scopes: ["offline_access", "proxy"],
        grantTypes: ["authorization_code", "refresh_token"],
      });
      const fromGoneApp = await agentTokenForMcp(shortLived);
      // Deleted behind the broker's back (the admin API revokes its tokens first), as a race with that revocation would see it.
      await fixture.broker.services.db.app.delete({ where: { id: shortLived.id } });
      // What any process sees once its 5 s client cache has let go of the app.
      fixture.broker.services.clients.invalidate(shortLived.id);
      refused(await exchange(mcp, { subject_token: fromGoneApp.token }), "invalid_request", /^subject_token was issued to an app that no longer exists$/);
    });
  });

  describe("the on-demand page", () => {
    it("an unknown, expired or used ticket: a clear error page, not a 500", async () => {
      const browser = new TestBrowser();
      const unknown = await browser.navigate(`${fixture.broker.url}/connect/on-demand/${"x".repeat(43)}`);
      assert.equal(unknown.status, 400);
      assert.match(unknown.body, /expired or was already used/);
      const malformed = await browser.navigate(`${fixture.broker.url}/connect/on-demand/short`);
      assert.equal(malformed.status, 400);

      const subject = await agentTokenForMcp();
      const answer = await exchange(mcp, { subject_token: subject.token, audience: "acme-oidc" });
      const { url } = ElicitRequestURLParamsSchema.parse((answer.body.elicitations as unknown[])[0]);
      const page = await subject.browser.navigate(url);
      const cancelled = await subject.browser.submitForm(page, { button: "cancel" });
      assert.match(cancelled.body, /Nothing was connected/);
      const used = await subject.browser.submitForm(page, { button: "Connect" });
      assert.equal(used.status, 400);
      assert.match(used.body, /expired or was already used/);
    });

    it("a POST without this browser's CSRF token is refused, and leaves the ticket usable", async () => {
      const subject = await agentTokenForMcp();
      const { id } = await createConnectTicket(fixture.broker.services.redis, {
        appId: agent.id,
        userId: subject.accountId,
        connectorId: "acme-oidc",
        requestedBy: mcp.id,
      });
      const browser = subject.browser;
      const page = await browser.navigate(`${fixture.broker.url}/connect/on-demand/${id}`);
      const forged = await browser.submitForm(page, { fields: { csrf: "forged" } });
      assert.equal(forged.status, 403);
      const otherBrowser = await new TestBrowser().submitForm(page);
      assert.equal(otherBrowser.status, 403, "another browser's cookie does not match");
      const again = await browser.navigate(`${fixture.broker.url}/connect/on-demand/${id}`);
      assert.equal(again.status, 200);
    });

    it("an upstream's refusal or failure ends on an error page with its status and a way back to the agent; nothing is linked", async () => {
      const subject = await agentTokenForMcp();
      const cases = [
        [{ error: "access_denied" }, 403, "access_denied", "the end user denied access at GitHub-like"],
        [{ error: "temporarily_unavailable" }, 503, "temporarily_unavailable", "GitHub-like is temporarily unavailable"],
        [{ error: "invalid_scope" }, 500, "server_error", "GitHub-like refused the authorization request (invalid_scope)"],
        [{}, 400, "invalid_request", "GitHub-like sent neither a code nor an error"],
      ] as const;
      for (const [params, status, code, description] of cases) {
        // A ticket for the connector the user already has an account at: the flow stops at the upstream anyway.
        const { id } = await createConnectTicket(fixture.broker.services.redis, {
          appId: agent.id,
          userId: subject.accountId,
          connectorId: "gh",
          requestedBy: mcp.id,
        });
        const page = await subject.browser.navigate(`${fixture.broker.url}/connect/on-demand/${id}`);
        const atUpstream = await subject.browser.submitForm(page, { button: "Connect", stopAt: (u) => u.href.startsWith(fixture.github.authorizationUrl) });
        assert.equal(atUpstream.stopped, true, atUpstream.body);
        const back = new URL(fixture.broker.callbackUrl("gh"));
        back.searchParams.set("state", atUpstream.url.searchParams.get("state")!);
        for (const [k, v] of Object.entries(params)) back.searchParams.set(k, v);
        const refusedPage = await subject.browser.navigate(back);
        assert.equal(refusedPage.status, status, code);
        assert.ok(refusedPage.body.includes(`<code>${code}</code>`), refusedPage.body);
        assert.ok(refusedPage.body.includes(`Nothing was connected: ${description}. Return to your agent and try again.`), refusedPage.body);
      }
      const linked = await fixture.broker.services.db.account.count({ where: { appId: agent.id, userId: subject.accountId } });
      assert.equal(linked, 0, "no account was linked to the user");
    });

    it("never links an upstream account that belongs to another user: a clear refusal page", async () => {
      const sharedSub = `shared-${++nextSub}`;
      // User 1 connects the upstream account on demand first.
      const first = await agentTokenForMcp();
      const firstAnswer = await exchange(mcp, { subject_token: first.token, audience: "acme-oidc" });
      const { done } = await connectOnDemand(ElicitRequestURLParamsSchema.parse((firstAnswer.body.elicitations as unknown[])[0]).url, sharedSub, first.browser);
      assert.equal(done.status, 200, done.body);
      // User 2 signs in at the upstream as the same person: refused, user 1's account untouched.
      const second = await agentTokenForMcp();
      const secondAnswer = await exchange(mcp, { subject_token: second.token, audience: "acme-oidc" });
      const refusedPage = await connectOnDemand(
        ElicitRequestURLParamsSchema.parse((secondAnswer.body.elicitations as unknown[])[0]).url,
        sharedSub,
        second.browser,
      );
      assert.equal(refusedPage.done.status, 403, refusedPage.done.body);
      assert.match(refusedPage.done.body, /already connected for another user/);
      const accounts = await fixture.broker.services.db.account.findMany({ where: { appId: agent.id, connectorId: "acme-oidc", upstreamSubject: sharedSub } });
      assert.equal(accounts.length, 1);
      assert.equal(accounts[0]!.userId, first.accountId);
      refused(await exchange(mcp, { subject_token: second.token, audience: "acme-oidc" }), "connection_required");
    });

    it("goes on only in the browser where the ticket's user signed in; anywhere else a 403 page, and the ticket stays unused", async () => {
      const subject = await agentTokenForMcp();
      const answer = await exchange(mcp, { subject_token: subject.token, audience: "acme-oidc" });
      const { url } = ElicitRequestURLParamsSchema.parse((answer.body.elicitations as unknown[])[0]);
      const id = new URL(url).pathname.split("/").pop()!;
      const cookieName = userCookieName(agent.id);
      const ownCookie = subject.browser.cookies(url)[cookieName];
      assert.ok(ownCookie, "the authorization left the user cookie in the browser");
      const { keyring } = fixture.broker.services;
      const withCookie = (value: string) => {
        const browser = new TestBrowser();
        browser.setCookie(url, `${cookieName}=${value}; Path=/connect/on-demand`);
        return browser;
      };
      const assertRefused = (page: { status: number; body: string }, why: string) => {
        assert.equal(page.status, 403, `${why}: ${page.body}`);
        assert.match(page.body, /This link was made for another sign-in/, why);
        assert.match(page.body, /where you signed in to Research Agent/, why);
      };

      assertRefused(await new TestBrowser().navigate(url), "no cookie");
      const otherUser = await agentTokenForMcp();
      assertRefused(await otherUser.browser.navigate(url), "another user of the same app");
      const last = ownCookie.at(-2) === "A" ? "B" : "A";
      assertRefused(await withCookie(`${ownCookie.slice(0, -2)}${last}${ownCookie.at(-1)}`).navigate(url), "a tampered cookie");
      assertRefused(await withCookie("v1.k1.forged.forged").navigate(url), "a forged cookie");
      const otherAppsCookie = sealUserCookie(keyring, mcp.id, subject.accountId, Date.now() + 60_000);
      assertRefused(await withCookie(otherAppsCookie).navigate(url), "another app's cookie under this app's name");
      assertRefused(await withCookie(sealUserCookie(keyring, agent.id, subject.accountId, Date.now() - 1000)).navigate(url), "an expired cookie");
      // The same cookie, unexpired, is accepted: the expiry was the reason.
      assert.equal((await withCookie(sealUserCookie(keyring, agent.id, subject.accountId, Date.now() + 60_000)).navigate(url)).status, 200);

      // A POST from another user's browser, with a valid CSRF token of its own: refused before the ticket is taken.
      // (Its binding cookie, which keys its CSRF tokens, comes from opening a link of its own user.)
      const othersAnswer = await exchange(mcp, { subject_token: otherUser.token, audience: "acme-oidc" });
      const othersPage = await otherUser.browser.navigate(ElicitRequestURLParamsSchema.parse((othersAnswer.body.elicitations as unknown[])[0]).url);
      assert.equal(othersPage.status, 200, othersPage.body);
      const otherBinding = otherUser.browser.cookies(url).ab_on_demand!;
      assert.ok(otherBinding);
      const page = await subject.browser.navigate(url);
      for (const button of ["Connect", "cancel"]) {
        const posted = await otherUser.browser.submitForm(page, { button, fields: { csrf: csrfTokenFor(otherBinding, id) } });
        assertRefused(posted, `a POST (${button}) from another user's browser`);
      }

      const { done } = await connectOnDemand(url, `od-${++nextSub}`, subject.browser);
      assert.equal(done.status, 200, done.body);
      assert.match(done.body, /Your Acme OIDC account is connected/);
    });
  });
});
