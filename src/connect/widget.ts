/**
 * `GET /connect.js`: the connect widget, a small script an app's page
 * includes (`<script src="<broker>/connect.js">`) to run the broker's
 * connect flow in a popup instead of navigating away (docs/connect-widget.md).
 *
 * It is a front end to the ordinary authorization endpoint, nothing more:
 * the popup opens `/oauth/authorize` with `response_mode=web_message`, so
 * every check (exact redirect URI, PKCE, scopes, the picker) applies as it
 * does to a redirect, and the answer comes back by the one way responses
 * are built (oauth/response-modes.ts). The script accepts a message only
 * from the broker's origin and from its own popup (RFC 9700 §4.17), checks
 * `state`, and rejects with `popup_closed` when the end user closes the
 * popup. Where the popup is blocked it falls back to a full-page redirect
 * in the default response mode, so the redirect URI receives the code as
 * it would without the widget.
 *
 * Plain ES2018, no dependencies and no build step: the text below is what
 * browsers run. It is made once per broker (the authorization endpoint is
 * written into it) and served with a validator, so browsers keep it for a
 * while and revalidate it cheaply.
 */
import { createHash } from "node:crypto";
import type { Exchange } from "../http/route.js";
import { AUTHORIZATION_PATH } from "../paths.js";
import type { Services } from "../services.js";

/** Browsers keep the script an hour, then revalidate it (a 304 while it is unchanged): a broker upgrade reaches pages within the hour. */
const CACHE_CONTROL = "public, max-age=3600, must-revalidate";

/** The script; `__AUTHORIZATION_ENDPOINT__` is replaced by the JSON string of the broker's authorization endpoint. */
const SCRIPT = `/* authbroker connect widget: docs/connect-widget.md */
(function () {
  "use strict";
  var AUTHORIZE = __AUTHORIZATION_ENDPOINT__;
  var BROKER_ORIGIN = new URL(AUTHORIZE).origin;
  var PARAMS = { clientId: "client_id", redirectUri: "redirect_uri", responseType: "response_type", scope: "scope", state: "state",
    nonce: "nonce", codeChallenge: "code_challenge", codeChallengeMethod: "code_challenge_method", connector: "connector", hostname: "hostname",
    prompt: "prompt", loginHint: "login_hint" };
  var current = null;

  function failure(error, description, state) {
    var err = new Error(error + ": " + description);
    err.error = error;
    err.error_description = description;
    if (state !== undefined) err.state = state;
    return err;
  }

  function originOf(url) {
    try {
      return new URL(url).origin;
    } catch (e) {
      return null;
    }
  }

  function authorizeUrl(options, responseMode) {
    var url = new URL(AUTHORIZE);
    url.searchParams.set("response_type", "code");
    Object.keys(PARAMS).forEach(function (name) {
      if (options[name] !== undefined && options[name] !== null) url.searchParams.set(PARAMS[name], String(options[name]));
    });
    if (responseMode) url.searchParams.set("response_mode", responseMode);
    return url.href;
  }

  function popupFeatures(width, height) {
    var left = Math.max(0, Math.round(window.screenX + (window.outerWidth - width) / 2));
    var top = Math.max(0, Math.round(window.screenY + (window.outerHeight - height) / 2));
    return "popup=yes,width=" + width + ",height=" + height + ",left=" + left + ",top=" + top;
  }

  /**
   * Opens the connect flow. Call it from a click handler (browsers block
   * popups opened later). Resolves with the authorization response
   * ({ code, state, iss }); rejects with an Error carrying error,
   * error_description and state. Blocked popup: redirects the page (or,
   * with fallback: "reject", rejects with popup_blocked).
   */
  function connect(options) {
    options = options || {};
    if (!options.clientId || !options.redirectUri) return Promise.reject(failure("invalid_request", "clientId and redirectUri are required"));
    // The broker addresses the response to the redirect URI's origin: on any other page it would never arrive.
    if (originOf(options.redirectUri) !== window.location.origin)
      return Promise.reject(failure("invalid_request", "redirectUri must be an absolute URL on this page's origin (" + window.location.origin + "): the response is posted to it"));
    if (current) current.cancel(failure("cancelled", "another connect was started"));
    var popup = window.open(authorizeUrl(options, "web_message"), "authbroker_connect", popupFeatures(options.width || 520, options.height || 680));
    if (!popup) {
      if (options.fallback === "reject") return Promise.reject(failure("popup_blocked", "the browser blocked the connect popup"));
      window.location.assign(authorizeUrl(options));
      return new Promise(function () {});
    }
    return new Promise(function (resolve, reject) {
      var settled = false;
      function finish(fn, value) {
        if (settled) return;
        settled = true;
        window.removeEventListener("message", onMessage);
        clearInterval(timer);
        if (current && current.popup === popup) current = null;
        try { popup.close(); } catch (e) { /* already closed */ }
        fn(value);
      }
      function onMessage(event) {
        // Only the broker, and only this popup: any other window's message is not ours (RFC 9700 §4.17).
        if (event.origin !== BROKER_ORIGIN || event.source !== popup) return;
        var data = event.data;
        if (!data || data.type !== "authorization_response" || typeof data.response !== "object" || data.response === null) return;
        var response = data.response;
        if (options.state !== undefined && response.state !== String(options.state))
          return finish(reject, failure("state_mismatch", "the response's state is not the one this page sent", response.state));
        if (response.error) return finish(reject, failure(response.error, response.error_description || response.error, response.state));
        finish(resolve, response);
      }
      var timer = setInterval(function () {
        if (popup.closed) finish(reject, failure("popup_closed", "the connect window was closed before the flow completed", options.state));
      }, 500);
      window.addEventListener("message", onMessage);
      current = { popup: popup, cancel: function (err) { finish(reject, err); } };
      popup.focus();
    });
  }

  window.authbroker = Object.freeze({ connect: connect, authorizationEndpoint: AUTHORIZE });
})();
`;

export interface WidgetScript {
  body: Buffer;
  etag: string;
}

/** The script for this broker, with its validator. */
export function widgetScript(issuer: string): WidgetScript {
  // JSON.stringify, then "<" escaped: a string literal that cannot end a <script> element.
  const endpoint = JSON.stringify(`${issuer}${AUTHORIZATION_PATH}`).replace(/</g, "\\u003c");
  const body = Buffer.from(
    SCRIPT.replace("__AUTHORIZATION_ENDPOINT__", () => endpoint),
    "utf8",
  );
  return { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/** Whether an If-None-Match header names this validator (or is `*`). */
function notModified(ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  return ifNoneMatch
    .split(",")
    .map((t) => t.trim().replace(/^W\//, ""))
    .some((t) => t === etag || t === "*");
}

export function widgetEndpoint(services: Pick<Services, "config">): (exchange: Exchange) => void {
  const script = widgetScript(services.config.issuer);
  return ({ req, res }) => {
    res.setHeader("Cache-Control", CACHE_CONTROL);
    res.setHeader("ETag", script.etag);
    res.setHeader("X-Content-Type-Options", "nosniff");
    // Apps' pages load it cross-origin, some of them under Cross-Origin-Embedder-Policy.
    res.setHeader("Cross-Origin-Resource-Policy", "cross-origin");
    if (notModified(req.headers["if-none-match"], script.etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
    res.statusCode = 200;
    res.setHeader("Content-Type", "text/javascript; charset=utf-8");
    res.setHeader("Content-Length", script.body.length);
    res.end(req.method === "HEAD" ? undefined : script.body);
  };
}
