/**
 * HTTP requests as a misbehaving client writes them, for the rate-limit,
 * fuzz and fault tests: any method, header and body bytes; the path sent as
 * written (latin-1 bytes included, so invalid UTF-8 reaches the server); a
 * chosen source address on 127.0.0.0/8 (Linux answers on all of it), so one
 * test can be several clients; and a deadline, so a hung server fails the
 * test instead of stalling it.
 */
import { Agent, request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";

export interface SentRequest {
  method?: string;
  /** Sent as written: not normalised, not re-encoded. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
  /** Source address, such as 127.0.0.2. */
  localAddress?: string;
  /** A keep-alive agent to reuse connections; default: a connection of its own. */
  agent?: Agent;
  /** @defaultValue 10 000 ms */
  timeoutMs?: number;
}

export interface ReceivedResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json<T = Record<string, unknown>>(): T | undefined;
  elapsedMs: number;
}

export function send(baseUrl: string, input: SentRequest): Promise<ReceivedResponse> {
  const { hostname, port } = new URL(baseUrl);
  const started = performance.now();
  const timeoutMs = input.timeoutMs ?? 10_000;
  // Node sends a GET, DELETE or OPTIONS body without a length (the server would read it as the next request): say it.
  const headers = { ...input.headers };
  const named = Object.keys(headers).map((h) => h.toLowerCase());
  if (input.body !== undefined && !named.includes("content-length") && !named.includes("transfer-encoding"))
    headers["content-length"] = String(Buffer.byteLength(input.body));
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port, method: input.method ?? "GET", path: input.path, headers, agent: input.agent ?? false, localAddress: input.localAddress },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          const body = Buffer.concat(chunks);
          const text = body.toString("utf8");
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body,
            text,
            json: <T>() => {
              try {
                return JSON.parse(text) as T;
              } catch {
                return undefined;
              }
            },
            elapsedMs: performance.now() - started,
          });
        });
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer to ${input.method ?? "GET"} ${input.path.slice(0, 80)} within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(input.body);
  });
}

/** `application/x-www-form-urlencoded` headers and body. */
export function form(params: Record<string, string>, headers: OutgoingHttpHeaders = {}): Pick<SentRequest, "headers" | "body" | "method"> {
  return { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: new URLSearchParams(params).toString() };
}

export function basic(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString("base64")}`;
}
