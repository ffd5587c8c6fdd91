/**
 * `password_grant` (RFC 6749 §4.3): the end user's name and password, typed
 * into the broker's form, are exchanged once at the upstream token endpoint
 * and then dropped — the account keeps only the tokens, which refresh like
 * any others (§6). RFC 9700 §2.4 deprecates this grant; it is here for
 * upstreams that offer nothing else.
 */
import * as oidc from "openid-client";
import { FormValuesRejected, UpstreamInvalidGrant } from "../errors.js";
import type { ConnectorOfKind } from "../schema.js";
import { tokenEndpointConfiguration, toUpstreamTokens } from "./authorization-code.js";
import { identityFromUrl } from "./identity.js";
import { checkTypedValues } from "./prompt-fields.js";
import type { AuthKind, IdentityFetcher, KindContext, PasswordExchanger, PromptField, Refresher, UpstreamIdentity, UpstreamTokens } from "./types.js";
import { upstreamCall } from "./upstream-errors.js";

type PasswordGrantConnector = ConnectorOfKind<"password_grant">;

function passwordAuthOf(ctx: KindContext): PasswordGrantConnector["auth"] {
  if (ctx.connector.auth.kind !== "password_grant") throw new TypeError(`connector "${ctx.connector.id}" is ${ctx.connector.auth.kind}, not password_grant`);
  return ctx.connector.auth;
}

export function createPasswordGrantKind(): AuthKind & PasswordExchanger & Refresher & IdentityFetcher {
  const passwordFields = (connector: { id: string; auth: { kind: string; usernameLabel?: string } }): PromptField[] => {
    if (connector.auth.kind !== "password_grant") throw new TypeError(`connector "${connector.id}" is ${connector.auth.kind}, not password_grant`);
    return [
      { name: "username", label: connector.auth.usernameLabel ?? "Username", secret: false, required: true, autocomplete: "username" },
      { name: "password", label: "Password", secret: true, required: true, autocomplete: "current-password" },
    ];
  };

  async function identityOf(ctx: KindContext, tokens: UpstreamTokens, username?: string): Promise<UpstreamIdentity> {
    if (ctx.connector.identity?.url) return identityFromUrl(ctx, tokens.accessToken);
    // Without an identity URL the name the upstream accepted is the stable key.
    if (username !== undefined) return { subject: username, profile: {} };
    throw new TypeError(`connector "${ctx.connector.id}" has no identity.url to say who a token belongs to`);
  }

  return {
    kind: "password_grant",
    passwordFields,

    async exchangePassword(ctx, username, password) {
      const auth = passwordAuthOf(ctx);
      checkTypedValues(passwordFields(ctx.connector), { username, password });
      const config = await tokenEndpointConfiguration(ctx, auth.tokenUrl, auth.tokenAuthMethod);
      const parameters: Record<string, string> = { username, password };
      if (ctx.upstreamScopes.length > 0) parameters.scope = ctx.upstreamScopes.join(" ");
      let response;
      try {
        response = await upstreamCall(ctx.connector, "password grant", () => oidc.genericGrantRequest(config, "password", parameters));
      } catch (err) {
        // RFC 6749 §5.2: invalid_grant is "the resource owner credentials are invalid".
        if (err instanceof UpstreamInvalidGrant)
          throw new FormValuesRejected(`${ctx.connector.name} did not accept this user name and password.`, "password", { detail: err.detail });
        throw err;
      }
      const tokens = toUpstreamTokens(response, ctx.connector);
      return { tokens, identity: await identityOf(ctx, tokens, username) };
    },

    needsRefreshToken: true,
    async refresh(ctx, refreshToken) {
      const auth = passwordAuthOf(ctx);
      const config = await tokenEndpointConfiguration(ctx, auth.tokenUrl, auth.tokenAuthMethod);
      return toUpstreamTokens(await upstreamCall(ctx.connector, "refresh", () => oidc.refreshTokenGrant(config, refreshToken)), ctx.connector);
    },

    fetchIdentity: (ctx, tokens) => identityOf(ctx, tokens),
  };
}
