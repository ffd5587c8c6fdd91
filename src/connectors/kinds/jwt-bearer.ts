/**
 * `jwt_bearer` (RFC 7523 §2.1): the broker signs an assertion with the
 * connector's private key (made by `authbroker credentials keygen`, or
 * imported with `credentials set --private-key-file`) and trades it for an
 * access token. No refresh token is involved: a new assertion is the
 * refresh. The subject (`sub`) is what the end user typed on the connect
 * page — a user or enterprise id — and is kept in the account's sealed
 * fields so the next assertion is made for the same subject.
 */
import { randomBytes } from "node:crypto";
import { importJWK, SignJWT, type JWK } from "jose";
import * as oidc from "openid-client";
import { ConnectorNotConfigured } from "../errors.js";
import type { ConnectorConfig, ConnectorOfKind } from "../schema.js";
import { filled, tokenEndpointConfiguration, toUpstreamTokens } from "./authorization-code.js";
import { identityFromUrl } from "./identity.js";
import type {
  AssertionSigner,
  AuthKind,
  IdentityFetcher,
  KindContext,
  PromptField,
  Refresher,
  ServiceTokenFetcher,
  UpstreamIdentity,
  UpstreamTokens,
} from "./types.js";
import { upstreamCall } from "./upstream-errors.js";

export const JWT_BEARER_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/** The account field that keeps the subject between assertions. */
export const SUBJECT_FIELD = "subject";

type JwtBearerAuth = ConnectorOfKind<"jwt_bearer">["auth"];

function jwtBearerAuthOf(connector: ConnectorConfig): JwtBearerAuth {
  if (connector.auth.kind !== "jwt_bearer") throw new TypeError(`connector "${connector.id}" is ${connector.auth.kind}, not jwt_bearer`);
  return connector.auth;
}

function keyMissing(ctx: KindContext, why: string): ConnectorNotConfigured {
  return new ConnectorNotConfigured(
    ctx.connector.id,
    `connector "${ctx.connector.id}" ${why}: run \`authbroker credentials keygen ${ctx.connector.id}\` (or \`credentials set --private-key-file\`)`,
  );
}

async function signingKey(
  ctx: KindContext,
  auth: JwtBearerAuth,
): Promise<{ key: Exclude<Awaited<ReturnType<typeof importJWK>>, Uint8Array>; jwk: JWK; alg: string }> {
  const jwk = ctx.credentials?.privateJwk;
  if (!jwk) throw keyMissing(ctx, "has no private key");
  const alg = jwk.alg ?? auth.algorithm;
  let key: Awaited<ReturnType<typeof importJWK>>;
  try {
    key = await importJWK(jwk, alg);
  } catch (err) {
    throw keyMissing(ctx, `has a stored private key that cannot be used (${(err as { code?: string }).code ?? "invalid key"})`);
  }
  if (key instanceof Uint8Array || key.type !== "private") throw keyMissing(ctx, "has no private key");
  return { key, jwk, alg };
}

/**
 * The `sub` of an assertion: what the end user typed; the client id when
 * the connector asks for none (RFC 7523 §3: the broker acting as itself);
 * none at all when the connector made it optional and it was left empty.
 */
function assertionSubject(ctx: KindContext, auth: JwtBearerAuth, typed: string | undefined): string | undefined {
  if (typed !== undefined && typed !== "") return typed;
  if (!auth.subject) return ctx.credentials?.clientId;
  if (!auth.subject.required) return undefined;
  throw new TypeError(`connector "${ctx.connector.id}" needs a subject for its assertion`);
}

export function createJwtBearerKind(): AuthKind & AssertionSigner & ServiceTokenFetcher & Refresher & IdentityFetcher {
  async function signAssertion(ctx: KindContext, typed: string | undefined): Promise<string> {
    const auth = jwtBearerAuthOf(ctx.connector);
    const clientId = ctx.credentials?.clientId;
    if (!clientId)
      throw new ConnectorNotConfigured(
        ctx.connector.id,
        `connector "${ctx.connector.id}" has no client id for the assertion's iss: run \`authbroker credentials set ${ctx.connector.id} --client-id …\``,
      );
    const { key, jwk, alg } = await signingKey(ctx, auth);
    const claims: Record<string, unknown> = { ...auth.claims };
    if (auth.scopeClaim && ctx.upstreamScopes.length > 0) claims.scope = ctx.upstreamScopes.join(" ");
    const now = Math.floor(Date.now() / 1000);
    const assertion = new SignJWT(claims)
      .setProtectedHeader({ alg, typ: "JWT", ...(jwk.kid ? { kid: jwk.kid } : {}) })
      .setIssuer(clientId)
      // RFC 7523 §3: aud identifies the authorization server; its token endpoint URL unless the connector names another.
      .setAudience(filled(ctx, auth.audience) ?? filled(ctx, auth.tokenUrl))
      .setIssuedAt(now)
      .setExpirationTime(now + auth.assertionLifetimeSeconds)
      // §3 item 7: a unique jti lets the upstream refuse a replayed assertion.
      .setJti(randomBytes(16).toString("base64url"));
    const subject = assertionSubject(ctx, auth, typed);
    if (subject !== undefined) assertion.setSubject(subject);
    return assertion.sign(key);
  }

  async function requestToken(ctx: KindContext, subject: string | undefined): Promise<UpstreamTokens> {
    const auth = jwtBearerAuthOf(ctx.connector);
    const assertion = await signAssertion(ctx, subject);
    const config = await tokenEndpointConfiguration(ctx, auth.tokenUrl, auth.tokenAuthMethod);
    const parameters: Record<string, string> = { assertion };
    if (!auth.scopeClaim && ctx.upstreamScopes.length > 0) parameters.scope = ctx.upstreamScopes.join(" ");
    const response = await upstreamCall(ctx.connector, "assertion grant", () => oidc.genericGrantRequest(config, JWT_BEARER_GRANT_TYPE, parameters));
    // A refresh token would be pointless (the key makes new assertions) and is not kept.
    return { ...toUpstreamTokens(response, ctx.connector), refreshToken: undefined, fields: subject ? { [SUBJECT_FIELD]: subject } : undefined };
  }

  async function identityOf(ctx: KindContext, tokens: UpstreamTokens, subject: string | undefined): Promise<UpstreamIdentity> {
    if (ctx.connector.identity?.url) return identityFromUrl(ctx, tokens.accessToken);
    const auth = jwtBearerAuthOf(ctx.connector);
    return { subject: assertionSubject(ctx, auth, subject) ?? ctx.credentials?.clientId ?? ctx.connector.id, profile: {} };
  }

  return {
    kind: "jwt_bearer",
    signAssertion,

    subjectFields(connector): PromptField[] {
      const subject = jwtBearerAuthOf(connector).subject;
      if (!subject) return [];
      return [
        {
          name: SUBJECT_FIELD,
          label: subject.label,
          description: subject.description,
          pattern: subject.pattern,
          required: subject.required,
          secret: false,
          autocomplete: "off",
        },
      ];
    },

    async fetchServiceGrant(ctx, subject) {
      const typed = subject === "" ? undefined : subject;
      const tokens = await requestToken(ctx, typed);
      return { tokens, identity: await identityOf(ctx, tokens, typed) };
    },

    // A new assertion is the refresh; the account's subject comes from its sealed fields (ctx.fields), kept at connect.
    needsRefreshToken: false,
    refresh: (ctx) => requestToken(ctx, ctx.fields?.[SUBJECT_FIELD]),

    fetchIdentity: (ctx, tokens) => identityOf(ctx, tokens, ctx.fields?.[SUBJECT_FIELD]),
  };
}
