/**
 * Where a broker page's form may lead when its POST starts a connect flow
 * (the device page's decision, the on-demand page's Connect): CSP
 * `form-action` also governs the redirects after a submission, so the
 * page must allow the sign-in page of the connector — any https host (an
 * OIDC connector's authorization endpoint is only known from its
 * discovery), or a plain-http connector's own origin (development and
 * tests; `http:` for a per-server one, whose host the user types).
 */
import type { Services } from "../services.js";

export function signInFormActions(services: Pick<Services, "connectors">, connectors: { id: string }[]): string[] {
  const sources = new Set<string>(["https:"]);
  for (const { id } of connectors) {
    const connector = services.connectors.get(id);
    for (const value of Object.values(connector?.auth ?? {})) {
      if (typeof value !== "string" || !value.startsWith("http:")) continue;
      sources.add(value.includes("{hostname}") ? "http:" : new URL(value).origin);
    }
  }
  return [...sources];
}
