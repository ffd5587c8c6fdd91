/**
 * Connect on demand: `GET /connect/on-demand/<ticket>` and its POST, the
 * page an elicitation's URL opens (oauth/connect-tickets.ts). An agent's
 * token exchange found no usable account of its user at a connector, or the
 * proxy found one that needs re-authorization; the broker made a ticket and
 * the agent showed the end user this link.
 *
 * The GET shows what the ticket asks — which app, which client on its
 * behalf, which service — and a Connect button; it changes nothing (a link
 * preview or a prefetch must not use the ticket). The POST (same origin,
 * the CSRF token of connect/csrf.ts keyed by this browser's cookie) takes
 * the ticket once and starts the connector's ordinary connect flow, as an
 * interaction like an authorization request's (connect/start.ts onwards:
 * hostname page, upstream sign-in, credential page) whose end is the
 * broker's "account connected — return to your agent" page instead of a
 * redirect to the app (oauth/authorization-response.ts), with the account
 * stored for the ticket's user.
 *
 * Both go on only in the browser of the ticket's user: the one whose user
 * cookie (oauth/user-cookie.ts) for the ticket's app names the ticket's
 * user, left there when that user connected an account. The link alone
 * is not enough — one sent to somebody else (phishing) must not connect
 * their account for the sender's user. Another browser gets a 403 page and
 * the ticket stays unused.
 */
import { signInFormActions } from "./sign-in-form-actions.js";
import { startBrokerEndedConnect } from "./broker-ended-connect.js";
import type { Request, Response } from "express";
import { appDisplayName } from "../apps/clients.js";
import { generateSecret } from "../crypto/secrets.js";
import { html, RawHtml, sendErrorPage, sendPage } from "../http/html.js";
import type { ExpressExchange } from "../http/route.js";
import { readConnectTicket, takeConnectTicket, type ConnectTicket } from "../oauth/connect-tickets.js";
import { browserUserOf } from "../oauth/user-cookie.js";
import { addSetCookie, readCookie } from "../http/cookies.js";
import { ON_DEMAND_CONNECT_PATH } from "../paths.js";
import type { Services } from "../services.js";
import { csrfTokenFor, csrfTokenMatches } from "./csrf.js";

/** The browser's cookie keying the page's CSRF token: sent to these pages only. */
const BINDING_COOKIE = "ab_on_demand";
const BINDING_MAX_AGE_SECONDS = 900;

/** The connect forms' buttons (form-page.ts): Connect, and Cancel beside it. */
const PAGE_STYLE = `.actions{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap}
button.secondary{background:transparent;color:var(--accent);border:1px solid var(--line)}button:focus{outline:2px solid var(--accent);outline-offset:2px}`;

const EXPIRED = "This link has expired or was already used. Return to your agent and ask it to try again; it will give you a new link.";

function ticketIdOf(req: Request): string {
  return (req.params as { ticket?: string }).ticket ?? "";
}

/** This browser's binding value, made (and set) on the first page it sees. */
function bindingFor(services: Services, req: Request, res: Response): string {
  const existing = readCookie(req, BINDING_COOKIE);
  if (existing !== undefined && existing.length >= 43) return existing;
  const binding = generateSecret();
  const attributes = [`${BINDING_COOKIE}=${binding}`, `Path=${ON_DEMAND_CONNECT_PATH}`, "HttpOnly", "SameSite=Lax", `Max-Age=${BINDING_MAX_AGE_SECONDS}`];
  if (services.config.issuer.startsWith("https:")) attributes.push("Secure");
  addSetCookie(res, attributes.join("; "));
  return binding;
}

/**
 * Whether this browser is the ticket's user's (user-cookie.ts); if not,
 * sends the 403 page and says so. Nothing of the ticket is used.
 */
function refusedForAnotherBrowser(services: Services, req: Request, res: Response, ticket: ConnectTicket, agentName: string): boolean {
  if (browserUserOf(services.keyring, req, ticket.appId) === ticket.userId) return false;
  req.log.warn({ clientId: ticket.appId, connectorId: ticket.connectorId }, "on-demand connect refused: this browser is not the ticket's user's");
  sendErrorPage(
    res,
    403,
    "access_denied",
    `This link was made for another sign-in. Open it in the browser where you signed in to ${agentName}, or sign in again through your agent and ask it to retry.`,
  );
  return true;
}

interface TicketView {
  appName: string;
  requesterName: string | undefined;
  connectorName: string;
}

