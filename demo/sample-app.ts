/**
 * "Files Viewer", the demo's sample developer app: what an app integrating
 * authbroker writes. It is a confidential OAuth client of the broker and runs
 * the whole flow on the server with openid-client:
 *
 *   POST /connect      authorization code + PKCE (S256), state and nonce → the broker's /oauth/authorize
 *   GET  /callback     exchanges the code; keeps the account-bound broker tokens in its session
 *   GET  /             shows the connected account and the user's files, fetched
 *                      through the broker's proxy (GET <broker>/v1/proxy/files)
 *   POST /disconnect   DELETE <broker>/v1/accounts/<id> with an app token (client_credentials)
 *   GET  /widget       the same connect in a popup, through the broker's /connect.js (docs/connect-widget.md);
 *                      the page hands the code to POST /widget/exchange, which exchanges it like /callback
 *
 * It never sees an upstream password or token: only broker tokens.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express, { type Request, type Response } from "express";
import * as oidc from "openid-client";
import { decodeJwt } from "jose";
import { html, sendPage, type RawHtml } from "./page.js";

export interface SampleAppOptions {
  /** The broker's issuer (discovery is read from it). */
  brokerUrl: string;
  clientId: string;
  clientSecret: string;
  /** @defaultValue a free port */
  port?: number;
  /** @defaultValue 127.0.0.1 */
  host?: string;
  /** The base URL browsers use (the redirect URI is `<publicUrl>/callback`). @defaultValue http://127.0.0.1:PORT */
  publicUrl?: string;
  /** One line per event the app wants the demo's user to see. @defaultValue nothing */
  log?: (line: string) => void;
}

export interface SampleApp {
  url: string;
  port: number;
  redirectUri: string;
  close(): Promise<void>;
}

/** The scopes the app asks for: an ID token, the proxy, and reading its account. */
export const SAMPLE_APP_SCOPES = ["openid", "profile", "email", "offline_access", "proxy", "accounts:read"];
/** Registered besides SAMPLE_APP_SCOPES: its app token deletes accounts. */
export const SAMPLE_APP_EXTRA_SCOPES = ["accounts:write"];

interface Connection {
  accountId: string;
  connector: string;
  name?: string;
  email?: string;
  accessToken: string;
  refreshToken?: string;
  expiresAt: number;
}

/** An authorization request in flight: checked when its response comes back. */
interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  /** Where the redirect-based response lands the user afterwards. @defaultValue "/" */
  returnTo?: string;
}

interface Session {
  /** The authorization request in flight: checked at the callback (or by the widget page's exchange). */
  pending?: Pending;
  connection?: Connection;
  /** A one-time message for the next page. */
  flash?: { kind: "ok" | "error"; text: string };
  /** Double-submit token for the app's own forms. */
  csrf: string;
}

const SESSION_COOKIE = "files_viewer_session";

