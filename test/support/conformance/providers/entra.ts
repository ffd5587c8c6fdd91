/**
 * A fake Microsoft identity platform (Entra ID, v2.0 endpoints) and
 * Microsoft Graph, from Microsoft's documentation:
 *
 * - `/{tenant}/oauth2/v2.0/authorize` and `/token` (the shipped file uses
 *   `common`); client secret in the body or Basic;
 * - a refresh token only when `offline_access` was asked for; each refresh
 *   answers a new one (https://learn.microsoft.com/entra/identity-platform/refresh-tokens);
 * - `expires_in` (3599) and `ext_expires_in`; an ID token when `openid` was
 *   asked for, on the code exchange and again on every refresh, whose `iss`
 *   is `https://login.microsoftonline.com/{tid}/v2.0` with the USER's tenant
 *   id, whatever tenant segment the URL had
 *   (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference);
 *   personal accounts are tenant 9188040d-6c67-4c5b-b112-36a304b66dad;
 * - errors as `{ error, error_description: "AADSTS…", error_codes, timestamp, trace_id, correlation_id }`;
 * - Graph `GET /v1.0/me`: `id` (the object id), `displayName`, `mail` —
 *   null for personal accounts and users without a mailbox — and
 *   `userPrincipalName`; a refused token is 401 with Graph's
 *   `{ error: { code: "InvalidAuthenticationToken" } }`; `/v1.0/` and
 *   `/beta/` are the API.
 */
import { randomUUID } from "node:crypto";
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

/** The tenant of personal Microsoft accounts (consumers). */
export const CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad";

export interface EntraUser extends FakeUser {
  /** The object id: Graph's `id`, the ID token's `oid`. */
  id: string;
  tid: string;
  displayName: string;
  /** Null for personal accounts and users without an Exchange mailbox. */
  mail: string | null;
  userPrincipalName: string;
}

export function entraWorkUser(): EntraUser {
  return { id: randomUUID(), tid: randomUUID(), displayName: "Adele Vance", mail: "adele@contoso.example", userPrincipalName: "adele@contoso.example" };
}

export function entraPersonalUser(): EntraUser {
  return { id: randomUUID(), tid: CONSUMER_TENANT, displayName: "Pat Personal", mail: null, userPrincipalName: "pat@outlook.example" };
}

export interface EntraOptions {
  /** The tenant segment of the endpoints. @defaultValue common */
  tenant?: string;
  /** Overrides the ID token's issuer (to show what a wrong one does). */
  idTokenIssuer?: (origin: string, user: EntraUser) => string;
  /** Overrides the discovery document's issuer. @defaultValue `<origin>/{tenantid}/v2.0`, as Microsoft publishes it */
  discoveryIssuer?: (origin: string) => string;
}

export function entraProfile(options: EntraOptions = {}): FakeProviderProfile {
  const tenant = options.tenant ?? "common";
  const base = `/${tenant}/oauth2/v2.0`;
  return {
    name: "Microsoft Entra",
    paths: {
      authorize: `${base}/authorize`,
      token: `${base}/token`,
      jwks: `/${tenant}/discovery/v2.0/keys`,
      discovery: `/${tenant}/v2.0/.well-known/openid-configuration`,
    },
    client: { id: randomUUID(), secret: "entra~secret.0123456789" },
    clientAuth: "either",
    refreshTokenScopes: ["offline_access"],
    refreshRotates: true,
    accessTokenLifetimeSeconds: 3599,
    async tokenResponse(issued) {
      const user = issued.user as EntraUser;
      const scopes = issued.scope.split(" ");
      const response: Record<string, unknown> = { token_type: "Bearer", scope: issued.scope, expires_in: 3599, ext_expires_in: 3599 };
      if (scopes.includes("openid")) {
        response.id_token = await issued.signIdToken({
          ver: "2.0",
          iss: options.idTokenIssuer?.(issued.origin, user) ?? `${issued.origin}/${user.tid}/v2.0`,
          aud: issued.clientId,
          tid: user.tid,
          oid: user.id,
          // A pairwise subject: not the object id Graph answers.
          sub: `pairwise-${user.id.slice(0, 8)}`,
          name: user.displayName,
          preferred_username: user.userPrincipalName,
          ...(scopes.includes("email") && user.mail ? { email: user.mail } : {}),
          ...(issued.nonce ? { nonce: issued.nonce } : {}),
        });
      }
      return response;
    },
    tokenError: (error, description) => ({
      status: error === "invalid_client" ? 401 : 400,
      body: {
        error,
        error_description: `AADSTS70000: ${description}`,
        error_codes: [70000],
        timestamp: new Date().toISOString(),
        trace_id: randomUUID(),
        correlation_id: randomUUID(),
      },
    }),
    discovery: (origin) => ({
      // The multi-tenant document's issuer is a template, as Microsoft publishes it.
      issuer: options.discoveryIssuer?.(origin) ?? `${origin}/{tenantid}/v2.0`,
      authorization_endpoint: `${origin}${base}/authorize`,
      token_endpoint: `${origin}${base}/token`,
      jwks_uri: `${origin}/${tenant}/discovery/v2.0/keys`,
      userinfo_endpoint: `${origin}/oidc/userinfo`,
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
    }),
    resources: {
      "GET /v1.0/me": (user, _request, origin) => {
        const u = user as EntraUser;
        return {
          body: {
            "@odata.context": `${origin}/v1.0/$metadata#users/$entity`,
            id: u.id,
            displayName: u.displayName,
            mail: u.mail,
            userPrincipalName: u.userPrincipalName,
            businessPhones: [],
          },
        };
      },
    },
    unauthorized: () => ({
      status: 401,
      headers: { "www-authenticate": 'Bearer realm="", error="invalid_token"' },
      body: { error: { code: "InvalidAuthenticationToken", message: "Access token has expired or is not yet valid." } },
    }),
    apiPrefixes: ["/v1.0/", "/beta/"],
  };
}
