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
 * - `web_message` (OAuth 2.0 Web Message Response Mode, as Auth0 and Apple
 *   use it): the broker's page, open in a popup, hands the parameters to the
 *   window that opened it with `postMessage`, addressed to the origin of the
 *   registered redirect URI the request named (never `*`), so no other
 *   origin can read them. The connect widget (`/connect.js`) listens for it.
 *   Only for http(s) redirect URIs: a custom scheme has no origin to address.
 *
 * Every response carries `state` and `iss` (RFC 9207) and is sent with
 * `Cache-Control: no-store` and `Referrer-Policy: same-origin`.
 */
import type { Request, Response } from "express";
import { html, sendPage, setPageSecurityHeaders } from "../http/html.js";

export const RESPONSE_MODES = ["query", "fragment", "form_post", "web_message"] as const;
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

/** The origin a web_message response is addressed to: the redirect URI's, when it has one (http and https do; a custom scheme does not). */
export function webMessageOrigin(redirectUri: string): string | undefined {
  const url = new URL(redirectUri);
  return url.protocol === "http:" || url.protocol === "https:" ? url.origin : undefined;
}

/** Whether a mode can reach this redirect URI at all: web_message needs an origin to post to. */
export function responseModeReaches(mode: ResponseMode, redirectUri: string): boolean {
  return mode !== "web_message" || webMessageOrigin(redirectUri) !== undefined;
}

/**
 * The mode an error of an authorization request goes back with, chosen
 * before the request is validated: the requested mode when it is a known
 * one the response type may use and that can reach the redirect URI, else
 * the response type's default. A request that asked for `form_post` gets
 * its error by `form_post`, one that asked for `web_message` by message.
 */
export function errorResponseMode(rawResponseType: string | undefined, rawResponseMode: string | undefined, redirectUri: string): ResponseMode {
  const responseType = (rawResponseType ?? "").split(" ").filter(Boolean).sort().join(" ");
  if (isResponseMode(rawResponseMode) && responseModeAllowed(rawResponseMode, responseType) && responseModeReaches(rawResponseMode, redirectUri))
    return rawResponseMode;
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
 * The web_message page posts its one message to the window that opened it
 * and tells the end user to return to the app. The script is a constant,
 * allowed by its hash; the message and its target origin are read from the
 * page's data attributes (HTML-escaped like every value on a page), so no
 * request data is ever inside a script. The widget closes the popup once it
 * has the message; a page with no opener (opened by hand, or an upstream's
 * Cross-Origin-Opener-Policy severed it) says so instead.
 */
const POST_MESSAGE_SCRIPT =
  '(function(){var d=document.getElementById("authorization-response");' +
  'if(!window.opener){document.getElementById("no-opener").hidden=false;return;}' +
  'window.opener.postMessage({type:"authorization_response",response:JSON.parse(d.getAttribute("data-response"))},d.getAttribute("data-origin"));})();';

function sendWebMessage(res: Response, origin: string, parameters: Record<string, string>): void {
  sendPage(res, {
    title: "Returning to the app",
    inlineScript: POST_MESSAGE_SCRIPT,
    body: html`<h1>Returning to the app…</h1>
      <div id="authorization-response" data-origin="${origin}" data-response="${JSON.stringify(parameters)}"></div>
      <p class="muted">This window closes by itself.</p>
      <p id="no-opener" class="error" role="alert" hidden>This window lost its link to the app. Close it and start again from the app.</p>`,
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
  if (target.responseMode === "form_post" || target.responseMode === "web_message") {
    const all: Record<string, string | undefined> = { ...parameters, state: target.state, iss: issuer };
    const defined = Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined);
    if (target.responseMode === "form_post") return sendFormPost(res, target.redirectUri, defined);
    const origin = webMessageOrigin(target.redirectUri);
    // Checked with the request (authorization-request.ts); never post to an origin that is not the redirect URI's.
    if (origin === undefined) throw new TypeError("web_message needs an http(s) redirect URI");
    return sendWebMessage(res, origin, Object.fromEntries(defined));
  }
  setPageSecurityHeaders(res);
  res.redirect(req.method === "POST" ? 303 : 302, redirectWithParameters({ ...target, responseMode: target.responseMode }, issuer, parameters));
}
