/**
 * What the connect pages (hostname, credentials) share: finding the
 * connect attempt a request belongs to — its browser cookie, and for a
 * POST the same-origin and CSRF checks — and rendering an accessible form
 * (every input labelled, help and errors tied to it with
 * `aria-describedby`, a summary announced with `role="alert"`), usable
 * without JavaScript. Every submission answers 303, so reloading the page
 * never submits again.
 */
import type { Request, Response } from "express";
import type { PromptField } from "../connectors/kinds/types.js";
import { html, RawHtml, sendErrorPage, sendPage } from "../http/html.js";
import { interactionsOf, isInteractionId, refuseInteraction } from "../oauth/interactions.js";
import type { Services } from "../services.js";
import { csrfTokenFor, csrfTokenMatches } from "./csrf.js";
import type { ConnectInteraction, ConnectProgress } from "./attempt.js";

const EXTRA_STYLE = `
.hint{color:var(--muted);font-size:.9rem;margin:0 0 .25rem}.field-error{color:var(--err);font-weight:600;margin:0 0 .25rem}
.invalid input{border-color:var(--err);border-width:2px}.summary{border:2px solid var(--err);border-radius:8px;padding:.5rem 1rem;margin:1rem 0}
.summary a{color:var(--err)}.actions{display:flex;gap:.75rem;align-items:center;flex-wrap:wrap}
button.secondary{background:transparent;color:var(--accent);border:1px solid var(--line)}input:focus,button:focus{outline:2px solid var(--accent);outline-offset:2px}
.visually-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
`;

export interface AttemptForRequest {
  attempt: ConnectInteraction;
  /** The browser's binding cookie value (it keys the CSRF token). */
  binding: string;
}

function attemptIdOf(req: Request): unknown {
  return req.method === "POST" ? (req.body as Record<string, unknown> | undefined)?.connect : req.query.connect;
}

/**
 * The connect attempt of a page request, or undefined after sending an
 * error page: expired or unknown, started in another browser, or — for a
 * POST — sent from another origin or without this browser's CSRF token.
 * `take`: take it (single use: a submission), instead of reading it.
 */
export async function attemptForRequest(
  services: Services,
  req: Request,
  res: Response,
  options: { take?: boolean } = {},
): Promise<AttemptForRequest | undefined> {
  const id = attemptIdOf(req);
  if (!isInteractionId(id)) {
    sendErrorPage(res, 400, "invalid_request", "This page is missing its connection. Start again from the app.");
    return undefined;
  }
  if (req.method === "POST") {
    // A browser names the page a form came from; another site's page is refused before anything is read.
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== new URL(services.config.issuer).origin) {
      sendErrorPage(res, 403, "access_denied", "This form was sent from another site. Start again from the app.");
      return undefined;
    }
  }
  const interactions = interactionsOf(services);
  // The checks come before the attempt is taken: a refused request must not use it up.
  const read = await interactions.read<ConnectProgress>(req, id);
  if (!read) {
    sendErrorPage(res, 400, "invalid_request", "This connection has expired or was already used. Start again from the app.");
    return undefined;
  }
  if (read.binding === undefined) {
    sendErrorPage(res, 403, "access_denied", "This connection was started in another browser, or its cookie was lost. Start again from the app.");
    return undefined;
  }
  if (req.method === "POST" && !csrfTokenMatches(read.binding, id, (req.body as Record<string, unknown>).csrf)) {
    req.log.warn({ connectorId: read.interaction.authorization.connectorId }, "connect form refused: CSRF token missing or wrong");
    sendErrorPage(res, 403, "access_denied", "This form has expired or did not come from this page. Go back, reload the page and try again.");
    return undefined;
  }
  // Single use: of two submissions racing, one goes on and the other finds the attempt gone.
  if (options.take && !(await interactions.take(req, id))) {
    sendErrorPage(res, 400, "invalid_request", "This connection has expired or was already used. Start again from the app.");
    return undefined;
  }
  return { attempt: read.interaction, binding: read.binding };
}

/** The values of a form's fields from a POST body (a repeated or missing field reads as empty). */
export function submittedValues(req: Request, names: string[]): Record<string, string> {
  const body = (req.body ?? {}) as Record<string, unknown>;
  return Object.fromEntries(names.map((name) => [name, typeof body[name] === "string" ? (body[name] as string) : ""]));
}

