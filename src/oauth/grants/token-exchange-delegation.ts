/**
 * Token exchange with `resource` (RFC 8693 with RFC 8707): delegation. A
 * client that received a broker access token for one of its end user's
 * accounts — an app's own token, or one an agent sent to the MCP server the
 * token is for — exchanges it for a token of the broker's proxy, for the
 * same account or for the same user's account at another connector
 * (`audience`), acting for the user and saying so in `act` (RFC 8693 §4.1).
 * When the user has no usable account there, the answer is
 * `connection_required` with an MCP URL-mode elicitation: a broker page
 * where the end user connects one (connect/on-demand.ts).
 *
 * Steps, each a named function below:
 * 1. `checkRequest`   resource is the proxy's (invalid_target), token types;
 * 2. `subjectOf`      the subject token: a valid broker access token of any
 *                     audience, bound to an account (invalid_request,
 *                     RFC 8693 §2.2.2 — also for one the client may not exchange);
 * 3. `mayExchange`    the client is the subject's app, or the app that runs
 *                     the resource the subject token is for;
 * 4. `actorChain`     the `act` claim: the actor token's or the client's
 *                     identity, the subject's own chain nested, depth ≤ 5;
 * 5. `grantedScope`   only `proxy`;
 * 6. `targetAccount`  the subject's account, or the user's at `audience`;
 * 7. the token: aud = the proxy, client_id = the subject's app (the proxy
 *    checks the account is that app's), the subject's grant (revoking it
 *    revokes this token), no later expiry than the subject token. Audited.
 */
import { recordAudit, type AuditValue } from "../../audit.js";
import { accountOfUser, userOf } from "../../accounts/users.js";
import type { Client } from "../../apps/clients.js";
import { isInvalidToken, ConnectionRequired, InvalidRequest, InvalidScope, InvalidTarget } from "../../errors.js";
import { connectElicitation } from "../connect-tickets.js";
import { lookupResource, proxyResourceUri } from "../resources.js";
import { clientMayUseConnector, hasScope } from "../scopes.js";
import { issueAccessToken, verifyAccessToken, type AccessTokenClaims, type ActorClaim } from "../tokens.js";
import { requiredParameter, type GrantContext, type TokenResponse } from "./grant.js";

/** RFC 8693 §3: the token type URI of an access token (the only type the broker takes and issues). */
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
/** The one scope the proxy resource knows. */
export const DELEGATED_SCOPE = "proxy";
/** The longest `act` chain a delegated token may carry: deeper ones are refused, not cut (the audit must show every hop). */
export const MAX_ACTOR_CHAIN_DEPTH = 5;

type Subject = AccessTokenClaims & { acct: string };

function checkRequest(context: GrantContext): void {
  const { params, services } = context;
  // RFC 8707 §2: the proxy is the one resource this grant issues for (a registered resource server is reached with the
  // authorization code's `resource`, not by exchanging a token for it).
  if (params.get("resource") !== proxyResourceUri(services.config.issuer))
    throw new InvalidTarget(
      `resource must be ${proxyResourceUri(services.config.issuer)}: the broker's proxy is the only resource a token can be exchanged for`,
    );
  if (requiredParameter(params, "subject_token_type") !== ACCESS_TOKEN_TYPE)
    throw new InvalidRequest(`subject_token_type must be ${ACCESS_TOKEN_TYPE} (a broker access token)`);
  const requested = params.get("requested_token_type");
  if (requested !== undefined && requested !== ACCESS_TOKEN_TYPE) throw new InvalidRequest(`requested_token_type must be ${ACCESS_TOKEN_TYPE}`);
  if (params.has("actor_token") !== params.has("actor_token_type")) throw new InvalidRequest("actor_token and actor_token_type go together");
  if (params.has("actor_token") && params.get("actor_token_type") !== ACCESS_TOKEN_TYPE)
    throw new InvalidRequest(`actor_token_type must be ${ACCESS_TOKEN_TYPE} (a broker access token)`);
}

