/**
 * The connector engine's errors. A bad connector file is a configuration
 * mistake (it stops the process at start, like a bad env var); a connector
 * without upstream app credentials, and an upstream that refuses a grant,
 * are domain errors in the one hierarchy of src/errors.ts.
 */
import { ConfigError } from "../config.js";
import { BrokerError, type BrokerErrorOptions } from "../errors.js";

/**
 * A problem in a connector file. Its message is one line:
 * `connectors/acme.yaml: auth.tokenUrl: must be an https URL`.
 * It is a ConfigError, so the CLI and the start-up path print it as one.
 */
export class ConnectorConfigError extends ConfigError {
  override name = "ConnectorConfigError";
  constructor(
    /** The file, as the operator named it (relative to the working directory when inside it). */
    readonly file: string,
    /** Dotted path of the field (`auth.tokenUrl`, `defaultScopes[1]`); "" for the file as a whole. */
    readonly field: string,
    problem: string,
  ) {
    super(field ? `${file}: ${field}` : file, problem);
  }
}

/**
 * The connector has no upstream app credentials for this app: none in the
 * database and none in its file. The operator fixes it; the app only sees a
 * server error (the description is logged).
 */
export class ConnectorNotConfigured extends BrokerError {
  override name = "ConnectorNotConfigured";
  constructor(
    readonly connectorId: string,
    description: string,
    options?: BrokerErrorOptions,
  ) {
    super(500, "connector_not_configured", description, options);
  }
}

/**
 * A per-server connector has no credentials the broker may send to this
 * server: none registered for it, and the connector-wide ones are not shared
 * with it (`hostname.sharedCredentialHosts`). The connect pages refuse such a
 * server before any request leaves the broker; this is the operator's error
 * for an account whose server registration was removed since.
 */
export class ServerNotRegistered extends ConnectorNotConfigured {
  override name = "ServerNotRegistered";
  constructor(
    connector: { id: string; name: string },
    readonly hostname: string,
    options?: BrokerErrorOptions,
  ) {
    super(
      connector.id,
      `${connector.name} on ${hostname} is not registered with this broker: run \`authbroker credentials set ${connector.id} --hostname ${hostname} --client-id … --client-secret-stdin\``,
      options,
    );
  }
}

/**
 * The upstream refused a code or a refresh token (`invalid_grant`, RFC 6749
 * §5.2): retrying will not help, the end user must connect again. The
 * refresh path marks the account `needs_reauth` on this error (and stops
 * retrying); `code` is `invalid_grant` so callers may test either.
 */
export class UpstreamInvalidGrant extends BrokerError {
  override name = "UpstreamInvalidGrant";
  constructor(description: string, options?: BrokerErrorOptions) {
    super(400, "invalid_grant", description, options);
  }
}

/**
 * What the end user typed on a connect page was refused — by the upstream
 * (a wrong API key or password) or by the form's own checks. Shown on the
 * form, next to `field` when it names one; nothing is stored. The
 * description never repeats a typed secret.
 */
export class FormValuesRejected extends BrokerError {
  override name = "FormValuesRejected";
  constructor(
    description: string,
    /** The form field the problem is about; absent: the form as a whole. */
    readonly field?: string,
    options?: BrokerErrorOptions,
  ) {
    super(400, "invalid_credentials", description, options);
  }
}
