/**
 * Client authentication at the token endpoint (RFC 6749 §2.3, OIDC Core §9).
 * Each method is a strategy: it says whether a request carries its kind of
 * credentials and checks them. The endpoint finds the one method the request
 * uses, and that must be the method the client registered. Adding a method
 * (private_key_jwt) is one more entry in `CLIENT_AUTH_STRATEGIES`; discovery
 * lists the map's keys.
 */
import type { Request } from "express";
import { secretMatches } from "../crypto/secrets.js";
import { InvalidClient, InvalidRequest } from "../errors.js";
import type { Services } from "../services.js";
import type { FormParameters } from "./body.js";
import type { Client, ClientAuthMethod } from "./clients.js";

/** What client authentication may use. */
export type ClientAuthServices = Pick<Services, "clients" | "config" | "redis">;

/** What a strategy looks at: the Authorization header and the form parameters. */
export interface ClientAuthRequest {
  authorization: string | undefined;
  form: FormParameters;
}

export interface ClientAuthStrategy {
  /** Whether the request carries this method's credentials. */
  presentedIn(request: ClientAuthRequest): boolean;
  /** The client the credentials claim to be (not yet proven). Throws `InvalidRequest` for malformed credentials. */
  claimedClientId(request: ClientAuthRequest): string | undefined;
  /** Proves the claim for the registered client (an assertion check would use the services: keys, replay cache). Throws `InvalidClient`. */
  verify(client: Client, request: ClientAuthRequest, services: ClientAuthServices): Promise<void> | void;
}

export interface AuthenticatedClient {
  client: Client;
  method: ClientAuthMethod;
}

/** Parameters that carry client credentials; the endpoint never passes them on to a grant. */
export const CLIENT_AUTH_PARAMETERS = ["client_id", "client_secret", "client_assertion", "client_assertion_type"] as const;

function hasBasicScheme(authorization: string | undefined): authorization is string {
  return authorization !== undefined && /^basic /i.test(authorization);
}

/** application/x-www-form-urlencoded decoding of one Basic credential half (RFC 6749 §2.3.1). */
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, " "));
}

/** `Basic base64(urlencode(id):urlencode(secret))` → { id, secret }. */
export function parseBasicCredentials(authorization: string): { clientId: string; clientSecret: string } {
  const encoded = authorization.slice("basic ".length).trim();
  const decoded = Buffer.from(encoded, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (!/^[A-Za-z0-9+/]+=*$/.test(encoded) || colon === -1) throw new InvalidRequest("the Authorization header is not valid Basic credentials");
  try {
    return { clientId: formDecode(decoded.slice(0, colon)), clientSecret: formDecode(decoded.slice(colon + 1)) };
  } catch {
    throw new InvalidRequest("the client credentials in the Authorization header are not form-urlencoded (RFC 6749 §2.3.1)");
  }
}

function checkSecret(client: Client, secret: string): void {
  // secretMatches compares SHA-256 digests in constant time.
  if (!client.secretHash || !secretMatches(secret, client.secretHash)) throw new InvalidClient("client authentication failed: wrong client secret");
}

const clientSecretBasic: ClientAuthStrategy = {
  presentedIn: (request) => hasBasicScheme(request.authorization),
  claimedClientId(request) {
    const { clientId } = parseBasicCredentials(request.authorization!);
    // A client_id in the body as well is allowed, but must name the same client.
    const bodyClientId = request.form.get("client_id");
    if (bodyClientId !== undefined && bodyClientId !== clientId) throw new InvalidRequest("client_id in the body differs from the one in the Authorization header");
    return clientId;
  },
  verify: (client, request) => checkSecret(client, parseBasicCredentials(request.authorization!).clientSecret),
};

const clientSecretPost: ClientAuthStrategy = {
  presentedIn: (request) => request.form.has("client_secret"),
  claimedClientId: (request) => request.form.get("client_id"),
  verify: (client, request) => checkSecret(client, request.form.get("client_secret")!),
};

/** Public clients (RFC 6749 §2.1) prove nothing; they only say who they are. */
const none: ClientAuthStrategy = {
  presentedIn: (request) => !hasBasicScheme(request.authorization) && !request.form.has("client_secret") && !presentsAssertion(request) && request.form.has("client_id"),
  claimedClientId: (request) => request.form.get("client_id"),
  verify: () => undefined,
};

export const CLIENT_AUTH_STRATEGIES: ReadonlyMap<ClientAuthMethod, ClientAuthStrategy> = new Map<ClientAuthMethod, ClientAuthStrategy>([
  ["client_secret_basic", clientSecretBasic],
  ["client_secret_post", clientSecretPost],
  ["none", none],
]);

/** Client assertions (RFC 7523 §2.2) are recognised so they count as a method even before private_key_jwt is supported. */
function presentsAssertion(request: ClientAuthRequest): boolean {
  return request.form.has("client_assertion") || request.form.has("client_assertion_type");
}

/**
 * Authenticates the client of a token request. Exactly one method per
 * request (RFC 6749 §2.3: "MUST NOT use more than one authentication
 * method in each request"), and it must be the one the client registered.
 */
export async function authenticateClient(services: ClientAuthServices, req: Pick<Request, "headers">, form: FormParameters): Promise<AuthenticatedClient> {
  const request: ClientAuthRequest = { authorization: req.headers.authorization, form };
  const presented = [...CLIENT_AUTH_STRATEGIES].filter(([, strategy]) => strategy.presentedIn(request));
  const assertion = presentsAssertion(request) && !CLIENT_AUTH_STRATEGIES.has("private_key_jwt");
  if (presented.length + (assertion ? 1 : 0) > 1) throw new InvalidRequest("the request uses more than one client authentication method");
  if (assertion) throw new InvalidClient("client authentication failed: client assertions are not supported");
  const [entry] = presented;
  if (!entry) throw new InvalidClient("client authentication failed: no client credentials");
  const [method, strategy] = entry;
  const clientId = strategy.claimedClientId(request);
  if (!clientId) throw new InvalidClient("client authentication failed: no client_id");
  const client = await services.clients.find(clientId);
  if (!client) throw new InvalidClient("client authentication failed: unknown client");
  // Checked before the credentials: a public client must not be let in by
  // sending a secret, nor a confidential one by sending none.
  if (client.tokenEndpointAuthMethod !== method) throw new InvalidClient(`client authentication failed: the client is registered for ${client.tokenEndpointAuthMethod}, not ${method}`);
  await strategy.verify(client, request, services);
  return { client, method };
}
