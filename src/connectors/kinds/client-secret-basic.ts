/**
 * `client_secret_basic` at an upstream token endpoint (RFC 6749 §2.3.1):
 * the client id and secret, each application/x-www-form-urlencoded, as the
 * user and password of HTTP Basic (RFC 7617).
 *
 * openid-client encodes every character but letters and digits, `-`, `.`,
 * `_` and `~` included. A server that decodes reads the same values either
 * way; many widely deployed servers and libraries compare the header as
 * written, and refused a client id holding a hyphen with `invalid_client`.
 * So by default only what form-urlencoding must encode is encoded
 * (`minimal`): a value made of letters, digits and `-._~!*'()` is sent as it
 * is, which both kinds of server accept. The connector's
 * `auth.clientSecretBasicEncoding` covers servers that need one of the
 * other two: `full` (openid-client's), or `none` (as written, for a
 * non-decoding server and a secret with `+`, `/` or `=`).
 */
import type * as oidc from "openid-client";
import { ConnectorNotConfigured } from "../errors.js";
import type { ClientSecretBasicEncoding } from "../schema-fields.js";

/** application/x-www-form-urlencoded, leaving every character that needs no encoding as it is. */
function minimal(value: string): string {
  return encodeURIComponent(value).replace(/%20/g, "+");
}

/** What openid-client sends: every character but letters and digits encoded. */
function full(value: string): string {
  return minimal(value).replace(/[-_.!~*'()]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const ENCODERS: Record<ClientSecretBasicEncoding, (value: string) => string> = { minimal, full, none: (value) => value };

/** The `Authorization` header value for a client id and secret. */
export function clientSecretBasicHeader(clientId: string, clientSecret: string, encoding: ClientSecretBasicEncoding): string {
  const encode = ENCODERS[encoding];
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`, "utf8").toString("base64")}`;
}

/** An openid-client client authentication sending `client_secret_basic` with the connector's encoding. */
export function ClientSecretBasic(connectorId: string, clientSecret: string | undefined, encoding: ClientSecretBasicEncoding): oidc.ClientAuth {
  return (_as, client, _body, headers) => {
    if (clientSecret === undefined) throw new ConnectorNotConfigured(connectorId, `connector "${connectorId}" has no client secret for client_secret_basic`);
    // RFC 7617 §2: a colon in the user-id would move part of it into the password.
    if (encoding === "none" && client.client_id.includes(":"))
      throw new ConnectorNotConfigured(
        connectorId,
        `connector "${connectorId}": a client id with ":" cannot be sent unencoded in HTTP Basic; use clientSecretBasicEncoding minimal or client_secret_post`,
      );
    headers.set("authorization", clientSecretBasicHeader(client.client_id, clientSecret, encoding));
  };
}
