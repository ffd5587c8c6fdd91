/**
 * A browser for redirect-based flows in integration tests, without a browser:
 * it follows redirects the way a user agent does, keeps cookies per origin
 * (host:port — every server in a test lives on 127.0.0.1, and they must not
 * see each other's cookies), and fills in and submits HTML forms, including
 * the auto-submitting pages of `response_mode=form_post`.
 *
 * SameSite is ignored (every cookie goes with every request to its origin),
 * which is what a browser does for the top-level GET navigations these flows
 * are made of; tests of SameSite itself belong in the Chromium e2e suite.
 */
import { parse, type HTMLElement } from "node-html-parser";

export interface BrowserResponse {
  /** The URL of this response (when stopped by `stopAt`: the redirect target, not fetched). */
  url: URL;
  status: number;
  headers: Headers;
  body: string;
  /** True when `stopAt` matched a redirect target; `status`/`headers` are then the redirect's. */
  stopped: boolean;
  /** Every URL requested on the way, in order, then the final `url`. */
  chain: URL[];
  /**
   * When `submitForm` stopped at the form's own action (a `form_post`
   * response to an app redirect URI with no server): the fields it would have posted.
   */
  submitted?: URLSearchParams;
}

export interface NavigateOptions {
  /** Stop before fetching a redirect target for which this returns true (e.g. an app redirect URI with no server). */
  stopAt?: (url: URL) => boolean;
  /** @defaultValue 20 */
  maxRedirects?: number;
  /** Extra request headers, sent with the first request only (not after a redirect). */
  headers?: Record<string, string>;
}

export interface SubmitOptions extends NavigateOptions {
  /** Which form of the page, in document order. @defaultValue 0 */
  formIndex?: number;
  /** Values that override (or add to) the form's own fields. */
  fields?: Record<string, string>;
  /** The submit button to press, by its `name`, `value` or visible text. @defaultValue the first submit button */
  button?: string;
}

export interface ParsedForm {
  /** Absolute URL the form submits to. */
  action: URL;
  method: "GET" | "POST";
  /** Successful controls (hidden inputs included) in document order; the submit button is not among them. */
  fields: [string, string][];
  /** Submit buttons: name, value and text. */
  buttons: { name: string | undefined; value: string; text: string }[];
  /** The page submits this form by script on load (e.g. `response_mode=form_post`). */
  autoSubmit: boolean;
}

