/**
 * Tokens without `expires_in` (RFC 6749 §5.1 only RECOMMENDS it): every
 * account whose tokens can be renewed still gets an expiry and a refresh
 * schedule — from the JWT's `exp`, the connector's
 * `refresh.defaultTokenLifetimeSeconds`, or a probe an hour on — and the
 * operator's account view says which rule gave it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startBrokerWithGitHubLike, connectTestAccount, registerTestApp, type TestApp } from "../../support/flow.js";
import type { TestBroker } from "../../support/broker.js";
import type { OAuth2Upstream, OAuth2UpstreamOptions } from "../../support/oauth2-upstream.js";
import { refreshAccount } from "../../../src/accounts/refresh.js";
import { readCredentials } from "../../../src/accounts/vault.js";
import { refreshJobId } from "../../../src/jobs/queues.js";
import { TOKEN_PROBE_INTERVAL_SECONDS } from "../../../src/connectors/token-expiry.js";

const ADMIN_TOKEN = "admin-token-for-tests-0123456789abcdef";
const MARGIN = 300;

interface Setup {
  broker: TestBroker;
  upstream: OAuth2Upstream;
  app: TestApp;
  stop(): Promise<void>;
}

async function setUp(upstream: Partial<OAuth2UpstreamOptions>, refresh: Record<string, number> = {}): Promise<Setup> {
  const setup = await startBrokerWithGitHubLike({
    upstream,
    connector: { refresh: { marginSeconds: MARGIN, ...refresh } },
    env: { BROKER_ADMIN_TOKEN: ADMIN_TOKEN },
  });
  return { ...setup, app: await registerTestApp(setup.broker) };
}

/** What the operator sees of an account (GET /admin/v1/accounts/<id>). */
async function adminView(broker: TestBroker, accountId: string): Promise<{ credential_expires_at: string | null; credential_expiry_source: string | null }> {
  const response = await fetch(`${broker.url}/admin/v1/accounts/${accountId}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  assert.equal(response.status, 200);
  return (await response.json()) as { credential_expires_at: string | null; credential_expiry_source: string | null };
}

/** Seconds from now until the account's stored expiry. */
async function secondsLeft(broker: TestBroker, accountId: string): Promise<number> {
  const stored = await readCredentials(broker.services.db, broker.services.keyring, accountId);
  assert.ok(stored?.expiresAt, "the credentials have an expiry");
  return (stored.expiresAt.getTime() - Date.now()) / 1000;
}

async function plannedJob(broker: TestBroker, accountId: string): Promise<{ state: string; delaySeconds: number }> {
  const job = await broker.services.queues.refresh.getJob(refreshJobId(accountId));
  assert.ok(job, "the account has a refresh job");
  return { state: await job.getState(), delaySeconds: (job.timestamp + job.delay - Date.now()) / 1000 };
}

function near(actual: number, expected: number, slack = 30): void {
  assert.ok(Math.abs(actual - expected) <= slack, `${actual.toFixed(0)} s is not about ${expected} s`);
}

describe("an upstream that says nothing about expiry, with opaque tokens", () => {
  let setup: Setup;
  before(async () => {
    setup = await setUp({ accessTokenTtl: null });
  });
  after(() => setup?.stop());

  it("the account gets a probe expiry an hour (plus the margin) on, a scheduled refresh, and says so", async () => {
    const { accountId } = await connectTestAccount(setup.app, "gh");
    near(await secondsLeft(setup.broker, accountId), TOKEN_PROBE_INTERVAL_SECONDS + MARGIN);
    const job = await plannedJob(setup.broker, accountId);
    assert.equal(job.state, "delayed");
    // Planned a margin before the expiry, less up to 60 s of jitter: about an hour on.
    assert.ok(job.delaySeconds > TOKEN_PROBE_INTERVAL_SECONDS - 90 && job.delaySeconds <= TOKEN_PROBE_INTERVAL_SECONDS + 5, `${job.delaySeconds}`);
    const view = await adminView(setup.broker, accountId);
    assert.equal(view.credential_expiry_source, "probe");
    assert.ok(view.credential_expires_at);
  });

  it("a refresh infers again: the rotated tokens get a new probe expiry and the schedule moves with it", async () => {
    const { accountId } = await connectTestAccount(setup.app, "gh");
    const before = await readCredentials(setup.broker.services.db, setup.broker.services.keyring, accountId);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const result = await refreshAccount(setup.broker.services, accountId, { force: true });
    assert.equal(result.outcome, "refreshed");
    assert.ok(result.credentials.expiresAt! > before!.expiresAt!, "a later expiry than the first token's");
    assert.equal((await plannedJob(setup.broker, accountId)).state, "delayed");
    const account = await setup.broker.services.db.account.findUniqueOrThrow({ where: { id: accountId } });
    assert.equal(account.credentialExpirySource, "probe");
    assert.equal(account.credentialExpiresAt?.getTime(), result.credentials.expiresAt!.getTime());
  });
});

describe("an upstream that says nothing about expiry, with a connector default lifetime", () => {
  let setup: Setup;
  before(async () => {
    setup = await setUp({ accessTokenTtl: null }, { defaultTokenLifetimeSeconds: 7200 });
  });
  after(() => setup?.stop());

  it("the connector's defaultTokenLifetimeSeconds gives the expiry, and the view says connector_default", async () => {
    const { accountId } = await connectTestAccount(setup.app, "gh");
    near(await secondsLeft(setup.broker, accountId), 7200);
    assert.equal((await plannedJob(setup.broker, accountId)).state, "delayed");
    assert.equal((await adminView(setup.broker, accountId)).credential_expiry_source, "connector_default");
  });
});

describe("an upstream whose access tokens are JWTs", () => {
  let setup: Setup;
  before(async () => {
    // The default lifetime is there to show that a JWT's exp comes first.
    setup = await setUp({ accessTokenTtl: null, jwtAccessTokenExpSeconds: 1800 }, { defaultTokenLifetimeSeconds: 7200 });
  });
  after(() => setup?.stop());

  it("without expires_in, the token's exp is its expiry (decoded, not verified), and the view says jwt_exp", async () => {
    const { accountId } = await connectTestAccount(setup.app, "gh");
    near(await secondsLeft(setup.broker, accountId), 1800, 5);
    assert.equal((await plannedJob(setup.broker, accountId)).state, "delayed");
    assert.equal((await adminView(setup.broker, accountId)).credential_expiry_source, "jwt_exp");
  });
});

describe("an upstream that sends expires_in", () => {
  let setup: Setup;
  before(async () => {
    setup = await setUp({ accessTokenTtl: 900, jwtAccessTokenExpSeconds: 1800 });
  });
  after(() => setup?.stop());

  it("expires_in wins over anything inferred, and the view says expires_in", async () => {
    const { accountId } = await connectTestAccount(setup.app, "gh");
    near(await secondsLeft(setup.broker, accountId), 900, 5);
    assert.equal((await adminView(setup.broker, accountId)).credential_expiry_source, "expires_in");
  });
});
