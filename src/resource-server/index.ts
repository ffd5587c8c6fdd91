/**
 * For resource servers behind the broker (an MCP server, an API): verify the
 * broker's access tokens issued for your own URI, and serve the RFC 9728
 * metadata that tells clients where to get one. docs/agents.md shows it with
 * the official MCP SDK:
 *
 *   const verifier = brokerTokenVerifier({ issuer, resource, invalidToken: (m) => new InvalidTokenError(m) });
 *   app.use("/mcp", requireBearerAuth({ verifier, requiredScopes: ["files:read"], resourceMetadataUrl }));
 *   app.get(new URL(protectedResourceMetadataUrl(resource)).pathname, (_req, res) => res.json(protectedResourceMetadata({ issuer, resource, scopes })));
 *
 * Standalone on purpose: it imports nothing of the broker (a rule of
 * .dependency-cruiser.cjs), only jose, so a resource server can copy or
 * import it without the broker's database, Redis or configuration.
 *
 * It checks what a resource server can check alone (RFC 9068 §4): the
 * signature by a key of the broker's JWKS (fetched once and cached by jose,
 * refetched for a key id it does not know), `typ` at+jwt, the issuer, the
 * audience (exactly this resource: RFC 8707, a token for another resource
 * is refused) and the expiry. Revocation it cannot see: a revoked token
 * passes here until it expires, but every call it makes through the broker
 * (token exchange, the proxy) is refused, and access tokens are short-lived.
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";

/** The token information the MCP SDK's `requireBearerAuth` wants (its AuthInfo), with the broker's claims in `extra`. */
export interface BrokerTokenInfo {
  token: string;
  /** The app (agent) the token was issued to. */
  clientId: string;
  scopes: string[];
  /** Seconds since the epoch. */
  expiresAt: number;
  /** The resource the token is for: this server. */
  resource: URL;
  extra: {
    /** The account the token acts for (the user's connection that signed them in), if any. */
    account?: string;
    connector?: string;
    subject: string;
    /** RFC 8693 `act`: who acts for the subject, when the token came from a delegation. */
    act?: unknown;
  };
}

export interface BrokerTokenVerifierOptions {
  /** The broker's issuer URL (BROKER_ISSUER). */
  issuer: string;
  /** This server's resource URI, as registered with `authbroker resources create --uri`: tokens must name it in `aud`. */
  resource: string;
  /** The broker's JWKS. @defaultValue `<issuer>/oauth/jwks` */
  jwksUri?: string;
  /**
   * The error to throw for a token that must be refused. The MCP SDK answers
   * 401 invalid_token only for its own `InvalidTokenError` (anything else is
   * a 500), so pass `(message) => new InvalidTokenError(message)`.
   */
  invalidToken?: (message: string) => Error;
  /** Seconds of clock skew tolerated on `exp`/`iat`. @defaultValue 30 */
  clockToleranceSeconds?: number;
}

/** Refusals, when no `invalidToken` factory is given. */
export class BrokerTokenError extends Error {
  override name = "BrokerTokenError";
}

/** The JWKS path of the broker (src/paths.ts JWKS_PATH; repeated here to stay standalone). */
const BROKER_JWKS_PATH = "/oauth/jwks";

export function brokerTokenVerifier(options: BrokerTokenVerifierOptions): { verifyAccessToken(token: string): Promise<BrokerTokenInfo> } {
  const jwks = createRemoteJWKSet(new URL(options.jwksUri ?? `${options.issuer}${BROKER_JWKS_PATH}`));
  const refuse = options.invalidToken ?? ((message: string) => new BrokerTokenError(message));
  const resource = new URL(options.resource);
  return {
    async verifyAccessToken(token: string): Promise<BrokerTokenInfo> {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, jwks, {
          issuer: options.issuer,
          audience: options.resource,
          typ: "at+jwt",
          algorithms: ["ES256", "EdDSA"],
          requiredClaims: ["exp", "sub", "client_id"],
          clockTolerance: options.clockToleranceSeconds ?? 30,
        }));
      } catch (err) {
        if (err instanceof joseErrors.JWTClaimValidationFailed && err.claim === "aud") throw refuse("the access token is for another resource");
        if (err instanceof joseErrors.JWTExpired) throw refuse("the access token has expired");
        if (err instanceof joseErrors.JOSEError) throw refuse("the access token is not valid");
        throw err; // the JWKS could not be fetched: an outage, not the token's fault
      }
      const claims = payload as JWTPayload & { client_id: string; scope?: unknown; acct?: unknown; connector?: unknown; act?: unknown };
      if (typeof claims.client_id !== "string") throw refuse("the access token is not valid");
      return {
        token,
        clientId: claims.client_id,
        scopes: typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [],
        expiresAt: claims.exp!,
        resource,
        extra: {
          subject: claims.sub!,
          ...(typeof claims.acct === "string" ? { account: claims.acct } : {}),
          ...(typeof claims.connector === "string" ? { connector: claims.connector } : {}),
          ...(claims.act !== undefined ? { act: claims.act } : {}),
        },
      };
    },
  };
}

/** The path RFC 9728 §3.1 registers for protected resource metadata (src/paths.ts has it too; repeated here to stay standalone). */
const METADATA_PATH = "/.well-known/oauth-protected-resource";

/**
 * RFC 9728 §3.1: where a resource's metadata lives — the well-known segment
 * inserted between the host and the resource's path (none for a URI without
 * a path); a query string is kept, as §3.1 says.
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}${METADATA_PATH}${path}${url.search}`;
}

/** RFC 9728 §2: the metadata of a protected resource (the fields the broker fills). */
export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: string[];
  bearer_methods_supported: string[];
  resource_name?: string;
}

/** The metadata naming `issuer` (the broker) as the resource's authorization server; bearer tokens in the Authorization header only (RFC 6750 §2.1). */
export function protectedResourceMetadata(options: { issuer: string; resource: string; scopes: readonly string[]; name?: string }): ProtectedResourceMetadata {
  return {
    resource: options.resource,
    authorization_servers: [options.issuer],
    scopes_supported: [...options.scopes],
    bearer_methods_supported: ["header"],
    ...(options.name ? { resource_name: options.name } : {}),
  };
}
