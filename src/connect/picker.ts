/** The connector picker: shown when an authorization request names no connector. */
import type { Response } from "express";
import { html, sendPage } from "../http/html.js";

export interface PickerEntry {
  id: string;
  name: string;
  logo?: string;
}

function initials(name: string): string {
  const words = name.split(/\s+/).filter(Boolean);
  return ((words[0]?.[0] ?? "") + (words[1]?.[0] ?? words[0]?.[1] ?? "")).toUpperCase();
}

/** Lists the connectors the app may use; each links back to /oauth/authorize with `connector` set. */
export function sendPicker(res: Response, appName: string, entries: PickerEntry[], linkFor: (connectorId: string) => string): void {
  sendPage(res, {
    title: "Connect an account",
    body: html`<h1>Connect an account</h1>
      <p><strong>${appName}</strong> asks you to connect an account. Choose a service:</p>
      ${
        entries.length === 0
          ? html`<p class="error" role="alert">This app may not use any service configured on this broker.</p>`
          : html`<ul class="choices">${entries.map(
              (e) =>
                html`<li><a href="${linkFor(e.id)}">${e.logo ? html`<img src="${e.logo}" alt="" width="32" height="32">` : html`<span class="initials" aria-hidden="true">${initials(e.name)}</span>`}<span>${e.name}</span></a></li>`,
            )}</ul>`
      }
      <p class="muted">You will sign in at the service you choose; ${appName} never sees your password.</p>`,
  });
}