export async function startSampleApp(options: SampleAppOptions): Promise<SampleApp> {
  const log = options.log ?? (() => undefined);
  const sessions = new Map<string, Session>();
  const app = express();
  app.disable("x-powered-by");
  app.use(express.urlencoded({ extended: false, limit: "4kb" }));

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(options.port ?? 0, options.host ?? "127.0.0.1", (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const port = (server.address() as AddressInfo).port;
  const url = options.publicUrl ?? `http://127.0.0.1:${port}`;
  const redirectUri = `${url}/callback`;

  // Discovery on first use: the broker may still be starting when the app is.
  let configuration: Promise<oidc.Configuration> | undefined;
  const broker = () =>
    (configuration ??= oidc
      .discovery(new URL(options.brokerUrl), options.clientId, undefined, oidc.ClientSecretBasic(options.clientSecret), {
        execute: [oidc.allowInsecureRequests],
      })
      .catch((err: unknown) => {
        configuration = undefined;
        throw err;
      }));

  function sessionOf(req: Request, res: Response): Session {
    const sid = /(?:^|;\s*)files_viewer_session=([A-Za-z0-9_-]{20,})/.exec(req.headers.cookie ?? "")?.[1];
    const existing = sid === undefined ? undefined : sessions.get(sid);
    if (existing) return existing;
    const id = randomBytes(18).toString("base64url");
    const session: Session = { csrf: randomBytes(18).toString("base64url") };
    sessions.set(id, session);
    res.cookie(SESSION_COOKIE, id, { httpOnly: true, sameSite: "lax", path: "/" });
    return session;
  }

  function checkCsrf(req: Request, session: Session): boolean {
    return typeof req.body?.csrf === "string" && req.body.csrf === session.csrf;
  }

  /** A broker access token that is still valid, refreshed (rotating the refresh token) when it is about to expire. */
  async function currentAccessToken(connection: Connection): Promise<string> {
    if (Date.now() < connection.expiresAt - 30_000 || !connection.refreshToken) return connection.accessToken;
    const tokens = await oidc.refreshTokenGrant(await broker(), connection.refreshToken);
    connection.accessToken = tokens.access_token;
    connection.refreshToken = tokens.refresh_token ?? connection.refreshToken;
    connection.expiresAt = Date.now() + (tokens.expires_in ?? 3600) * 1000;
    log(`refreshed the broker token of account ${connection.accountId}`);
    return connection.accessToken;
  }

  /** The user's files, fetched through the broker's proxy with the account-bound token. */
  async function fetchFiles(connection: Connection): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${options.brokerUrl}/v1/proxy/files`, {
      headers: { authorization: `Bearer ${await currentAccessToken(connection)}`, accept: "application/json" },
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* shown as text */
    }
    return { status: response.status, body };
  }

  app.get("/", async (req, res) => {
    const session = sessionOf(req, res);
    const flash = session.flash;
    session.flash = undefined;
    const connection = session.connection;
    let content: RawHtml;
    if (!connection) {
      content = html`<p>
          Files Viewer shows your files from Acme Cloud. It reaches them through <strong>authbroker</strong>: it never sees your Acme Cloud password or tokens,
          only a broker token bound to the account you connect.
        </p>
        <form method="post" action="/connect">
          <input type="hidden" name="csrf" value="${session.csrf}" />
          <input type="hidden" name="connector" value="acme-cloud" />
          <button type="submit">Connect Acme Cloud</button>
        </form>
        <form method="post" action="/connect">
          <input type="hidden" name="csrf" value="${session.csrf}" />
          <button type="submit" class="secondary">Choose a service…</button>
        </form>
        <p class="muted">
          Or connect without leaving the page: <a href="/widget">the connect widget</a> (a popup, through the broker's <code>/connect.js</code>).
        </p>`;
    } else {
      let files: RawHtml;
      try {
        const result = await fetchFiles(connection);
        files = renderFiles(result.status, result.body);
      } catch (err) {
        files = html`<p class="error" role="alert">Could not reach the broker: ${(err as Error).message}</p>`;
      }
      content = html`<section aria-labelledby="account-heading">
          <h2 id="account-heading">Connected account</h2>
          <dl>
            <dt>Service</dt>
            <dd data-testid="connector">${connection.connector}</dd>
            ${
              connection.name || connection.email
                ? html`<dt>Signed in as</dt>
                    <dd>${[connection.name, connection.email && `<${connection.email}>`].filter(Boolean).join(" ")}</dd>`
                : ""
            }
            <dt>Account id</dt>
            <dd><code data-testid="account-id">${connection.accountId}</code></dd>
          </dl>
        </section>
        <section aria-labelledby="files-heading">
          <h2 id="files-heading">Your files</h2>
          <p class="muted">
            Fetched just now through the broker's proxy: <code>GET /v1/proxy/files</code> with the broker token; the broker added the upstream credentials.
          </p>
          ${files}
        </section>
        <form method="post" action="/disconnect">
          <input type="hidden" name="csrf" value="${session.csrf}" />
          <button type="submit" class="danger">Disconnect</button>
        </form>`;
    }
    sendPage(res, {
      title: "Files Viewer",
      body: html`<h1>Files Viewer <span class="badge">sample app</span></h1>
        ${flash ? html`<p class="flash ${flash.kind}" role="${flash.kind === "error" ? "alert" : "status"}">${flash.text}</p>` : ""} ${content}`,
    });
  });

  app.post("/connect", async (req, res) => {
    const session = sessionOf(req, res);
    if (!checkCsrf(req, session)) {
      res.status(403).send("bad form token: reload the page");
      return;
    }
    const pending: Pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier() };
    session.pending = pending;
    const parameters: Record<string, string> = {
      redirect_uri: redirectUri,
      scope: SAMPLE_APP_SCOPES.join(" "),
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: "S256",
    };
    // Naming a connector skips the broker's picker.
    if (typeof req.body?.connector === "string" && /^[a-z0-9-]{1,64}$/.test(req.body.connector)) parameters["connector"] = req.body.connector;
    res.redirect(303, oidc.buildAuthorizationUrl(await broker(), parameters).href);
  });

  /**
   * Exchanges the code of an authorization response (PKCE verifier, state
   * and nonce checked by openid-client) and keeps the connection in the
   * session. `response` is the redirect URI with the response's parameters,
   * as the broker redirected to it or as the widget handed them over.
   */
  async function completeConnection(session: Session, pending: Pending, response: URL): Promise<Connection> {
    const tokens = await oidc.authorizationCodeGrant(await broker(), response, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    const access = decodeJwt(tokens.access_token);
    const identity = tokens.claims();
    const connection: Connection = {
      accountId: String(access["acct"]),
      connector: String(access["connector"]),
      name: typeof identity?.["name"] === "string" ? identity["name"] : undefined,
      email: typeof identity?.["email"] === "string" ? identity["email"] : undefined,
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      expiresAt: Date.now() + (tokens.expires_in ?? 3600) * 1000,
    };
    session.connection = connection;
    log(`connected account ${connection.accountId} (${connection.connector})`);
    return connection;
  }

  app.get("/callback", async (req, res) => {
    const session = sessionOf(req, res);
    const pending = session.pending;
    session.pending = undefined;
    const currentUrl = new URL(req.originalUrl, url);
    if (!pending) {
      session.flash = { kind: "error", text: "That sign-in response was not expected (it was used already, or the app restarted). Connect again." };
    } else if (currentUrl.searchParams.has("error")) {
      session.flash = {
        kind: "error",
        text: `The connection did not complete: ${currentUrl.searchParams.get("error")} (${currentUrl.searchParams.get("error_description") ?? "no description"}).`,
      };
      log(`connect refused: ${currentUrl.searchParams.get("error")}`);
    } else {
      try {
        const connection = await completeConnection(session, pending, currentUrl);
        session.flash = { kind: "ok", text: `Connected your ${connection.connector} account.` };
      } catch (err) {
        session.flash = { kind: "error", text: `The code exchange failed: ${(err as Error).message}` };
      }
    }
    // The widget page's request comes back here too when the popup was blocked (the widget's redirect fallback).
    res.redirect(303, pending?.returnTo ?? "/");
  });

  /**
   * The widget page: the same connect, in a popup, through the broker's
   * /connect.js. The authorization request is prepared here (state, nonce,
   * PKCE, kept in the session like the redirect's) and written into the
   * page, because the popup must open in the click itself: a browser blocks
   * a popup opened after an await.
   */
  app.get("/widget", async (req, res) => {
    const session = sessionOf(req, res);
    const flash = session.flash;
    session.flash = undefined;
    const pending: Pending = { state: oidc.randomState(), nonce: oidc.randomNonce(), verifier: oidc.randomPKCECodeVerifier(), returnTo: "/widget" };
    session.pending = pending;
    const codeChallenge = await oidc.calculatePKCECodeChallenge(pending.verifier);
    const connection = session.connection;
    sendPage(res, {
      title: "Files Viewer · connect widget",
      scripts: [`${options.brokerUrl}/connect.js`, "/widget.js"],
      body: html`<h1>Files Viewer <span class="badge">connect widget</span></h1>
        ${flash ? html`<p class="flash ${flash.kind}" role="${flash.kind === "error" ? "alert" : "status"}">${flash.text}</p>` : ""}
        <p>
          The same connect as on the <a href="/">main page</a>, in a popup: this page includes the broker's <code>/connect.js</code>, which opens the broker's
          connect flow in a window of its own and hands the authorization code back to this page. Where popups are blocked it redirects instead.
        </p>
        <div
          id="widget-request"
          data-client-id="${options.clientId}"
          data-redirect-uri="${redirectUri}"
          data-scope="${SAMPLE_APP_SCOPES.join(" ")}"
          data-state="${pending.state}"
          data-nonce="${pending.nonce}"
          data-code-challenge="${codeChallenge}"
          data-csrf="${session.csrf}"
        ></div>
        <button type="button" class="connect-popup" data-connector="acme-cloud">Connect Acme Cloud in a popup</button>
        <button type="button" class="connect-popup secondary" data-connector="">Choose a service in a popup…</button>
        <p data-testid="widget-status" class="flash" role="status" aria-live="polite"></p>
        ${
          connection
            ? html`<p>
                Connected: <code data-testid="widget-account-id">${connection.accountId}</code> (${connection.connector}). <a href="/">See your files</a>.
              </p>`
            : ""
        }`,
    });
  });

  app.get("/widget.js", (_req, res) => {
    res.type("text/javascript").setHeader("Cache-Control", "no-cache");
    res.send(WIDGET_PAGE_SCRIPT);
  });

  /** The widget page hands over the authorization response it received; the app exchanges the code on its server, as at /callback. */
  app.post("/widget/exchange", async (req, res) => {
    const session = sessionOf(req, res);
    if (!checkCsrf(req, session)) {
      res.status(403).json({ error: "bad_csrf", error_description: "bad form token: reload the page" });
      return;
    }
    const pending = session.pending;
    session.pending = undefined;
    if (!pending) {
      res.status(400).json({ error: "unexpected_response", error_description: "no connect was in progress: reload the page" });
      return;
    }
    const response = new URL(redirectUri);
    for (const name of ["code", "state", "iss"]) {
      const value = req.body?.[name];
      if (typeof value === "string" && value !== "") response.searchParams.set(name, value);
    }
    try {
      const connection = await completeConnection(session, pending, response);
      res.json({ account_id: connection.accountId, connector: connection.connector });
    } catch (err) {
      res.status(400).json({ error: "exchange_failed", error_description: (err as Error).message });
    }
  });

  app.post("/disconnect", async (req, res) => {
    const session = sessionOf(req, res);
    const connection = session.connection;
    if (!checkCsrf(req, session)) {
      res.status(403).send("bad form token: reload the page");
      return;
    }
    if (connection) {
      try {
        // The app's own token (client_credentials) may delete any account the app owns.
        const appToken = await oidc.clientCredentialsGrant(await broker(), { scope: "accounts:write" });
        const response = await fetch(`${options.brokerUrl}/v1/accounts/${encodeURIComponent(connection.accountId)}`, {
          method: "DELETE",
          headers: { authorization: `Bearer ${appToken.access_token}` },
        });
        const body = (await response.json().catch(() => ({}))) as { upstream_revoked?: boolean; error_description?: string };
        if (response.ok) {
          session.connection = undefined;
          session.flash = {
            kind: "ok",
            text: `Disconnected account ${connection.accountId}: the broker deleted its credentials${body.upstream_revoked ? " and revoked the tokens at the service" : ""}.`,
          };
          log(`disconnected account ${connection.accountId}`);
        } else {
          session.flash = { kind: "error", text: `The broker refused to disconnect (${response.status}): ${body.error_description ?? "no description"}` };
        }
      } catch (err) {
        session.flash = { kind: "error", text: `Could not disconnect: ${(err as Error).message}` };
      }
    }
    res.redirect(303, "/");
  });

  return {
    url,
    port,
    redirectUri,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

interface FileEntry {
  name: string;
  size: number;
  modified: string;
}

function isFileList(body: unknown): body is { owner?: string; files: FileEntry[] } {
  return typeof body === "object" && body !== null && Array.isArray((body as { files?: unknown }).files);
}

function renderFiles(status: number, body: unknown): RawHtml {
  if (status !== 200 || !isFileList(body)) {
    const description =
      typeof body === "object" && body !== null
        ? ((body as { error_description?: string; error?: string }).error_description ?? (body as { error?: string }).error)
        : String(body);
    return html`<p class="error" role="alert">The proxy answered ${status}: ${description ?? "no description"}</p>`;
  }
  return html`<table data-testid="files">
    <caption class="muted">
      ${body.files.length} ${body.files.length === 1 ? "file" : "files"}${body.owner ? ` of ${body.owner}` : ""}
    </caption>
    <thead>
      <tr>
        <th scope="col">Name</th>
        <th scope="col">Size</th>
        <th scope="col">Modified</th>
      </tr>
    </thead>
    <tbody>
      ${body.files.map(
        (f) =>
          html`<tr>
            <td>${f.name}</td>
            <td>${formatSize(f.size)}</td>
            <td>${f.modified}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}

function formatSize(bytes: number): string {
  if (bytes >= 1_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  if (bytes >= 1_000) return `${Math.round(bytes / 1_000)} kB`;
  return `${bytes} B`;
}

/**
 * The widget page's own script (served at /widget.js: the page's CSP runs no
 * inline script). What an app writes around `authbroker.connect`: the
 * request prepared by the server, the code handed back to the server.
 */
const WIDGET_PAGE_SCRIPT = `(function () {
  "use strict";
  var request = document.getElementById("widget-request").dataset;
  var status = document.querySelector("[data-testid=widget-status]");
  function show(kind, text) {
    status.className = "flash " + kind;
    status.textContent = text;
  }
  document.querySelectorAll("button.connect-popup").forEach(function (button) {
    button.addEventListener("click", function () {
      show("", "Waiting for the connect window…");
      window.authbroker
        .connect({
          clientId: request.clientId,
          redirectUri: request.redirectUri,
          scope: request.scope,
          state: request.state,
          nonce: request.nonce,
          codeChallenge: request.codeChallenge,
          codeChallengeMethod: "S256",
          connector: button.dataset.connector || undefined,
        })
        .then(function (response) {
          show("", "Exchanging the code…");
          var body = new URLSearchParams({ csrf: request.csrf, code: response.code, state: response.state, iss: response.iss || "" });
          return fetch("/widget/exchange", { method: "POST", body: body }).then(function (answer) {
            return answer.json().then(function (result) {
              if (!answer.ok) throw result;
              show("ok", "Connected your " + result.connector + " account " + result.account_id + ".");
            });
          });
        })
        .catch(function (err) {
          show("error", "The connection did not complete: " + (err.error || "error") + " (" + (err.error_description || err.message || "no description") + ").");
        });
    });
  });
})();
`;
