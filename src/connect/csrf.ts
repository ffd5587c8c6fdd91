/**
 * CSRF tokens of the connect forms, bound to the connect's browser cookie:
 * the token is an HMAC of the pending connect's id under the cookie's
 * random value. A page of another site cannot read the cookie (httpOnly)
 * nor the form (same-origin policy), so it cannot produce a token that
 * matches; and a token copied from one browser is useless with another's
 * cookie. Nothing needs to be stored: the cookie is the key.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

const PURPOSE = "authbroker connect form v1";

/** The token a connect form carries, for the browser holding `binding`. */
export function csrfTokenFor(binding: string, pendingId: string): string {
  return createHmac("sha256", binding).update(`${PURPOSE}\n${pendingId}`).digest("base64url");
}

/** Whether a submitted token is the one for this browser's cookie and this connect (constant time). */
export function csrfTokenMatches(binding: string, pendingId: string, presented: unknown): boolean {
  if (typeof presented !== "string" || presented === "") return false;
  const expected = Buffer.from(csrfTokenFor(binding, pendingId));
  const given = Buffer.from(presented);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
