/**
 * `GET|POST /connect/credentials`: the page where the end user types what a
 * connector asks for — the fields of a basic or api_key connector, a user
 * name and password for a password grant, the subject of a jwt_bearer
 * connector. Secret fields are password inputs and are never shown again;
 * the submission is checked by the kind (steps.ts) before anything is kept.
 */
import { appDisplayName } from "../apps/clients.js";
import { CONNECT_START_PATH, CREDENTIALS_PAGE } from "../paths.js";
import type { Request, Response } from "express";
import type { ExpressExchange } from "../http/route.js";
import { isPasswordExchanger, isServiceTokenFetcher, isStaticCredentialChecker } from "../connectors/kinds/types.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { html, sendErrorPage, type RawHtml } from "../http/html.js";
import type { Services } from "../services.js";
import { attemptForRequest, formActionSource, sendFormPage, submittedValues } from "./form-page.js";
import { isReady, type ConnectAttempt } from "./attempt.js";
import { handleSubmission } from "./submission.js";
import { connectFormFor, pageForStep, pageUrl, storeAccountOf, submitForm } from "./steps.js";

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

function intro(appName: string, connector: ConnectorConfig, attempt: ConnectAttempt): RawHtml {
  const where = attempt.progress.hostname ? html` on <strong>${attempt.progress.hostname}</strong>` : "";
  return html`<p><strong>${appName}</strong> asks you to connect your ${connector.name} account${where}.</p>`;
}

async function showPage(services: Services, req: Request, res: Response): Promise<void> {
  const found = await attemptForRequest(services, req, res);
  if (!found) return;
  const { attempt, binding } = found;
  if (!isReady(attempt) || attempt.progress.step !== "credentials") {
    res.redirect(303, attempt.progress.step ? pageUrl(pageForStep(attempt.progress.step), attempt.id) : pageUrl(CONNECT_START_PATH, attempt.id));
    return;
  }
  const connector = services.connectors.get(attempt.authorization.connectorId);
  const form = connector && connectFormFor(services.kinds.for(connector), connector);
  if (!connector || !form) {
    sendErrorPage(res, 400, "invalid_request", "This service is no longer available. Start again from the app.");
    return;
  }
  const app = await services.clients.find(attempt.authorization.clientId);
  const appName = app ? appDisplayName(app) : "The app";
  sendFormPage(res, {
    title: `Connect ${connector.name}`,
    intro: intro(appName, connector, attempt),
    action: CREDENTIALS_PAGE,
    attempt,
    binding,
    fields: form.fields.map((field) => ({ field, value: field.secret ? undefined : attempt.progress.values?.[field.name] })),
    submitLabel: "Connect",
    footnote: footnote(services, connector),
    formActions: [formActionSource(attempt.authorization.redirectUri)],
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
      async run(attempt, connector) {
        const form = connectFormFor(services.kinds.for(connector), connector)!;
        const values = submittedValues(
          req,
          form.fields.map((f) => f.name),
        );
        const grant = await submitForm(services, connector, attempt, values);
        return { kind: "connected", accountId: await storeAccountOf(services, req, connector, attempt, grant) };
      },
    });
}
