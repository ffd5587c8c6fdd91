/** What the oidc-provider reference server and its driver share: the client, the resource, the IPC messages. */
export const OP_CLIENT_ID = "bench-client";
export const OP_CLIENT_SECRET = `bench-secret-${"0123456789abcdef".repeat(2)}`;
export const OP_RESOURCE = "urn:bench:api";
export const OP_SCOPE = "api:read";

export type OidcProviderMessage = { type: "ready"; port: number } | { type: "refresh-tokens"; tokens: string[] } | { type: "access-token"; token: string };

export type OidcProviderCommand = { type: "mint-refresh"; count: number } | { type: "mint-access" };