interface StoredCookie {
  name: string;
  value: string;
  path: string;
  /** Epoch milliseconds; undefined for a session cookie. */
  expiresAt: number | undefined;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export class TestBrowser {
  /** Cookies by origin host (`127.0.0.1:3000`), then by `name;path`. */
  readonly #jar = new Map<string, Map<string, StoredCookie>>();

  /** Open `url` with GET and follow redirects like a browser. */
  navigate(url: string | URL, options: NavigateOptions = {}): Promise<BrowserResponse> {
    return this.#follow(new URL(url), { method: "GET", body: undefined }, options);
  }

  /** The forms of a page, parsed. */
  forms(page: BrowserResponse): ParsedForm[] {
    const root = parse(page.body);
    const autoSubmitScript = /\.submit\s*\(/.test(page.body);
    return root.querySelectorAll("form").map((form) => parseForm(form, page.url, autoSubmitScript || form.getAttribute("onload") !== undefined));
  }

  /**
   * Fill in a form of `page` (its hidden inputs included), press its button and
   * follow redirects. `stopAt` is also asked about the form's action: a match
   * returns `{ stopped: true, url: action, submitted: fields }` without sending
   * (how a test reads a `response_mode=form_post` response).
   */
  submitForm(page: BrowserResponse, options: SubmitOptions = {}): Promise<BrowserResponse> {
    const forms = this.forms(page);
    const index = options.formIndex ?? 0;
    const form = forms[index];
    if (!form) throw new Error(`no form #${index} on ${page.url.href} (the page has ${forms.length}): ${page.body.slice(0, 300)}`);

    const values = new URLSearchParams();
    const overrides = new Map(Object.entries(options.fields ?? {}));
    for (const [name, value] of form.fields) {
      if (overrides.has(name)) {
        values.append(name, overrides.get(name) as string);
        overrides.delete(name);
      } else {
        values.append(name, value);
      }
    }
    for (const [name, value] of overrides) values.append(name, value);

    const button =
      options.button === undefined
        ? form.buttons[0]
        : form.buttons.find((b) => b.name === options.button || b.value === options.button || b.text === options.button);
    if (options.button !== undefined && !button) {
      throw new Error(`no button "${options.button}" in form #${index} on ${page.url.href}; buttons: ${form.buttons.map((b) => b.text || b.value).join(", ")}`);
    }
    if (button?.name) values.append(button.name, button.value);

    if (options.stopAt?.(form.action)) {
      const url = new URL(form.action);
      if (form.method === "GET") url.search = values.toString();
      return Promise.resolve({ url, status: 0, headers: new Headers(), body: values.toString(), stopped: true, chain: [url], submitted: values });
    }

    const headers = { ...options.headers };
    if (form.method === "GET") {
      const target = new URL(form.action);
      target.search = values.toString();
      return this.#follow(target, { method: "GET", body: undefined }, { ...options, headers });
    }
    // A browser names the origin of the page that posts a form.
    headers["origin"] ??= page.url.origin;
    headers["content-type"] = "application/x-www-form-urlencoded";
    return this.#follow(form.action, { method: "POST", body: values.toString() }, { ...options, headers });
  }

  /** The `href`s of the page's links, made absolute against the page URL. */
  links(page: BrowserResponse): string[] {
    return parse(page.body)
      .querySelectorAll("a[href]")
      .map((a) => new URL(a.getAttribute("href") as string, page.url).href);
  }

  /**
   * One request with this browser's cookies, no redirect following (for a
   * test that needs a method or body `navigate` does not send).
   */
  async fetch(url: string | URL, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Response> {
    const target = new URL(url);
    const headers = new Headers(init.headers);
    const cookie = this.cookieHeader(target);
    if (cookie && !headers.has("cookie")) headers.set("cookie", cookie);
    const response = await fetch(target, { method: init.method ?? "GET", headers, body: init.body, redirect: "manual" });
    this.#storeCookies(target, response.headers.getSetCookie());
    return response;
  }

  /** Cookies this browser would send to `url`, as name → value. */
  cookies(url: string | URL): Record<string, string> {
    return Object.fromEntries(this.#matchingCookies(new URL(url)).map((c) => [c.name, c.value]));
  }

  /** The `Cookie` header for `url`, or undefined when there is none. */
  cookieHeader(url: URL): string | undefined {
    const cookies = this.#matchingCookies(url);
    return cookies.length ? cookies.map((c) => `${c.name}=${c.value}`).join("; ") : undefined;
  }

  /** Set a cookie by hand (e.g. to simulate one planted by an attacker). */
  setCookie(url: string | URL, setCookieHeader: string): void {
    this.#storeCookies(new URL(url), [setCookieHeader]);
  }

  /** Forget every cookie (or only those of one origin). */
  clearCookies(url?: string | URL): void {
    if (url === undefined) this.#jar.clear();
    else this.#jar.delete(new URL(url).host);
  }

  async #follow(start: URL, request: { method: string; body: string | undefined }, options: NavigateOptions): Promise<BrowserResponse> {
    const maxRedirects = options.maxRedirects ?? 20;
    const chain: URL[] = [];
    let url = start;
    let { method, body } = request;
    const accept = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };
    // The caller's headers go with the first request only, as a browser's
    // would; a 307/308 re-sends the body, so its content-type goes along.
    let headers: Record<string, string> = { ...accept, ...options.headers };

    for (let redirects = 0; ; redirects += 1) {
      chain.push(url);
      const response = await this.fetch(url, { method, headers, body });
      const location = response.headers.get("location");
      if (!REDIRECT_STATUSES.has(response.status) || location === null) {
        return { url, status: response.status, headers: response.headers, body: await response.text(), stopped: false, chain };
      }
      await response.body?.cancel();
      const next = new URL(location, url);
      if (options.stopAt?.(next)) {
        return { url: next, status: response.status, headers: response.headers, body: "", stopped: true, chain: [...chain, next] };
      }
      if (redirects >= maxRedirects) throw new Error(`more than ${maxRedirects} redirects, last to ${next.href}`);
      // Fetch spec: 303 always becomes GET, 301/302 turn POST into GET; 307/308 keep method and body.
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === "POST")) {
        method = "GET";
        body = undefined;
      }
      const contentType = headers["content-type"];
      headers = body !== undefined && contentType !== undefined ? { ...accept, "content-type": contentType } : { ...accept };
      url = next;
    }
  }