/** A broker access token given as a parameter; RFC 8693 §2.2.2: an unacceptable one is `invalid_request`. */
async function verifiedToken(context: GrantContext, name: "subject_token" | "actor_token"): Promise<AccessTokenClaims> {
  try {
    return await verifyAccessToken(context.services, requiredParameter(context.params, name), "any");
  } catch (err) {
    if (isInvalidToken(err)) throw new InvalidRequest(`${name} is not a valid broker access token: ${err.description}`);
    throw err;
  }
}

async function subjectOf(context: GrantContext): Promise<Subject> {
  const claims = await verifiedToken(context, "subject_token");
  if (!claims.acct) throw new InvalidRequest("subject_token is not bound to an account");
  return claims as Subject;
}

/**
 * Whether the client may exchange the subject token: its own app's (the app
 * acting for its user), or the app that runs the resource the token was
 * issued for (the end user consented to that resource when the agent's
 * token was issued for it: the resource acting for the user with it is what
 * the consent was for). Anyone else holding the token — a leaked token, a
 * token forwarded to a third server — is refused.
 */
async function mayExchange(context: GrantContext, subject: Subject): Promise<{ asResource: boolean }> {
  if (subject.client_id === context.client.id) return { asResource: false };
  // The resource lookup every token endpoint uses (cached 5 s): an MCP server exchanges on each tool call.
  const resource = subject.aud === context.services.config.issuer ? undefined : await lookupResource(context.services, subject.aud);
  if (resource?.appId === context.client.id) return { asResource: true };
  throw new InvalidRequest("the client may not exchange subject_token: it was issued to another app, for a resource the client does not run");
}

function depthOf(actor: ActorClaim | undefined): number {
  let depth = 0;
  for (let a = actor; a !== undefined; a = a.act) depth += 1;
  return depth;
}

/** RFC 8693 §4.1: the current actor outermost, the subject's own chain nested inside. */
async function actorChain(context: GrantContext, subject: Subject): Promise<ActorClaim | undefined> {
  const { client } = context;
  let actor: ActorClaim | undefined;
  if (context.params.has("actor_token")) {
    const claims = await verifiedToken(context, "actor_token");
    // A client proves its own identity with an actor token, never another's.
    if (claims.client_id !== client.id) throw new InvalidRequest("actor_token was issued to another client");
    actor = { sub: claims.sub, client_id: claims.client_id };
  } else if (client.id !== subject.client_id) {
    actor = { sub: client.id, client_id: client.id };
  }
  const chain = actor === undefined ? subject.act : { ...actor, ...(subject.act ? { act: subject.act } : {}) };
  if (depthOf(chain) > MAX_ACTOR_CHAIN_DEPTH) throw new InvalidRequest(`the delegation chain would be longer than ${MAX_ACTOR_CHAIN_DEPTH} actors`);
  return chain;
}

/**
 * Only `proxy`: the one scope of the proxy resource. The subject must carry
 * it — except for the resource's own app, to whose resource the end user
 * granted the subject token: calling the user's accounts through the proxy
 * on the user's behalf is what that resource was consented to do, and the
 * token it gets is bound to the user's accounts under the same app, revoked
 * with the subject's grant and no longer-lived.
 */
function grantedScope(context: GrantContext, subject: Subject, asResource: boolean): string {
  const requested = context.params.get("scope") ?? DELEGATED_SCOPE;
  if (requested.split(" ").some((s) => s !== "" && s !== DELEGATED_SCOPE))
    throw new InvalidScope(`a token for the proxy carries scope "${DELEGATED_SCOPE}" only`);
  if (!asResource && !hasScope(subject.scope, DELEGATED_SCOPE)) throw new InvalidScope(`subject_token lacks scope "${DELEGATED_SCOPE}"`);
  return DELEGATED_SCOPE;
}

interface TargetAccount {
  id: string;
  userId: string;
  connectorId: string;
}

