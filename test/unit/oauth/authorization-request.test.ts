/**
 * Reading and checking an authorization request (src/oauth/authorization-request.ts),
 * called directly: which parameters are read and from where, phase one's
 * non-redirectable refusals (client, redirect URI), and every check of phase
 * two with the exact error it answers. The endpoint's behaviour around them
 * (error pages, redirects with state) is in integration/oauth/unified-flow
 * and response-types.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Request } from "express";
import {
  findClientAndRedirect,
  normaliseResponseType,
  readAuthorizeParameters,
  validateAuthorizationRequest,
  type AuthorizeParameter,
  type AuthorizeParameters,
} from "../../../src/oauth/authorization-request.js";
import type { Client } from "../../../src/apps/clients.js";
import { BrokerError } from "../../../src/errors.js";

const REDIRECT = "https://app.example/cb";
const CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

function client(overrides: Partial<Client> = {}): Client {
  return {
    id: "app_test",
    name: "Test app",
    isPublic: true,
    secretHash: null,
    previousSecretHash: null,
    previousSecretExpiresAt: null,
    tokenEndpointAuthMethod: "none",
    tokenEndpointAuthMethods: ["none"],
    redirectUris: [REDIRECT],
    grantTypes: ["authorization_code", "refresh_token"],
    responseTypes: ["code"],
    scopes: ["openid", "proxy"],
    connectors: [],
    accessTokenTtl: 3600,
    refreshTokenTtl: 86400,
    idTokenTtl: 3600,
    jwks: null,
    allowUpstreamTokens: false,
    webhookUrl: null,
    requirePkce: true,
    registration: "cli",
    registrationHash: null,
    ...overrides,
  };
}

/** The error `run` throws: its class name (the OAuth code), description and whether it may be redirected. */
function refusal(run: () => unknown): { code: string; description: string; redirectable: unknown } {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof BrokerError, String(err));
    return { code: err.code, description: err.description, redirectable: (err as { redirectable?: unknown }).redirectable };
  }
  assert.fail("was accepted");
}

async function refusalOf(promise: Promise<unknown>): Promise<{ code: string; description: string; redirectable: unknown }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof BrokerError, String(err));
    return { code: err.code, description: err.description, redirectable: (err as { redirectable?: unknown }).redirectable };
  }
  assert.fail("was accepted");
}

describe("readAuthorizeParameters", () => {
  it("reads the query of a GET and the form of a POST, only the parameters it knows, empty ones as absent", () => {
    const query = { client_id: "app_q", state: "", unknown: "x", scope: "openid" };
    const body = { client_id: "app_b", nonce: "n" };
    assert.deepEqual(readAuthorizeParameters({ method: "GET", query, body } as unknown as Request), {
      params: { client_id: "app_q", scope: "openid" },
      duplicated: [],
    });
    assert.deepEqual(readAuthorizeParameters({ method: "POST", query, body } as unknown as Request), {
      params: { client_id: "app_b", nonce: "n" },
      duplicated: [],
    });
    assert.deepEqual(readAuthorizeParameters({ method: "POST", query } as unknown as Request), { params: {}, duplicated: [] }, "a POST without a form");
  });

  it("a repeated parameter (an array) is reported, never read", () => {
    const query = { client_id: ["a", "b"], redirect_uri: REDIRECT, resource: ["https://r1.example", "https://r2.example"], state: { nested: "x" } };
    assert.deepEqual(readAuthorizeParameters({ method: "GET", query } as unknown as Request), {
      params: { redirect_uri: REDIRECT },
      duplicated: ["client_id", "state", "resource"],
    });
  });
});

describe("normaliseResponseType", () => {
  it("sorts the values and drops empty ones; nothing is the empty string", () => {
    assert.equal(normaliseResponseType("token  id_token code"), "code id_token token");
    assert.equal(normaliseResponseType(" code "), "code");
    assert.equal(normaliseResponseType(undefined), "");
  });
});

