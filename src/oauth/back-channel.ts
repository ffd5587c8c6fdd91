/**
 * What the back-channel endpoints (introspection, revocation, device
 * authorization) share with the token endpoint: a bounded form body, client
 * authentication by the client's registered method, and responses that are
 * never cached (RFC 6749 §5.1, RFC 7662 §2.2).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Services } from "../services.js";
import { readForm, type FormParameters } from "./body.js";
import { authenticateClient, type AuthenticatedClient } from "./client-auth.js";

/** RFC 6749 §5.1: token responses, and errors, are never cached. */
export function forbidCaching(res: ServerResponse): void {
  res.setHeader("Cache-Control", "no-store");
  res.setHeader("Pragma", "no-cache");
}

/**
 * CORS for endpoints browser apps call directly: any origin, no cookies (the
 * request carries its own credentials), `Authorization` allowed.
 */
export function allowAnyOrigin(res: ServerResponse): void {
  res.setHeader("Access-Control-Allow-Origin", "*");
}

export function answerPreflight(res: ServerResponse, methods: string): void {
  allowAnyOrigin(res);
  res.setHeader("Access-Control-Allow-Methods", methods);
  res.setHeader("Access-Control-Allow-Headers", "Authorization, Content-Type");
  res.setHeader("Access-Control-Max-Age", "600");
  res.statusCode = 204;
  res.end();
}

/** Reads the form and authenticates the client. Throws `InvalidRequest` / `InvalidClient`. */
export async function readAuthenticatedRequest(services: Services, req: IncomingMessage): Promise<{ form: FormParameters } & AuthenticatedClient> {
  const form = await readForm(req);
  const authenticated = await authenticateClient(services, req, form);
  return { form, ...authenticated };
}