/** Whether the end user pressed Cancel. */
export function cancelled(req: Request): boolean {
  return (req.body as Record<string, unknown> | undefined)?.action === "cancel";
}

/** The end user gave up: the app hears `access_denied` (RFC 6749 §4.1.2.1), the attempt is gone (the caller took it). */
export async function cancelConnect(services: Services, req: Request, res: Response, attempt: ConnectInteraction): Promise<void> {
  req.log.info({ clientId: attempt.authorization.clientId, connectorId: attempt.authorization.connectorId }, "connect cancelled by the end user");
  await refuseInteraction(services, req, res, attempt, { code: "access_denied", description: "the end user cancelled the connection" });
}

export interface FieldView {
  field: PromptField;
  /** The value to show again (never for a secret field). */
  value?: string;
  error?: string;
}

function inputId(field: PromptField): string {
  return `f-${field.name}`;
}

function attribute(name: string, on: boolean): RawHtml {
  return new RawHtml(on ? ` ${name}` : "");
}

function renderField({ field, value, error }: FieldView, focus: boolean): RawHtml {
  const id = inputId(field);
  const hintId = field.description ? `${id}-hint` : undefined;
  const errorId = error ? `${id}-error` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ");
  return html`<div class="field${error ? " invalid" : ""}">
    <label for="${id}">${field.label}${field.required ? "" : html` <span class="muted">(optional)</span>`}</label>
    ${field.description ? html`<p class="hint" id="${hintId}">${field.description}</p>` : ""}
    ${error ? html`<p class="field-error" id="${errorId}"><span class="visually-hidden">Error: </span>${error}</p>` : ""}
    <input
      id="${id}"
      name="${field.name}"
      type="${field.secret ? "password" : "text"}"
      autocomplete="${field.autocomplete}"
      spellcheck="false"
      autocapitalize="none"
      ${attribute("required", field.required)}${attribute("autofocus", focus)}${
        describedBy ? html` aria-describedby="${describedBy}"` : ""
      }${error ? html` aria-invalid="true"` : ""}${!field.secret && value ? html` value="${value}"` : ""}
    />
  </div>`;
}

export interface FormPageOptions {
  title: string;
  intro: RawHtml;
  action: string;
  attempt: ConnectInteraction;
  binding: string;
  fields: FieldView[];
  submitLabel: string;
  /** A line under the form (what happens to what is typed). */
  footnote?: RawHtml;
  /** Origins the POST may redirect to (CSP form-action also governs redirects after a submission). */
  formActions: string[];
}

/** Renders a connect form page: the problem summary, the fields, Connect and Cancel. */
export function sendFormPage(res: Response, options: FormPageOptions): void {
  const { attempt } = options;
  const problem = attempt.progress.problem;
  const fieldWithError = problem?.field !== undefined ? options.fields.find((v) => v.field.name === problem.field) : undefined;
  const views = options.fields.map((view) => (view === fieldWithError ? { ...view, error: problem!.message } : view));
  const focusIndex = fieldWithError ? views.indexOf(views.find((v) => v.field.name === problem!.field)!) : 0;
  sendPage(res, {
    title: options.title,
    status: 200,
    formActions: options.formActions,
    body: html`<style>
        ${new RawHtml(EXTRA_STYLE)}
      </style>
      <h1>${options.title}</h1>
      ${options.intro}
      ${
        problem
          ? html`<div class="summary" role="alert" aria-labelledby="summary-title">
              <p id="summary-title" class="field-error">There is a problem</p>
              <p>${fieldWithError ? html`<a href="#${inputId(fieldWithError.field)}">${problem.message}</a>` : problem.message}</p>
            </div>`
          : ""
      }
      <form method="post" action="${options.action}" novalidate>
        <input type="hidden" name="connect" value="${attempt.id}" />
        <input type="hidden" name="csrf" value="${csrfTokenFor(options.binding, attempt.id)}" />
        ${views.map((view, index) => renderField(view, index === focusIndex))}
        <div class="actions">
          <button type="submit">${options.submitLabel}</button
          ><button type="submit" class="secondary" name="action" value="cancel" formnovalidate>Cancel</button>
        </div>
      </form>
      ${options.footnote ?? ""}`,
  });
}

/** The CSP form-action source of a URL: its origin, or its scheme for an app's custom scheme. */
export function formActionSource(url: string): string {
  const parsed = new URL(url);
  return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.origin : parsed.protocol;
}
