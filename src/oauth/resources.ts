/**
 * Protected resources (RFC 8707 resource indicators, RFC 9728 metadata): the
 * URIs access tokens may be issued for. The broker's proxy is one of them.
 */

/** The proxy's resource URI: a token issued for it is accepted by the proxy and by nothing else of the broker. */
export function proxyResourceUri(issuer: string): string {
  return `${issuer}/v1/proxy`;
}
