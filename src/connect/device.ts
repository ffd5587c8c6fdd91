/**
 * The `/device` pages of the device flow (RFC 8628 §3.3): the end user
 * types the code their device shows, sees which app asks and confirms the
 * code matches (§5.4: a code in a link from someone else must not be
 * approved blindly), picks the service to connect — or denies — and then
 * connects an account through the same connect flow as the authorization
 * endpoint. The connect's end approves the device code (authorization-response.ts).
 *
 * - Every form is CSRF-protected: a `SameSite=Strict` cookie of this browser
 *   keys an HMAC the form carries, and a POST from another origin is
 *   refused. Without that, a page elsewhere could make a signed-in victim
 *   approve an attacker's device code with the victim's account.
 * - Wrong user codes are counted per address (§5.1: the user code is short,
 *   so guessing must be slowed): after `MAX_FAILED_USER_CODES` in
 *   `FAILED_USER_CODE_WINDOW_SECONDS`, the address is refused until the
 *   window ends. Behind a reverse proxy every end user shares its address:
 *   the limit is then per proxy, which bounds guessing just the same.
 * - State changes answer 303 (a reload never re-submits).
 */
import { signInFormActions } from "./sign-in-form-actions.js";
import { startBrokerEndedConnect } from "./broker-ended-connect.js";
import { DEVICE_DECISION_PATH, DEVICE_PAGE_PATH } from "../paths.js";
import type { Request, Response } from "express";
import type { ExpressExchange } from "../http/route.js";
import { createHmac, timingSafeEqual } from "node:crypto";
import { generateSecret } from "../crypto/secrets.js";
import { html, sendErrorPage, sendPage } from "../http/html.js";
import { appDisplayName, type Client } from "../apps/clients.js";
import { denyDeviceCode, findPendingDeviceCode, formatUserCode, normaliseUserCode, type PendingDeviceCode } from "../oauth/device-codes.js";
import { clientMayUseConnector } from "../oauth/scopes.js";
import type { Services } from "../services.js";
import { clientAddress } from "../http/client-address.js";
import { readCookie } from "../http/cookies.js";

const CSRF_COOKIE = "ab_device";
const CSRF_PURPOSE = "authbroker device form v1";
export const MAX_FAILED_USER_CODES = 10;
export const FAILED_USER_CODE_WINDOW_SECONDS = 900;

/** The Redis key counting wrong user codes from one address (per issuer: brokers may share a Redis). */
export function failedUserCodesKey(issuer: string, address: string): string {
  return `device:failed-user-codes:${issuer}:${address}`;
}

function csrfToken(binding: string): string {
  return createHmac("sha256", binding).update(CSRF_PURPOSE).digest("base64url");
}

/** This browser's CSRF binding, set on first sight. */
function ensureBinding(services: Services, req: Request, res: Response): string {
  const existing = readCookie(req, CSRF_COOKIE);
  if (existing && /^[A-Za-z0-9_-]{20,100}$/.test(existing)) return existing;
  const binding = generateSecret();
  res.cookie(CSRF_COOKIE, binding, { httpOnly: true, sameSite: "strict", secure: services.config.issuer.startsWith("https:"), path: DEVICE_PAGE_PATH });
  return binding;
}

/**
 * Whether a form POST comes from this broker's page in this browser. The
 * CSRF token decides; the Origin check only refuses a named foreign site
 * early. A browser may send `Origin: null` for our own form (under a
 * no-referrer policy, or from privacy settings), so "null" is left to the token.
 */
function formIsGenuine(services: Services, req: Request): boolean {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== "null" && origin !== new URL(services.config.issuer).origin) return false;
  const binding = readCookie(req, CSRF_COOKIE);
  const presented = (req.body as Record<string, unknown> | undefined)?.csrf;
  if (!binding || typeof presented !== "string") return false;
  const expected = Buffer.from(csrfToken(binding));
  const given = Buffer.from(presented);
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function field(req: Request, name: string): string | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === "string" ? value : undefined;
}

function sendCodeForm(res: Response, binding: string, typed: string, problem?: string, status = 200): void {
  sendPage(res, {
    title: "Connect a device",
    status,
    body: html`<h1>Connect a device</h1>
      <p>Enter the code shown on your device.</p>
      ${problem ? html`<p class="error" role="alert" id="code-problem">${problem}</p>` : ""}
      <form method="post" action="${DEVICE_PAGE_PATH}">
        <input type="hidden" name="csrf" value="${csrfToken(binding)}" />
        <label for="user_code">Code</label>
        <input
          id="user_code"
          name="user_code"
          value="${typed}"
          autocomplete="off"
          autocapitalize="characters"
          spellcheck="false"
          required${problem ? html` aria-invalid="true" aria-describedby="code-problem"` : ""}
        />
        <button type="submit">Continue</button>
      </form>`,
  });
}