describe("findClientAndRedirect (phase one: never redirected)", () => {
  const find = (found: Client | undefined) => async (id: string) => {
    assert.equal(id, "app_test");
    return found;
  };

  it("refuses a repeated, missing or unknown client_id as invalid_client", async () => {
    for (const [params, duplicated, finder, description] of [
      [{ client_id: "app_test" }, ["client_id"], find(client()), "client_id is repeated"],
      [{}, [], find(client()), "client_id is missing"],
      [{ client_id: "app_test" }, [], find(undefined), "unknown client_id"],
    ] as const) {
      const refused = await refusalOf(findClientAndRedirect(finder, params, [...duplicated]));
      assert.deepEqual(refused, { code: "invalid_client", description, redirectable: false });
    }
  });

  it("takes the one registered redirect URI when none is sent; several, or none registered, need it sent", async () => {
    const one = await findClientAndRedirect(find(client()), { client_id: "app_test" }, []);
    assert.equal(one.redirectUri, REDIRECT);
    assert.equal(one.client.id, "app_test");
    for (const redirectUris of [[REDIRECT, "https://app.example/other"], []]) {
      const refused = await refusalOf(findClientAndRedirect(find(client({ redirectUris })), { client_id: "app_test" }, []));
      assert.deepEqual(refused, {
        code: "invalid_redirect_uri",
        description: "redirect_uri is missing and the app has several registered",
        redirectable: false,
      });
    }
    const chosen = await findClientAndRedirect(
      find(client({ redirectUris: [REDIRECT, "https://app.example/other"] })),
      { client_id: "app_test", redirect_uri: "https://app.example/other" },
      [],
    );
    assert.equal(chosen.redirectUri, "https://app.example/other");
  });

  it("a repeated or unregistered redirect URI; a loopback one on another port is the registered one", async () => {
    const repeated = await refusalOf(findClientAndRedirect(find(client()), { client_id: "app_test", redirect_uri: REDIRECT }, ["redirect_uri"]));
    assert.deepEqual(repeated, { code: "invalid_redirect_uri", description: "redirect_uri is repeated", redirectable: false });
    const other = await refusalOf(findClientAndRedirect(find(client()), { client_id: "app_test", redirect_uri: "https://app.example/cb2" }, []));
    assert.deepEqual(other, { code: "invalid_redirect_uri", description: "redirect_uri is not registered for this app", redirectable: false });
    const loopback = client({ redirectUris: ["http://127.0.0.1/cb"] });
    assert.equal(
      (await findClientAndRedirect(find(loopback), { client_id: "app_test", redirect_uri: "http://127.0.0.1:53123/cb" }, [])).redirectUri,
      "http://127.0.0.1:53123/cb",
    );
  });

  it("an http://localhost redirect URI registered before the rule is refused, naming the loopback IP URI", async () => {
    const legacy = client({ redirectUris: ["http://localhost:8080/cb"] });
    const refused = await refusalOf(findClientAndRedirect(find(legacy), { client_id: "app_test" }, []));
    assert.deepEqual(refused, {
      code: "invalid_redirect_uri",
      description:
        "redirect_uri http://localhost:8080/cb names localhost, which the broker no longer redirects to (RFC 8252 §8.3): register the app with http://127.0.0.1:8080/cb and send that",
      redirectable: false,
    });
  });
});

