/**
 * connectors/spotify-app.yaml against a fake Spotify that behaves as Spotify
 * documents for the client credentials flow (test/support/conformance/providers/spotify.ts):
 * the app's own one-hour token, HTTP Basic client authentication, no refresh
 * token — a new grant renews it.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startConformance, type ConformanceRun } from "../../support/conformance/harness.js";
import { spotifyApp, spotifyProfile } from "../../support/conformance/providers/spotify.js";

const ORIGINS = ["https://accounts.spotify.com", "https://api.spotify.com"];

describe("spotify-app.yaml against Spotify's documented behaviour", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await startConformance({ connector: "spotify-app", origins: ORIGINS, provider: spotifyProfile(), user: spotifyApp() });
  });
  after(() => run?.stop());

  it("connects with the app's own token, got with Basic client authentication", async () => {
    const account = await run.connect();
    const token = run.provider.requestsTo("POST", "/api/token");
    assert.ok(token.length >= 1);
    assert.equal(token[0]!.form?.get("grant_type"), "client_credentials");
    assert.ok(token[0]!.headers.authorization?.startsWith("Basic "));
    assert.equal(token[0]!.form?.get("client_secret"), null);
    const row = await run.account(account.accountId);
    assert.equal(row.credentialExpirySource, "expires_in");
  });

  it("the proxy reaches /v1 with the app token", async () => {
    const account = await run.connect();
    const res = await run.proxy(account, "/search?q=abba&type=artist");
    assert.equal(res.status, 200, res.text);
    const echoed = res.json<{ path: string; headers: Record<string, string> }>();
    assert.equal(echoed.path, "/v1/search");
    assert.match(echoed.headers.authorization ?? "", /^Bearer at-/);
  });

  it("a token Spotify refuses before its expiry is dropped from the shared cache and replaced by a new grant", async () => {
    const account = await run.connect();
    run.provider.expireAccessTokens();
    const grants = run.provider.grants.client_credentials ?? 0;
    const again = await run.proxy(account, "/artists/0LcJLqbBmaGUft1e9Mm8HV");
    assert.equal(again.status, 200, again.text);
    assert.equal(run.provider.grants.client_credentials ?? 0, grants + 1, "one new client credentials grant");
    // Another account of the app takes the new token from the cache: no grant of its own.
    const other = await run.connect();
    assert.equal((await run.proxy(other, "/artists/0LcJLqbBmaGUft1e9Mm8HV")).status, 200);
    assert.equal(run.provider.grants.client_credentials ?? 0, grants + 1, "the new token is shared");
  });
});
