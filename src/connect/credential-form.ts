/**
 * `GET|POST /connect/credentials`: the page where the end user types what a
 * connector asks for — the fields of a basic or api_key connector, a user
 * name and password for a password grant, the subject of a jwt_bearer
 * connector. Secret fields are password inputs and are never shown again;
 * the submission is checked by the kind (steps.ts) before anything is kept.
 */
import { CREDENTIALS_PAGE } from "../paths.js";
import type { Request, Response } from "express";
import type { ExpressExchange } from "../http/route.js";
import { isPasswordExchanger, isServiceTokenFetcher, isStaticCredentialChecker } from "../connectors/kinds/types.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { html, sendErrorPage, type RawHtml } from "../http/html.js";
import type { Services } from "../services.js";
import { formActionSource, pageForStep, pendingForRequest, sendFormPage, submittedValues } from "./form-page.js";
import type { PendingConnect } from "./pending.js";
import { handleSubmission } from "./submission.js";
import { connectFormFor, pageUrl, storeConnectedAccount, submitForm } from "./steps.js";

/** What the page says happens to what is typed, by capability. */
function footnote(services: Services, connector: ConnectorConfig): RawHtml {
  const kind = services.kinds.for(connector);
  if (isStaticCredentialChecker(kind))
    return html`<p class="muted">The broker checks these with ${connector.name} once and keeps them encrypted; the app never sees them.</p>`;
  if (isPasswordExchanger(kind))
    return html`<p class="muted">Your password is sent to ${connector.name} once, to sign in, and is not kept; the app never sees it.</p>`;
  if (isServiceTokenFetcher(kind))
    return html`<p class="muted">The broker connects to ${connector.name} with its own key on behalf of what you enter here.</p>`;
  return html``;
}

function intro(appName: string, connector: ConnectorConfig, pending: PendingConnect): RawHtml {
  const where = pending.hostname ? html` on <strong>${pending.hostname}</strong>` : "";
  return html`<p><strong>${appName}</strong> asks you to connect your ${connector.name} account${where}.</p>`;
}

async function showPage(services: Services, req: Request, res: Response): Promise<void> {
  const found = await pendingForRequest(services, req, res);
  if (!found) return;
  const { pending, binding } = found;
  if (pending.step !== "credentials") {
    res.redirect(303, pageUrl(pageForStep(pending.step), pending.id));
    return;
  }
  const connector = services.connectors.get(pending.authorization.connectorId);
  const form = connector && connectFormFor(services.kinds.for(connector), connector);
  if (!connector || !form) {
    sendErrorPage(res, 400, "invalid_request", "This service is no longer available. Start again from the app.");
    return;
  }
  const appName = (await services.clients.find(pending.authorization.clientId))?.name ?? "The app";
  sendFormPage(res, {
    title: `Connect ${connector.name}`,
    intro: intro(appName, connector, pending),
    action: CREDENTIALS_PAGE,
    pending,
    binding,
    fields: form.fields.map((field) => ({ field, value: field.secret ? undefined : pending.values?.[field.name] })),
    submitLabel: "Connect",
    footnote: footnote(services, connector),
    formActions: [formActionSource(pending.authorization.redirectUri)],
  });
}

/** `GET /connect/credentials`: the page. */
export function credentialsPage(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return ({ req, res }) => showPage(services, req, res);
}

/** `POST /connect/credentials`: what the end user typed, checked upstream, then the account is connected. */
export function submitCredentials(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return ({ req, res }) =>
    handleSubmission(services, req, res, {
      step: "credentials",
      echoFields: (connector) =>
        connectFormFor(services.kinds.for(connector), connector)
          ?.fields.filter((f) => !f.secret)
          .map((f) => f.name) ?? [],
      async run(pending, connector) {
        const form = connectFormFor(services.kinds.for(connector), connector)!;
        const values = submittedValues(
          req,
          form.fields.map((f) => f.name),
        );
        const grant = await submitForm(services, connector, pending, values);
        return { kind: "connected", accountId: await storeConnectedAccount(services, req, connector, pending, grant) };
      },
    });
}