/**
 * The account the new token acts for: the subject's, or (with `audience`,
 * a connector id) the same user's active account at that connector under
 * the subject's app. None, or one that needs re-authorization: the end
 * user must connect it — `connection_required` with the elicitation.
 */
async function targetAccount(context: GrantContext, subject: Subject, subjectApp: Client): Promise<TargetAccount> {
  const { services, client } = context;
  const own = await services.db.account.findUnique({
    where: { id: subject.acct },
    select: { id: true, userId: true, appId: true, connectorId: true, hostname: true, status: true },
  });
  if (!own || own.appId !== subjectApp.id) throw new InvalidRequest("the account of subject_token no longer exists");
  const userId = userOf(own);
  const audience = context.params.get("audience");
  const connectorId = audience ?? own.connectorId;
  const connector = services.connectors.get(connectorId);
  if (!connector || !clientMayUseConnector(subjectApp, connectorId)) throw new InvalidTarget(`audience "${connectorId}" is not a connector the app may use`);
  const account = audience === undefined ? own : await accountOfUser(services.db, { appId: subjectApp.id, userId, connectorId });
  if (account?.status === "active") return { id: account.id, userId, connectorId };
  const elicitation = await connectElicitation(
    services,
    { appId: subjectApp.id, userId, connectorId, requestedBy: client.id, ...(account?.hostname ? { hostname: account.hostname } : {}) },
    account ? `Reconnect your ${connector.name} account to continue.` : `Connect your ${connector.name} account to continue.`,
  );
  const reason = account ? `the user's ${connector.name} account must be connected again` : `the user has no ${connector.name} account connected`;
  throw new ConnectionRequired(`${reason}: the end user can connect it at the elicitation's URL`, { body: { elicitations: [elicitation] } });
}

/** The act chain as the audit keeps it. */
function auditedChain(actor: ActorClaim | undefined): AuditValue {
  return actor === undefined ? null : { sub: actor.sub, client_id: actor.client_id ?? null, act: auditedChain(actor.act) };
}

export async function handleDelegation(context: GrantContext): Promise<TokenResponse> {
  const { services, client } = context;
  checkRequest(context);
  const subject = await subjectOf(context);
  const { asResource } = await mayExchange(context, subject);
  const actor = await actorChain(context, subject);
  const scope = grantedScope(context, subject, asResource);
  const subjectApp = subject.client_id === client.id ? client : await services.clients.find(subject.client_id);
  if (!subjectApp) throw new InvalidRequest("subject_token was issued to an app that no longer exists");
  const account = await targetAccount(context, subject, subjectApp);

  const secondsLeft = subject.exp - Math.floor(Date.now() / 1000);
  if (secondsLeft <= 0) throw new InvalidRequest("subject_token has expired");
  const { accessToken, expiresIn } = await issueAccessToken(services, {
    client: subjectApp,
    subject: account.id,
    scope,
    accountId: account.id,
    connectorId: account.connectorId,
    ...(subject.gid !== undefined ? { grantId: subject.gid } : {}),
    audience: proxyResourceUri(services.config.issuer),
    ...(actor !== undefined ? { actor } : {}),
    // Never outlives what it was exchanged for.
    ttl: Math.min(subjectApp.accessTokenTtl, secondsLeft),
  });
  await recordAudit(services.db, {
    action: "token.exchanged",
    actorType: "app",
    actorId: client.id,
    appId: subjectApp.id,
    accountId: account.id,
    connectorId: account.connectorId,
    requestId: context.requestId,
    detail: { user: account.userId, subject_account: subject.acct, subject_aud: subject.aud, act: auditedChain(actor) },
  });
  services.log.info(
    { clientId: client.id, appId: subjectApp.id, accountId: account.id, connectorId: account.connectorId },
    "token exchanged for the proxy (delegation)",
  );
  return { access_token: accessToken, issued_token_type: ACCESS_TOKEN_TYPE, token_type: "Bearer", expires_in: expiresIn, scope };
}
