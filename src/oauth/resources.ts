/**
 * Protected resources (RFC 8707 resource indicators, RFC 9728 metadata): the
 * URIs access tokens may be issued for. The broker's proxy is one of them.
 */
import type { Db } from "../db.js";
import type { Resource } from "../generated/prisma/client.js";

/** The proxy's resource URI: a token issued for it is accepted by the proxy and by nothing else of the broker. */
export function proxyResourceUri(issuer: string): string {
  return `${issuer}/v1/proxy`;
}

/** The registered resource with this URI, if any. */
export function findResource(db: Pick<Db, "resource">, uri: string): Promise<Resource | null> {
  return db.resource.findUnique({ where: { uri } });
}