describe("validateAuthorizationRequest (phase two)", () => {
  const codeParams: AuthorizeParameters = { client_id: "app_test", response_type: "code", code_challenge: CHALLENGE, code_challenge_method: "S256" };
  const validate = (params: AuthorizeParameters, overrides: Partial<Client> = {}, duplicated: AuthorizeParameter[] = [], redirectUri = REDIRECT) =>
    validateAuthorizationRequest(client(overrides), redirectUri, params, duplicated);
  const refused = (params: AuthorizeParameters, overrides: Partial<Client> = {}, duplicated: AuthorizeParameter[] = [], redirectUri = REDIRECT) =>
    refusal(() => validate(params, overrides, duplicated, redirectUri));

  it("a code request: everything it carries, S256, the default response mode query", () => {
    const params = { ...codeParams, scope: "openid proxy openid", state: "st", nonce: "no", prompt: "login consent" };
    assert.deepEqual(validate(params), {
      client: client(),
      params,
      redirectUri: REDIRECT,
      responseType: "code",
      responseMode: "query",
      state: "st",
      nonce: "no",
      codeChallenge: CHALLENGE,
      codeChallengeMethod: "S256",
      requestedScopes: ["openid", "proxy"],
    });
  });

  it("repeated parameters: a repeated resource is invalid_target whatever else is repeated; others name the first", () => {
    assert.equal(refused(codeParams, {}, ["state", "resource"]).code, "invalid_target");
    assert.deepEqual(refused(codeParams, {}, ["state", "nonce"]), { code: "invalid_request", description: "parameter state is repeated", redirectable: true });
  });

  it("a parameter of 4096 characters is read, one of 4097 is too long", () => {
    assert.equal(validate({ ...codeParams, state: "s".repeat(4096) }).state, "s".repeat(4096));
    assert.deepEqual(refused({ ...codeParams, state: "s".repeat(4097) }), {
      code: "invalid_request",
      description: "parameter state is too long",
      redirectable: true,
    });
  });

  it("response_type: missing, unknown, not registered for the app, or a code for an app without the code grant", () => {
    const { response_type: _omitted, ...withoutResponseType } = codeParams;
    assert.deepEqual(refused(withoutResponseType), {
      code: "invalid_request",
      description: "response_type is missing",
      redirectable: true,
    });
    assert.equal(refused({ ...codeParams, response_type: "  " }).description, "response_type is missing");
    assert.deepEqual(refused({ ...codeParams, response_type: "code foo" }), {
      code: "unsupported_response_type",
      description: 'response_type "code foo" is not supported',
      redirectable: true,
    });
    assert.deepEqual(refused({ ...codeParams, response_type: "token", nonce: "n" }), {
      code: "unauthorized_client",
      description: 'the app is not registered for response_type "token"',
      redirectable: true,
    });
    assert.deepEqual(refused(codeParams, { grantTypes: ["refresh_token"] }), {
      code: "unauthorized_client",
      description: "the app is not registered for the authorization_code grant",
      redirectable: true,
    });
    // Without a code, the code grant is not needed.
    assert.equal(validate({ response_type: "token", nonce: "n" }, { responseTypes: ["token"], grantTypes: [] }).responseType, "token");
  });

  it("a hybrid response type in any order is the registered one, answered in the fragment", () => {
    const hybrid = validate({ ...codeParams, response_type: "id_token code", nonce: "n", scope: "openid" }, { responseTypes: ["code id_token"] });
    assert.equal(hybrid.responseType, "code id_token");
    assert.equal(hybrid.responseMode, "fragment");
  });

  it("response_mode: unknown, query with tokens, web_message to a custom scheme", () => {
    assert.deepEqual(refused({ ...codeParams, response_mode: "carrier_pigeon" }), {
      code: "invalid_request",
      description: 'response_mode "carrier_pigeon" is not supported',
      redirectable: true,
    });
    assert.deepEqual(refused({ response_type: "token", response_mode: "query", nonce: "n" }, { responseTypes: ["token"] }), {
      code: "invalid_request",
      description: 'response_mode "query" may not carry tokens: use fragment or form_post with response_type "token"',
      redirectable: true,
    });
    assert.deepEqual(refused({ ...codeParams, response_mode: "web_message" }, { redirectUris: ["com.example.app:/cb"] }, [], "com.example.app:/cb"), {
      code: "invalid_request",
      description: 'response_mode "web_message" needs an http or https redirect_uri: a custom scheme has no origin to post to',
      redirectable: true,
    });
    assert.equal(validate({ ...codeParams, response_mode: "form_post" }).responseMode, "form_post");
  });

  it("front-channel tokens need a nonce; an ID token needs openid, an access token alone does not", () => {
    assert.deepEqual(refused({ response_type: "token" }, { responseTypes: ["token"] }), {
      code: "invalid_request",
      description: 'nonce is required with response_type "token"',
      redirectable: true,
    });
    assert.deepEqual(refused({ response_type: "id_token token", nonce: "n", scope: "proxy" }, { responseTypes: ["id_token token"] }), {
      code: "invalid_request",
      description: 'response_type "id_token token" returns an ID token: scope must include openid',
      redirectable: true,
    });
    assert.deepEqual(validate({ response_type: "token", nonce: "n", scope: "proxy" }, { responseTypes: ["token"] }).requestedScopes, ["proxy"]);
    // A code alone needs no nonce, with or without openid.
    assert.equal(validate({ ...codeParams, scope: "openid" }).nonce, undefined);
  });

  it("PKCE: S256 only, a well-formed challenge, required for a code unless a legacy confidential app opted out", () => {
    const pkce = (params: AuthorizeParameters, overrides: Partial<Client> = {}) => refused({ response_type: "code", ...params }, overrides).description;
    assert.equal(pkce({ code_challenge_method: "S256" }), "code_challenge_method without code_challenge");
    assert.equal(pkce({ code_challenge: CHALLENGE }), 'code_challenge_method "plain" is not allowed; use S256');
    assert.equal(pkce({ code_challenge: CHALLENGE, code_challenge_method: "plain" }), 'code_challenge_method "plain" is not allowed; use S256');
    for (const challenge of ["a".repeat(42), "a".repeat(129), `${"a".repeat(42)}!`, `x${CHALLENGE}\n`])
      assert.equal(pkce({ code_challenge: challenge, code_challenge_method: "S256" }), "code_challenge is malformed", challenge);
    for (const challenge of ["a".repeat(43), "a".repeat(128), "aA0._~-".repeat(7)])
      assert.equal(validate({ response_type: "code", code_challenge: challenge, code_challenge_method: "S256" }).codeChallenge, challenge);
    const required = "PKCE is required: send code_challenge with code_challenge_method=S256";
    assert.equal(pkce({}), required);
    assert.equal(pkce({}, { isPublic: false, requirePkce: true }), required);
    assert.equal(pkce({}, { isPublic: true, requirePkce: false }), required);
    const legacy = validate({ response_type: "code" }, { isPublic: false, requirePkce: false });
    assert.deepEqual([legacy.codeChallenge, legacy.codeChallengeMethod], [undefined, undefined]);
    // Nothing to protect without a code.
    assert.equal(validate({ response_type: "token", nonce: "n" }, { responseTypes: ["token"] }).codeChallengeMethod, undefined);
  });

  it("prompt=none, alone or among others, is login_required; other prompts pass", () => {
    for (const prompt of ["none", "login none"])
      assert.deepEqual(refused({ ...codeParams, prompt }), {
        code: "login_required",
        description: "the end user must connect an account interactively",
        redirectable: true,
      });
    assert.equal(validate({ ...codeParams, prompt: "login  consent" }).responseType, "code");
  });
});
