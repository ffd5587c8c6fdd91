/**
 * Response modes: how an authorization response (or error) travels back to
 * the app's redirect URI (OAuth 2.0 Multiple Response Type Encoding
 * Practices §2; OAuth 2.0 Form Post Response Mode).
 *
 * - `query`: parameters in the query string. Only for `response_type=code`:
 *   a token in a query string lands in server logs, browser history and
 *   `Referer` headers (Encoding Practices §2.1, RFC 9700 §4.3.2).
 * - `fragment`: parameters in the fragment, which the browser never sends to
 *   a server; the default for every response type that issues a token.
 * - `form_post`: an auto-submitting HTML form POSTs the parameters to the
 *   redirect URI, so they are in neither the URL nor the history.
 *
 * Every response carries `state` and `iss` (RFC 9207) and is sent with
 * `Cache-Control: no-store` and `Referrer-Policy: same-origin`.
 */
import type { Request, Response } from "express";
import { html, sendPage, setPageSecurityHeaders } from "../http/html.js";

export const RESPONSE_MODES = ["query", "fragment", "form_post"] as const;
export type ResponseMode = (typeof RESPONSE_MODES)[number];

/** Where an authorization response or error is sent. */
export interface RedirectTarget {
  redirectUri: string;
  state: string | undefined;
  responseMode: ResponseMode;
}

/**
 * The redirect URI with the response parameters, `state` and `iss` (RFC
 * 9207) in its query or fragment. `form_post` is not a URL: use
 * `sendAuthorizationResponse`.
 */
export function redirectWithParameters(
  target: RedirectTarget & { responseMode: "query" | "fragment" },
  issuer: string,
  parameters: Record<string, string | undefined>,
): string {
  const url = new URL(target.redirectUri);
  const all: Record<string, string | undefined> = { ...parameters, state: target.state, iss: issuer };
  if (target.responseMode === "fragment") {
    const fragment = new URLSearchParams();
    for (const [k, v] of Object.entries(all)) if (v !== undefined) fragment.append(k, v);
    url.hash = fragment.toString();
  } else {
    for (const [k, v] of Object.entries(all)) if (v !== undefined) url.searchParams.append(k, v);
  }
  return url.toString();
}

export function isResponseMode(value: string | undefined): value is ResponseMode {
  return (RESPONSE_MODES as readonly string[]).includes(value ?? "");
}

/** Whether a (normalised) response type returns a token or ID token through the browser. */
export function issuesFrontChannelTokens(responseType: string): boolean {
  return responseType.split(" ").some((t) => t === "token" || t === "id_token");
}

/** Encoding Practices §2.1: `query` for `code`, `fragment` for anything that returns a token. */
export function defaultResponseMode(responseType: string): "query" | "fragment" {
  return issuesFrontChannelTokens(responseType) ? "fragment" : "query";
}

/** Encoding Practices §2.1: a token must never be sent in a query string. */
export function responseModeAllowed(mode: ResponseMode, responseType: string): boolean {
  return mode !== "query" || !issuesFrontChannelTokens(responseType);
}

/**
 * The mode an error of an authorization request goes back with, chosen
 * before the request is validated: the requested mode when it is a known
 * one the response type may use, else the response type's default. A
 * request that asked for `form_post` gets its error by `form_post`.
 */
export function errorResponseMode(rawResponseType: string | undefined, rawResponseMode: string | undefined): ResponseMode {
  const responseType = (rawResponseType ?? "").split(" ").filter(Boolean).sort().join(" ");
  if (isResponseMode(rawResponseMode) && responseModeAllowed(rawResponseMode, responseType)) return rawResponseMode;
  return defaultResponseMode(responseType);
}

/** The CSP `form-action` source a form_post page needs for the redirect URI: its origin, or its scheme for a native app's custom scheme. */
function formActionSource(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === "http:" || url.protocol === "https:" ? url.origin : url.protocol;
}

/** The form_post page submits its one form on load; the script is a constant, allowed by its hash. */
const AUTO_SUBMIT_SCRIPT = "document.forms[0].submit();";

function sendFormPost(res: Response, redirectUri: string, parameters: [string, string][]): void {
  sendPage(res, {
    title: "Returning to the app",
    formActions: [formActionSource(redirectUri)],
    inlineScript: AUTO_SUBMIT_SCRIPT,
    body: html`<h1>Returning to the app…</h1>
      <form method="post" action="${redirectUri}">
        ${parameters.map(([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`)}
        <p class="muted">If nothing happens, press Continue.</p>
        <button type="submit">Continue</button>
      </form>`,
  });
}

/**
 * Sends an authorization response or error to the app in the target's mode.
 * Redirects are 303 after a POST (the browser must not re-post the request)
 * and 302 otherwise.
 */
export function sendAuthorizationResponse(
  req: Pick<Request, "method">,
  res: Response,
  issuer: string,
  target: RedirectTarget,
  parameters: Record<string, string | undefined>,
): void {
  if (target.responseMode === "form_post") {
    const all: Record<string, string | undefined> = { ...parameters, state: target.state, iss: issuer };
    sendFormPost(
      res,
      target.redirectUri,
      Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined),
    );
    return;
  }
  setPageSecurityHeaders(res);
  res.redirect(req.method === "POST" ? 303 : 302, redirectWithParameters({ ...target, responseMode: target.responseMode }, issuer, parameters));
}
