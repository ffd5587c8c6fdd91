/**
 * `GET|POST /connect/hostname`: the page that asks for the server of a
 * per-server connector (the end user's GitLab, Jira, ServiceNow…). The
 * typed hostname is checked against the connector's pattern and resolved
 * to public addresses only (hostname.ts) before the connect goes on.
 */
import { appDisplayName } from "../apps/clients.js";
import { CONNECT_START_PATH, HOSTNAME_PAGE } from "../paths.js";
import type { Request, Response } from "express";
import type { ExpressExchange } from "../http/route.js";
import type { PromptField } from "../connectors/kinds/types.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { html, sendErrorPage } from "../http/html.js";
import type { Services } from "../services.js";
import { attemptForRequest, formActionSource, sendFormPage } from "./form-page.js";
import { isReady } from "./attempt.js";
import { checkHostname, HOSTNAME_FIELD } from "./hostname.js";
import { handleSubmission } from "./submission.js";
import { continueConnect, pageForStep, pageUrl } from "./steps.js";

function hostnameField(connector: ConnectorConfig): PromptField {
  const example = connector.hostname?.example;
  return {
    name: HOSTNAME_FIELD,
    label: connector.hostname?.label ?? "Server address",
    description: example ? `For example ${example}` : "The host name of your server, without https:// or a path",
    secret: false,
    required: true,
    autocomplete: "url",
  };
}

/** Where a submission may lead: the connector's server (any https host, the typed one), this broker, or the app. */
function formActions(connector: ConnectorConfig, redirectUri: string): string[] {
  const templates = [connector.auth, connector.api, connector.identity].flatMap((section) =>
    Object.values(section ?? {}).filter((v): v is string => typeof v === "string" && v.includes("{hostname}")),
  );
  const plainHttp = templates.some((t) => t.startsWith("http:"));
  return ["https:", ...(plainHttp ? ["http:"] : []), formActionSource(redirectUri)];
}

async function showPage(services: Services, req: Request, res: Response): Promise<void> {
  const found = await attemptForRequest(services, req, res);
  if (!found) return;
  const { attempt, binding } = found;
  if (!isReady(attempt) || attempt.progress.step !== "hostname") {
    res.redirect(303, attempt.progress.step ? pageUrl(pageForStep(attempt.progress.step), attempt.id) : pageUrl(CONNECT_START_PATH, attempt.id));
    return;
  }
  const connector = services.connectors.get(attempt.authorization.connectorId);
  if (!connector) {
    sendErrorPage(res, 400, "invalid_request", "This service is no longer available. Start again from the app.");
    return;
  }
  const app = await services.clients.find(attempt.authorization.clientId);
  const appName = app ? appDisplayName(app) : "The app";
  sendFormPage(res, {
    title: `Connect ${connector.name}`,
    intro: html`<p><strong>${appName}</strong> asks you to connect your account on your ${connector.name} server. Which server is it?</p>
      ${
        // A server named by the link that started this, not by the end user: they confirm it before anything goes there.
        attempt.progress.values?.[HOSTNAME_FIELD] !== undefined && !attempt.progress.problem
          ? html`<p class="muted">The link you followed suggests the server below. Continue only if it is yours: you will sign in there.</p>`
          : ""
      }`,
    action: HOSTNAME_PAGE,
    attempt,
    binding,
    fields: [{ field: hostnameField(connector), value: attempt.progress.values?.[HOSTNAME_FIELD] }],
    submitLabel: "Continue",
    formActions: formActions(connector, attempt.authorization.redirectUri),
  });
}

/** `GET /connect/hostname`: the page. */
export function hostnamePage(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return ({ req, res }) => showPage(services, req, res);
}

/** `POST /connect/hostname`: the typed server, checked, then the connect goes on. */
export function submitHostname(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return ({ req, res }) =>
    handleSubmission(services, req, res, {
      step: "hostname",
      echoFields: () => [HOSTNAME_FIELD],
      async run(attempt, connector) {
        const typed = (req.body as Record<string, unknown>)[HOSTNAME_FIELD];
        const checked = await checkHostname(services, connector, typeof typed === "string" ? typed : "", attempt.authorization.clientId);
        req.log.info({ connectorId: connector.id, hostname: checked.hostname }, "hostname accepted");
        attempt.progress = { ...attempt.progress, hostname: checked.hostname, pinnedAddress: checked.pinned.address };
        return continueConnect(services, req, connector, attempt, true);
      },
    });
}