  #matchingCookies(url: URL): StoredCookie[] {
    const cookies = this.#jar.get(url.host);
    if (!cookies) return [];
    const now = Date.now();
    const matching: StoredCookie[] = [];
    for (const [key, cookie] of cookies) {
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= now) {
        cookies.delete(key);
      } else if (pathMatches(url.pathname, cookie.path)) {
        matching.push(cookie);
      }
    }
    // RFC 6265 §5.4: longer paths first.
    return matching.sort((a, b) => b.path.length - a.path.length);
  }

  #storeCookies(url: URL, setCookieHeaders: string[]): void {
    for (const header of setCookieHeaders) {
      const cookie = parseSetCookie(header, url);
      if (!cookie) continue;
      let cookies = this.#jar.get(url.host);
      if (!cookies) {
        cookies = new Map();
        this.#jar.set(url.host, cookies);
      }
      const key = `${cookie.name};${cookie.path}`;
      if (cookie.expiresAt !== undefined && cookie.expiresAt <= Date.now()) cookies.delete(key);
      else cookies.set(key, cookie);
    }
  }
}

function parseForm(form: HTMLElement, pageUrl: URL, autoSubmit: boolean): ParsedForm {
  const action = new URL(form.getAttribute("action") || pageUrl.href, pageUrl);
  const method = (form.getAttribute("method") ?? "get").toUpperCase() === "POST" ? "POST" : "GET";
  const fields: [string, string][] = [];
  const buttons: ParsedForm["buttons"] = [];

  for (const control of form.querySelectorAll("input, select, textarea, button")) {
    if (control.hasAttribute("disabled")) continue;
    const tag = control.tagName.toLowerCase();
    const name = control.getAttribute("name");
    const type = (control.getAttribute("type") ?? (tag === "button" ? "submit" : "text")).toLowerCase();

    if ((tag === "button" || tag === "input") && (type === "submit" || type === "image")) {
      buttons.push({ name, value: control.getAttribute("value") ?? "", text: control.textContent.trim() || (control.getAttribute("value") ?? "") });
      continue;
    }
    if (name === undefined || tag === "button" || type === "reset" || type === "button" || type === "file") continue;
    if (tag === "select") {
      const options = control.querySelectorAll("option");
      const selected = options.filter((o) => o.hasAttribute("selected"));
      const chosen = control.hasAttribute("multiple") ? selected : [selected[0] ?? options[0]];
      for (const option of chosen) {
        if (option) fields.push([name, option.getAttribute("value") ?? option.textContent.trim()]);
      }
    } else if (tag === "textarea") {
      fields.push([name, control.textContent]);
    } else if (type === "checkbox" || type === "radio") {
      if (control.hasAttribute("checked")) fields.push([name, control.getAttribute("value") ?? "on"]);
    } else {
      fields.push([name, control.getAttribute("value") ?? ""]);
    }
  }
  return { action, method, fields, buttons, autoSubmit };
}

/** RFC 6265 §5.2, host-only cookies (Domain is ignored: every server here is 127.0.0.1). */
function parseSetCookie(header: string, url: URL): StoredCookie | undefined {
  const [pair = "", ...attributes] = header.split(";");
  const eq = pair.indexOf("=");
  if (eq <= 0) return undefined;
  const cookie: StoredCookie = {
    name: pair.slice(0, eq).trim(),
    value: pair.slice(eq + 1).trim(),
    path: defaultPath(url),
    expiresAt: undefined,
  };
  let maxAgeSeen = false;
  for (const attribute of attributes) {
    const [rawKey = "", ...rest] = attribute.split("=");
    const key = rawKey.trim().toLowerCase();
    const value = rest.join("=").trim();
    if (key === "path" && value.startsWith("/")) cookie.path = value;
    else if (key === "max-age" && /^-?\d+$/.test(value)) {
      // Max-Age wins over Expires (§5.3 step 3).
      maxAgeSeen = true;
      cookie.expiresAt = Date.now() + Number(value) * 1000;
    } else if (key === "expires" && !maxAgeSeen) {
      const time = Date.parse(value);
      if (!Number.isNaN(time)) cookie.expiresAt = time;
    }
  }
  return cookie;
}

/** RFC 6265 §5.1.4: the directory of the request path. */
function defaultPath(url: URL): string {
  const path = url.pathname;
  if (!path.startsWith("/") || path.lastIndexOf("/") === 0) return "/";
  return path.slice(0, path.lastIndexOf("/"));
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}
