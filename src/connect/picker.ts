/**
 * The connector picker: shown when an authorization request names no
 * connector. It names the app, lists the services the app may use (logo or
 * initials, and how the end user will connect), filters them with a search
 * box that works without JavaScript (a GET form back to /connect/start for
 * the same connect attempt), and says what the app will be able to do.
 */
import type { Response } from "express";
import { CONNECT_START_PATH } from "../paths.js";
import { authKindOf } from "../connectors/kinds/catalog.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { isPerServer } from "../connectors/template.js";
import { html, RawHtml, sendPage } from "../http/html.js";
import { connectorScopeWords, describeConnectorScope, describeScopes, renderConsent } from "./consent.js";

/** The picker's search parameter: not an OAuth parameter (RFC 6749 §3.1: unknown ones are ignored). */
export const SEARCH_PARAMETER = "search";
const MAX_SEARCH_LENGTH = 100;

export interface PickerInput {
  appName: string;
  /** The connectors the app may use. */
  connectors: ConnectorConfig[];
  /** The scopes the app will get, as granted (broker and connector scopes, or a resource's). */
  scopes: string[];
  /** RFC 8707: the name of the resource the tokens are for, if the app named one. */
  resourceName?: string;
  /** The connect attempt (its interaction id), carried by every link and the search form. */
  attemptId: string;
  /** What the end user typed in the search box. */
  search?: string;
}

const STYLE = `
.search{margin:1rem 0}.search label{margin-top:0}.search-row{display:flex;gap:.5rem}.search-row input{flex:1}.search-row button{margin-top:0}
ul.choices a:focus-visible,input:focus-visible,button:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
.choice-text{display:flex;flex-direction:column;flex:1;min-width:0}.choice-name{font-weight:600}.choice-how{color:var(--muted);font-size:.85rem}
ul.choices img{border-radius:6px;flex:none}main a{color:var(--accent)}h2{font-size:1rem;margin:1.5rem 0 .25rem}ul.scopes{margin:.25rem 0 1rem;padding-left:1.25rem}ul.scopes li{margin:.2rem 0}
`;

function initials(name: string): string {
  const words = name.split(/[\s()-]+/).filter(Boolean);
  return ((words[0]?.[0] ?? "") + (words[1]?.[0] ?? words[0]?.[1] ?? "")).toUpperCase();
}

/** `/connect/start` of the attempt, with a choice (`connector`) or a search. */
export function pickerLink(attemptId: string, extra: Record<string, string>): string {
  const query = new URLSearchParams({ connect: attemptId, ...extra });
  return `${CONNECT_START_PATH}?${query.toString()}`;
}

/** How the end user will connect, in a few words, as the connector's kind puts it. */
function howYouConnect(connector: ConnectorConfig): string {
  return authKindOf(connector).describeConnect({ name: connector.name, perServer: isPerServer(connector) });
}

/**
 * What a connector will be asked for when the app names no connector scope
 * (its default scopes): in the words of its file's `scopeDescriptions` when
 * every default scope has them, else the upstream scope strings.
 */
function defaultAccess(connector: ConnectorConfig): string {
  const words = connector.defaultScopes.map((name) => connectorScopeWords(connector, name));
  if (words.length > 0 && words.every((w) => w !== undefined)) return ` · ${words.join("; ")}`;
  const upstream = [...new Set(connector.defaultScopes.flatMap((name) => describeConnectorScope(connector, name).upstream ?? []))];
  return upstream.length > 0 ? ` · asks for ${upstream.join(", ")}` : "";
}

function matches(connector: ConnectorConfig, search: string): boolean {
  const needle = search.toLowerCase();
  return connector.name.toLowerCase().includes(needle) || connector.id.includes(needle);
}

function renderChoice(connector: ConnectorConfig, attemptId: string): RawHtml {
  const logo = connector.logo
    ? html`<img src="${connector.logo}" alt="" width="32" height="32" />`
    : html`<span class="initials" aria-hidden="true">${initials(connector.name)}</span>`;
  return html`<li>
    <a href="${pickerLink(attemptId, { connector: connector.id })}"
      >${logo}<span class="choice-text"
        ><span class="choice-name">${connector.name}</span><span class="choice-how">${howYouConnect(connector)}${defaultAccess(connector)}</span></span
      ></a
    >
  </li>`;
}

export function sendPicker(res: Response, input: PickerInput): void {
  const { appName, connectors, attemptId } = input;
  const search = (input.search ?? "").trim().slice(0, MAX_SEARCH_LENGTH);
  const shown = search ? connectors.filter((c) => matches(c, search)) : connectors;
  const byId = new Map(connectors.map((c) => [c.id, c]));
  const consent = renderConsent(
    appName,
    describeScopes(input.scopes, (id) => byId.get(id)),
    undefined,
    input.resourceName,
  );

  sendPage(res, {
    title: "Connect an account",
    body: html`<style>
        ${new RawHtml(STYLE)}
      </style>
      <h1>Connect an account</h1>
      <p><strong>${appName}</strong> asks you to connect one of your accounts. Choose a service:</p>
      ${
        connectors.length === 0
          ? html`<p class="error" role="alert">This app may not use any service configured on this broker.</p>`
          : html`<form class="search" method="get" action="${CONNECT_START_PATH}" role="search">
                <input type="hidden" name="connect" value="${attemptId}" />
                <label for="connector-search">Search services</label>
                <div class="search-row">
                  <input
                    id="connector-search"
                    name="${SEARCH_PARAMETER}"
                    type="search"
                    value="${search}"
                    maxlength="${MAX_SEARCH_LENGTH}"
                    autocomplete="off"
                  /><button type="submit">Search</button>
                </div>
              </form>
              ${
                search
                  ? html`<p class="muted" role="status">
                      ${shown.length === 0 ? html`No service matches “${search}”.` : html`${shown.length} of ${connectors.length} services match “${search}”.`}
                      <a href="${pickerLink(attemptId, {})}">Show all services</a>
                    </p>`
                  : ""
              }
              ${
                shown.length > 0
                  ? html`<ul class="choices" aria-label="Services">
                      ${shown.map((c) => renderChoice(c, attemptId))}
                    </ul>`
                  : ""
              }`
      }
      ${consent}
      <p class="muted">You sign in at the service you choose, or type a key into this broker's form; ${appName} never sees your password or keys.</p>`,
  });
}
