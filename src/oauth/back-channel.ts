/**
 * What the back-channel endpoints (token, introspection, revocation, device
 * authorization, userinfo) share: their answers are never cached (RFC 6749
 * §5.1, RFC 7662 §2.2, OIDC Core §5.3.2).
 */
import type { ServerResponse } from "node:http";

/** RFC 6749 §5.1: token responses, and errors, are never cached. */
export function forbidCaching(res: ServerResponse): void {
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Pragma", "no-cache");
}
