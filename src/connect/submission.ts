/**
 * Handling a connect page's submission, the same way for every page:
 * guard (pending connect, cookie, origin, CSRF), Cancel, take the pending
 * connect once (a double submission connects once), run the page's step,
 * and answer 303 — to the next page or the upstream, or with the app's
 * response once the account is connected. A problem the end user can fix
 * (a refused key, an unknown host, an upstream that did not answer) puts
 * the pending connect back with the problem and shows the form again;
 * anything else ends the connect with an error for the app.
 */
import type { Request, Response } from "express";
import { FormValuesRejected } from "../connectors/errors.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { BrokerError, OAuthError, ServerError } from "../errors.js";
import { toBrokerError } from "../http/error-handler.js";
import { setPageSecurityHeaders } from "../http/html.js";
import { finishAuthorization, refuseAuthorization } from "../oauth/authorization-response.js";
import type { Services } from "../services.js";
import { cancelConnect, cancelled, pageForStep, pendingForRequest } from "./form-page.js";
import { clearPendingCookie, putBackPending, takePending, type PendingConnect, type PendingStep } from "./pending.js";
import { pageUrl, type ConnectOutcome } from "./steps.js";

/** Upstream failures worth another try from the same form. */
function isTransient(error: BrokerError): boolean {
  return error.status === 502 || error.status === 503 || error.status === 504;
}

export interface SubmissionStep {
  /** The page this submission belongs to. */
  step: PendingStep;
  /** Names of the fields whose typed values may be shown again after a problem (never a secret one). */
  echoFields(connector: ConnectorConfig): string[];
  /** Runs the step; FormValuesRejected shows the problem on the form. */
  run(pending: PendingConnect, connector: ConnectorConfig): Promise<ConnectOutcome>;
}

export async function handleSubmission(services: Services, req: Request, res: Response, step: SubmissionStep): Promise<void> {
  const found = await pendingForRequest(services, req, res);
  if (!found) return;
  const { pending } = found;
  if (cancelled(req)) return cancelConnect(services, req, res, pending);
  setPageSecurityHeaders(res);
  if (pending.step !== step.step) {
    res.redirect(303, pageUrl(pageForStep(pending.step), pending.id));
    return;
  }
  // Single use: of two submissions racing, one goes on and the other finds the connect gone.
  if (!(await takePending(services.redis, pending.id))) {
    res.redirect(303, pageUrl(pageForStep(pending.step), pending.id));
    return;
  }
  const connector = services.connectors.get(pending.authorization.connectorId);
  try {
    if (!connector) throw new ServerError(`connector "${pending.authorization.connectorId}" is no longer configured`);
    const outcome = await step.run(pending, connector);
    if (outcome.kind === "redirect") {
      if (!outcome.keepsPending) clearPendingCookie(res, pending.id);
      res.redirect(303, outcome.url);
      return;
    }
    clearPendingCookie(res, pending.id);
    await finishAuthorization(services, req, res, pending.authorization, outcome.accountId);
  } catch (err) {
    const error = toBrokerError(err);
    if (connector && (error instanceof FormValuesRejected || isTransient(error))) {
      const message = error instanceof FormValuesRejected ? error.description : `${connector.name} could not be reached just now. Try again in a moment.`;
      req.log.info({ connectorId: connector.id, err: error }, "connect form problem");
      const body = (req.body ?? {}) as Record<string, unknown>;
      const values = Object.fromEntries(
        step.echoFields(connector).flatMap((name) => (typeof body[name] === "string" ? [[name, (body[name] as string).slice(0, 300)]] : [])),
      );
      await putBackPending(services.redis, services.keyring, {
        ...pending,
        problem: { message, field: error instanceof FormValuesRejected ? error.field : undefined },
        values,
      });
      res.redirect(303, pageUrl(pageForStep(step.step), pending.id));
      return;
    }
    clearPendingCookie(res, pending.id);
    const oauth = error instanceof OAuthError && error.redirectable ? error : undefined;
    if (!oauth) req.log.error({ err, connectorId: pending.authorization.connectorId }, "connect failed");
    else req.log.info({ err: oauth, connectorId: pending.authorization.connectorId }, "connect refused");
    const code = oauth?.code ?? (error.status === 503 ? "temporarily_unavailable" : "server_error");
    const description = oauth?.description ?? (error.expose ? error.description : "the account could not be connected");
    await refuseAuthorization(services, req, res, pending.authorization, { code, description });
  }
}