function sendConfirmation(
  res: Response,
  binding: string,
  code: PendingDeviceCode,
  client: Client,
  connectors: { id: string; name: string }[],
  formActions: string[],
): void {
  sendPage(res, {
    title: "Connect a device",
    formActions,
    body: html`<h1>Connect <strong>${appDisplayName(client)}</strong>?</h1>
      <p>Continue only if your device shows the code <strong>${formatUserCode(code.userCode)}</strong> and you started this yourself.</p>
      <form method="post" action="${DEVICE_DECISION_PATH}">
        <input type="hidden" name="csrf" value="${csrfToken(binding)}" />
        <input type="hidden" name="user_code" value="${code.userCode}" />
        ${
          connectors.length === 0
            ? html`<p class="error" role="alert">This app may not use any service configured on this broker.</p>`
            : html`<p>Choose the account to connect:</p>
                <ul class="choices">
                  ${connectors.map((c) => html`<li><button type="submit" name="connector" value="${c.id}">${c.name}</button></li>`)}
                </ul>`
        }
        <button type="submit" name="decision" value="deny" class="secondary">Deny</button>
      </form>`,
  });
}

/** The connectors the end user may pick for a device code: the one it names, or every one the app may use. */
function connectorChoices(services: Services, code: PendingDeviceCode, client: Client): { id: string; name: string }[] {
  return services.connectors
    .list()
    .filter((c) => (code.connectorId ? c.id === code.connectorId : clientMayUseConnector(client, c.id)))
    .map((c) => ({ id: c.id, name: c.name }));
}

/** The code a form of this browser's device page submitted, with its CSRF binding; undefined (page sent) when refused. */
async function submittedCode(
  services: Services,
  req: Request,
  res: Response,
): Promise<{ binding: string; code: PendingDeviceCode; client: Client } | undefined> {
  if (!formIsGenuine(services, req)) {
    sendErrorPage(res, 403, "access_denied", "This form was not sent from this browser's device page. Open the device page again.");
    return undefined;
  }
  const binding = readCookie(req, CSRF_COOKIE)!;
  const found = await findTypedCode(services, req, res, binding, field(req, "user_code") ?? "");
  return found && { binding, ...found };
}

/** Looks a typed code up, counting a miss against the address; undefined (page sent) when refused. */
async function findTypedCode(
  services: Services,
  req: Request,
  res: Response,
  binding: string,
  typed: string,
): Promise<{ code: PendingDeviceCode; client: Client } | undefined> {
  const key = failedUserCodesKey(services.config.issuer, clientAddress(req, services.config.trustProxyHops) ?? "unknown");
  const failures = Number((await services.redis.get(key)) ?? 0);
  if (failures >= MAX_FAILED_USER_CODES) {
    sendPage(res, {
      title: "Too many attempts",
      status: 429,
      body: html`<h1>Too many attempts</h1>
        <p class="error" role="alert">Too many wrong codes were entered from here. Wait a few minutes and try again.</p>`,
    });
    return undefined;
  }
  const userCode = normaliseUserCode(typed);
  const code = userCode === undefined ? undefined : await findPendingDeviceCode(services.db, userCode);
  const client = code ? await services.clients.find(code.appId) : undefined;
  if (!code || !client) {
    await services.redis.multi().incr(key).expire(key, FAILED_USER_CODE_WINDOW_SECONDS, "NX").exec();
    sendCodeForm(res, binding, typed.slice(0, 20), "That code is not valid or has expired. Check the code on your device.", 400);
    return undefined;
  }
  return { code, client };
}

/** `GET /device`: the page that asks for the code a device shows. */
export function devicePage(services: Services): (exchange: ExpressExchange) => void {
  return ({ req, res }) => {
    const binding = ensureBinding(services, req, res);
    if (req.query.result === "denied") {
      sendPage(res, {
        title: "Access denied",
        body: html`<h1>Access denied</h1>
          <p>The device was not connected. You can close this window.</p>`,
      });
      return;
    }
    const typed = typeof req.query.user_code === "string" ? req.query.user_code.slice(0, 20) : "";
    sendCodeForm(res, binding, typed);
  };
}

/** `POST /device`: the typed code, and the confirmation page for it. */
export function submitDeviceCode(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return async ({ req, res }) => {
    const found = await submittedCode(services, req, res);
    if (!found) return;
    const { binding, code, client } = found;
    const choices = connectorChoices(services, code, client);
    sendConfirmation(res, binding, code, client, choices, signInFormActions(services, choices));
  };
}

/** `POST /device/decision`: deny, or connect an account at the chosen service. */
export function decideDevice(services: Services): (exchange: ExpressExchange) => Promise<void> {
  return async ({ req, res }) => {
    const found = await submittedCode(services, req, res);
    if (!found) return;
    const { code, client } = found;
    if (field(req, "decision") === "deny") {
      await denyDeviceCode(services.db, code.deviceCodeHash);
      req.log.info({ clientId: client.id }, "device code denied by the end user");
      res.redirect(303, `${DEVICE_PAGE_PATH}?result=denied`);
      return;
    }
    const connectorId = field(req, "connector");
    const connector = connectorId === undefined ? undefined : services.connectors.get(connectorId);
    if (!connector || !connectorChoices(services, code, client).some((c) => c.id === connector.id)) {
      sendErrorPage(res, 400, "invalid_request", "Choose one of the services offered for this device.");
      return;
    }
    // The device's scopes were checked without a connector when it named none: they are checked against the one chosen.
    await startBrokerEndedConnect(services, req, res, {
      clientId: client.id,
      pagePath: DEVICE_PAGE_PATH,
      marker: { deviceCodeHash: code.deviceCodeHash },
      requestedScopes: code.scope.split(" ").filter(Boolean),
      connector,
      flow: "device connect",
      failureDescription: "The connection could not be started. Try again.",
    });
  };
}
