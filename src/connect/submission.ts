/**
 * Handling a connect page's submission, the same way for every page:
 * guard (connect attempt, cookie, origin, CSRF), take the attempt once (a
 * double submission connects once), Cancel, run the page's step,
 * and answer 303 — to the next page or the upstream, or with the app's
 * response once the account is connected. A problem the end user can fix
 * (a refused key, an unknown host, an upstream that did not answer) puts
 * the attempt back with the problem and shows the form again;
 * anything else ends the connect with an error for the app.
 */
import type { Request, Response } from "express";
import { FormValuesRejected } from "../connectors/errors.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { BrokerError, OAuthError, ServerError } from "../errors.js";
import { toBrokerError } from "../http/error-handler.js";
import { setPageSecurityHeaders } from "../http/html.js";
import { finishInteraction, interactionsOf, refuseInteraction } from "../oauth/interactions.js";
import { CONNECT_START_PATH } from "../paths.js";
import type { Services } from "../services.js";
import { isReady, type ConnectAttempt, type ConnectStep } from "./attempt.js";
import { attemptForRequest, cancelConnect, cancelled } from "./form-page.js";
import { pageForStep, pageUrl, type ConnectOutcome } from "./steps.js";

/** Upstream failures worth another try from the same form. */
function isTransient(error: BrokerError): boolean {
  return error.status === 502 || error.status === 503 || error.status === 504;
}

export interface SubmissionStep {
  /** The page this submission belongs to. */
  step: ConnectStep;
  /** Names of the fields whose typed values may be shown again after a problem (never a secret one). */
  echoFields(connector: ConnectorConfig): string[];
  /** Runs the step on the taken attempt; FormValuesRejected shows the problem on the form. */
  run(attempt: ConnectAttempt, connector: ConnectorConfig): Promise<ConnectOutcome>;
}

export async function handleSubmission(services: Services, req: Request, res: Response, step: SubmissionStep): Promise<void> {
  const found = await attemptForRequest(services, req, res, { take: true });
  if (!found) return;
  const { attempt } = found;
  if (cancelled(req)) return cancelConnect(services, req, res, attempt);
  setPageSecurityHeaders(res);
  const interactions = interactionsOf(services);
  if (!isReady(attempt) || attempt.progress.step !== step.step) {
    // A page of another step (a back button after the hostname was accepted): put it back, show the right one.
    await interactions.save(attempt);
    res.redirect(303, attempt.progress.step ? pageUrl(pageForStep(attempt.progress.step), attempt.id) : pageUrl(CONNECT_START_PATH, attempt.id));
    return;
  }
  const connector = services.connectors.get(attempt.authorization.connectorId);
  try {
    if (!connector) throw new ServerError(`connector "${attempt.authorization.connectorId}" is no longer configured`);
    const outcome = await step.run(attempt, connector);
    if (outcome.kind === "redirect") {
      res.redirect(303, outcome.url);
      return;
    }
    await finishInteraction(services, req, res, attempt, outcome.accountId);
  } catch (err) {
    const error = toBrokerError(err);
    if (connector && (error instanceof FormValuesRejected || isTransient(error))) {
      const message = error instanceof FormValuesRejected ? error.description : `${connector.name} could not be reached just now. Try again in a moment.`;
      req.log.info({ connectorId: connector.id, err: error }, "connect form problem");
      const body = (req.body ?? {}) as Record<string, unknown>;
      const values = Object.fromEntries(
        step.echoFields(connector).flatMap((name) => (typeof body[name] === "string" ? [[name, (body[name] as string).slice(0, 300)]] : [])),
      );
      attempt.progress = { ...attempt.progress, problem: { message, field: error instanceof FormValuesRejected ? error.field : undefined }, values };
      await interactions.save(attempt);
      res.redirect(303, pageUrl(pageForStep(step.step), attempt.id));
      return;
    }
    const oauth = error instanceof OAuthError && error.redirectable ? error : undefined;
    if (!oauth) req.log.error({ err, connectorId: attempt.authorization.connectorId }, "connect failed");
    else req.log.info({ err: oauth, connectorId: attempt.authorization.connectorId }, "connect refused");
    const code = oauth?.code ?? (error.status === 503 ? "temporarily_unavailable" : "server_error");
    const description = oauth?.description ?? (error.expose ? error.description : "the account could not be connected");
    await refuseInteraction(services, req, res, attempt, { code, description });
  }
}
