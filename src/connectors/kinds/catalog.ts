/**
 * The auth kinds of the connector file format, in one list. Adding a kind is
 * its modules (a descriptor in descriptors/, its capabilities beside it) and
 * one line here: the file schema, the credential store, the picker and the
 * registry of implementations (index.ts) all read this list.
 */
import type { ConnectorFile } from "../schema.js";
import type { AuthKindDescriptor, BrokerCredentialNeeds } from "./descriptor.js";
import { apiKey } from "./descriptors/api-key.js";
import { basic } from "./descriptors/basic.js";
import { clientCredentials } from "./descriptors/client-credentials.js";
import { jwtBearer } from "./descriptors/jwt-bearer.js";
import { oauth2 } from "./descriptors/oauth2.js";
import { oidc } from "./descriptors/oidc.js";
import { passwordGrant } from "./descriptors/password-grant.js";

/** In the order the file format lists them ("must be one of …"). */
export const AUTH_KINDS = [oauth2, oidc, jwtBearer, clientCredentials, basic, apiKey, passwordGrant] as const;

export type AuthKindName = (typeof AUTH_KINDS)[number]["name"];

const BY_NAME: ReadonlyMap<string, AuthKindDescriptor> = new Map(AUTH_KINDS.map((kind) => [kind.name, kind as AuthKindDescriptor]));

/** The descriptor of a connector's kind; the schema admits no other kind, so a miss is a programming mistake. */
export function authKindOf(connector: { auth: { kind: string } }): AuthKindDescriptor {
  const kind = BY_NAME.get(connector.auth.kind);
  if (!kind) throw new TypeError(`unknown auth kind "${connector.auth.kind}"`);
  return kind;
}

/** What the broker must hold of its own at the connector's upstream; undefined when its end users bring their own credentials. */
export function brokerCredentialNeeds(connector: Pick<ConnectorFile, "auth">): BrokerCredentialNeeds | undefined {
  return authKindOf(connector).brokerCredentials?.(connector.auth);
}

/** Whether the broker needs its own client credentials at the connector's upstream. */
export function usesClientCredentials(connector: Pick<ConnectorFile, "auth">): boolean {
  return authKindOf(connector).brokerCredentials !== undefined;
}
