/**
 * Server-rendered HTML for the broker's pages (connect picker, error pages,
 * forms): escaping, one layout, and the security headers every page carries.
 * Pages work without JavaScript; none is served.
 */
import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** Tagged template that escapes every interpolated value unless it is `raw(...)`. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): RawHtml {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += renderValue(value) + strings[i + 1]!;
  });
  return new RawHtml(out);
}

export class RawHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

function renderValue(value: unknown): string {
  if (value instanceof RawHtml) return value.value;
  if (Array.isArray(value)) return value.map(renderValue).join("");
  if (value === undefined || value === null || value === false) return "";
  return escapeHtml(value);
}

const STYLE = `
:root{color-scheme:light dark;--fg:#1d2430;--muted:#5b6577;--bg:#f6f7f9;--card:#fff;--line:#d9dde4;--accent:#2456d6;--err:#b42318}
@media (prefers-color-scheme:dark){:root{--fg:#e8ebf0;--muted:#a4adbd;--bg:#12151b;--card:#1b2029;--line:#2c3340;--accent:#7aa2ff;--err:#ff8a80}}
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:28rem;margin:4rem auto;padding:2rem;background:var(--card);border:1px solid var(--line);border-radius:12px}
h1{font-size:1.35rem;margin:0 0 .5rem}p{margin:.5rem 0}.muted{color:var(--muted);font-size:.9rem}
ul.choices{list-style:none;padding:0;margin:1rem 0}ul.choices li{margin:.5rem 0}
ul.choices a{display:flex;align-items:center;gap:.75rem;padding:.75rem 1rem;border:1px solid var(--line);border-radius:8px;color:inherit;text-decoration:none}
ul.choices a:hover,ul.choices a:focus{border-color:var(--accent);outline:none}
.initials{display:inline-grid;place-items:center;width:2rem;height:2rem;border-radius:6px;background:var(--accent);color:#fff;font-weight:600;font-size:.85rem}
.error{color:var(--err)}label{display:block;margin:.75rem 0 .25rem;font-weight:600}
input{width:100%;padding:.5rem .6rem;border:1px solid var(--line);border-radius:6px;font:inherit;background:transparent;color:inherit}
button{margin-top:1rem;padding:.6rem 1.2rem;border:0;border-radius:6px;background:var(--accent);color:#fff;font:inherit;cursor:pointer}
code{font-size:.85em}
`;

export interface PageOptions {
  title: string;
  body: RawHtml;
  status?: number;
  /** Extra origins forms on this page may submit to (CSP form-action). */
  formActions?: string[];
  /**
   * One inline script, allowed by its hash alone (CSP `script-src
   * 'sha256-…'`): for the auto-submitting `form_post` page. No other script runs.
   */
  inlineScript?: string;
}

/**
 * Headers for every HTML page: no framing (clickjacking, RFC 9700 §4.16),
 * no scripts, no caching of pages that carry one-time parameters, no referrer
 * leaking codes or states to other origins.
 */
export function setPageSecurityHeaders(res: ServerResponse, formActions: string[] = [], inlineScript?: string): void {
  const scriptSrc = inlineScript === undefined ? "" : `; script-src 'sha256-${createHash("sha256").update(inlineScript, "utf8").digest("base64")}'`;
  res.setHeader(
    "Content-Security-Policy",
    `default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; form-action 'self'${formActions.map((o) => ` ${o}`).join("")}${scriptSrc}; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("X-Content-Type-Options", "nosniff");
  // same-origin, not no-referrer: with no-referrer a browser sends `Origin: null`
  // on the page's own form POSTs, and the forms' origin check would refuse them.
  // Other origins (upstreams, apps) still get no referrer, so no code or state leaks.
  res.setHeader("Referrer-Policy", "same-origin");
  res.setHeader("Cache-Control", "no-store");
}

export function sendPage(res: ServerResponse, options: PageOptions): void {
  setPageSecurityHeaders(res, options.formActions, options.inlineScript);
  // The script is the caller's constant, never request data (its hash is what the CSP allows).
  if (options.inlineScript?.includes("</")) throw new TypeError('an inline script must not contain "</"');
  const script = options.inlineScript === undefined ? "" : `<script>${options.inlineScript}</script>`;
  const page =
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="referrer" content="same-origin"><title>${escapeHtml(options.title)} · authbroker</title><style>${STYLE}</style></head>` +
    `<body><main>${options.body.value}</main>${script}</body></html>`;
  res.statusCode = options.status ?? 200;
  res.setHeader("Content-Type", "text/html; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(page));
  res.end(page);
}

/** An error page for failures that must not be redirected to the app (unknown client or redirect URI, expired session). */
export function sendErrorPage(res: ServerResponse, status: number, code: string, description: string): void {
  sendPage(res, {
    title: "Something went wrong",
    status,
    body: html`<h1>Something went wrong</h1>
      <p class="error" role="alert">${description}</p>
      <p class="muted">Error code: <code>${code}</code>. You can close this window and start again from the app.</p>`,
  });
}
