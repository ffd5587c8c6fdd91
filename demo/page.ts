/** The sample app's page layout. Escaping comes from the broker's `html` template (src/http/html.ts). */
import type { Response } from "express";
import { escapeHtml, html, type RawHtml } from "../src/http/html.js";

export { html, type RawHtml };

const STYLE = `
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#10231c;background:#eef6f2}
main{max-width:40rem;margin:3rem auto;padding:2rem;background:#fff;border:1px solid #cfe3da;border-radius:14px}
h1{font-size:1.5rem;margin:0 0 1rem}h2{font-size:1.1rem;margin:1.5rem 0 .5rem}
.badge{font-size:.75rem;font-weight:600;vertical-align:middle;padding:.15rem .5rem;border-radius:99px;background:#d5efe3;color:#0b5d3b}
.muted{color:#4d6359;font-size:.9rem}code{font-size:.9em;background:#f1f5f3;padding:.05rem .3rem;border-radius:4px}
form{display:inline-block;margin:1rem .5rem 0 0}
button{padding:.6rem 1.2rem;border:0;border-radius:8px;background:#0b7a4b;color:#fff;font:inherit;font-weight:600;cursor:pointer}
button.secondary{background:#fff;color:#0b7a4b;border:2px solid #0b7a4b}button.danger{background:#b42318}
button:focus-visible{outline:3px solid #1d4ed8;outline-offset:2px}
.flash{padding:.6rem .9rem;border-radius:8px}.flash.ok{background:#e3f6ec;color:#0b5d3b}.flash.error,.error{background:#fdecea;color:#8c1d13}
p.error{padding:.6rem .9rem;border-radius:8px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}dt{font-weight:600}dd{margin:0}
table{width:100%;border-collapse:collapse;margin-top:.5rem}caption{text-align:left;padding-bottom:.25rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e1ece7}th{font-size:.85rem;color:#4d6359}
`;

export interface Page {
  title: string;
  body: RawHtml;
  status?: number;
  /**
   * Scripts the page loads, by URL (the widget page: the broker's /connect.js
   * and the app's own). The CSP allows exactly their origins, and fetch to
   * the app itself. Other pages run no script.
   */
  scripts?: string[];
}

export function sendPage(res: Response, page: Page): void {
  res.status(page.status ?? 200).type("html");
  res.setHeader("Cache-Control", "no-store");
  const scripts = page.scripts ?? [];
  const scriptSources = [...new Set(scripts.map((src) => (src.startsWith("/") ? "'self'" : new URL(src).origin)))];
  const scriptPolicy = scripts.length === 0 ? "" : `; script-src ${scriptSources.join(" ")}; connect-src 'self'`;
  // No form-action: the Connect form's answer redirects to the broker, and Chromium applies form-action to that redirect too.
  res.setHeader("Content-Security-Policy", `default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'${scriptPolicy}`);
  res.send(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
      `<title>${escapeHtml(page.title)}</title><style>${STYLE}</style></head><body><main>${page.body.value}</main>` +
      scripts.map((src) => `<script src="${escapeHtml(src)}"></script>`).join("") +
      `</body></html>`,
  );
}