/** What the page names; undefined when the app or the service is gone (the ticket cannot be used). */
async function viewOf(services: Services, ticket: ConnectTicket): Promise<TicketView | undefined> {
  const app = await services.clients.find(ticket.appId);
  const connector = services.connectors.get(ticket.connectorId);
  if (!app || !connector) return undefined;
  const requester = ticket.requestedBy === ticket.appId ? undefined : await services.clients.find(ticket.requestedBy);
  return { appName: appDisplayName(app), requesterName: requester ? appDisplayName(requester) : undefined, connectorName: connector.name };
}

/** `GET /connect/on-demand/<ticket>`: the confirmation page. */
export function onDemandPage(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return async ({ req, res }) => {
    const id = ticketIdOf(req);
    const ticket = await readConnectTicket(services.redis, id);
    const view = ticket && (await viewOf(services, ticket));
    if (!view) return sendErrorPage(res, 400, "invalid_request", EXPIRED);
    if (refusedForAnotherBrowser(services, req, res, ticket, view.appName)) return;
    const binding = bindingFor(services, req, res);
    sendPage(res, {
      title: `Connect ${view.connectorName}`,
      // The POST redirects on to the connector's sign-in page.
      formActions: signInFormActions(services, [{ id: ticket.connectorId }]),
      body: html`<h1>Connect your ${view.connectorName} account</h1>
        <p>
          <strong>${view.appName}</strong> needs your ${view.connectorName} account to
          continue${view.requesterName ? html`, for <strong>${view.requesterName}</strong> acting on its behalf` : ""}.
        </p>
        <p>You will sign in at ${view.connectorName}; the broker keeps the account's credentials and ${view.appName} uses it through the broker.</p>
        <style>
          ${new RawHtml(PAGE_STYLE)}
        </style>
        <form method="post" action="${ON_DEMAND_CONNECT_PATH}/${id}">
          <input type="hidden" name="csrf" value="${csrfTokenFor(binding, id)}" />
          <div class="actions"><button type="submit">Connect</button><button type="submit" class="secondary" name="action" value="cancel">Cancel</button></div>
        </form>
        <p class="muted">If you did not ask your agent for this, cancel.</p>`,
    });
  };
}

/** `POST /connect/on-demand/<ticket>`: takes the ticket and starts the connector's connect flow. */
export function confirmOnDemand(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return async ({ req, res }) => {
    const id = ticketIdOf(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    // A browser names the page a form came from; another site's page is refused before anything is read.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== new URL(services.config.issuer).origin)
      return sendErrorPage(res, 403, "access_denied", "This form was sent from another site. Open the link your agent gave you again.");
    const binding = readCookie(req, BINDING_COOKIE);
    if (binding === undefined || !csrfTokenMatches(binding, id, body.csrf)) {
      req.log.warn("on-demand connect refused: CSRF token missing or wrong");
      return sendErrorPage(res, 403, "access_denied", "This form has expired or did not come from this page. Open the link your agent gave you again.");
    }
    // Read first: another browser's confirmation (or cancel) must leave the ticket unused.
    const unused = await readConnectTicket(services.redis, id);
    const view = unused && (await viewOf(services, unused));
    if (!view) return sendErrorPage(res, 400, "invalid_request", EXPIRED);
    if (refusedForAnotherBrowser(services, req, res, unused, view.appName)) return;
    // Single use: of two confirmations, one goes on and the other finds nothing.
    const ticket = await takeConnectTicket(services.redis, id);
    const connector = ticket && services.connectors.get(ticket.connectorId);
    if (!ticket || !connector) return sendErrorPage(res, 400, "invalid_request", EXPIRED);
    if (body.action === "cancel") {
      req.log.info({ clientId: ticket.appId, connectorId: ticket.connectorId }, "on-demand connect cancelled by the end user");
      return sendPage(res, {
        title: "Nothing connected",
        body: html`<h1>Nothing was connected</h1>
          <p>Return to your agent.</p>
          <p class="muted">You can close this window.</p>`,
      });
    }
    const started = await startBrokerEndedConnect(services, req, res, {
      clientId: ticket.appId,
      pagePath: ON_DEMAND_CONNECT_PATH,
      marker: { onDemand: { userId: ticket.userId, requestedBy: ticket.requestedBy } },
      requestedScopes: [],
      hostnameHint: ticket.hostname,
      connector,
      flow: "on-demand connect",
      failureDescription: "The connection could not be started. Return to your agent and try again.",
    });
    if (started) req.log.info({ clientId: ticket.appId, connectorId: ticket.connectorId, requestedBy: ticket.requestedBy }, "on-demand connect started");
  };
}
