/**
 * A fake Shopify shop (https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant,
 * https://shopify.dev/docs/api/admin-rest/latest/resources/shop):
 *
 * - `https://{shop}/admin/oauth/authorize` (scopes comma-separated) and
 *   `/admin/oauth/access_token` with client_id, client_secret and code in the body;
 * - an offline token: `{ access_token, scope }` only — no token_type, no
 *   expires_in, no refresh token; it does not expire;
 * - the Admin API reads the token from `X-Shopify-Access-Token` (a Bearer
 *   header is not accepted): `GET /admin/api/<version>/shop.json` →
 *   `{ shop: { id, name, email, domain, myshopify_domain } }`;
 * - a refused token is 401 `{ errors: "[API] Invalid API key or access token (unrecognized login or wrong password)" }`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface ShopifyShop extends FakeUser {
  /** The shop id, a number as text. */
  id: string;
  name: string;
  email: string;
}

export const shopifyShop = (n = 1): ShopifyShop => ({ id: String(548_380_009 + n), name: `Acme Store ${n}`, email: `owner${n}@acme.example` });

export function shopifyProfile(): FakeProviderProfile {
  return {
    name: "Shopify",
    paths: { authorize: "/admin/oauth/authorize", token: "/admin/oauth/access_token" },
    client: { id: "shopifyclientid0123", secret: "shpss_0123456789abcdef" },
    clientAuth: "client_secret_post",
    issueRefreshTokens: false,
    accessTokenLifetimeSeconds: 10 * 365 * 86_400,
    tokenResponse: (issued) => ({ scope: issued.scope }),
    accessTokenOf: (request) => {
      const header = request.headers["x-shopify-access-token"];
      return typeof header === "string" ? header : undefined;
    },
    resources: {
      "GET /admin/api/2025-01/shop.json": (user) => {
        const shop = user as ShopifyShop;
        return { body: { shop: { id: Number(shop.id), name: shop.name, email: shop.email, myshopify_domain: "acme.myshopify.com", plan_name: "basic" } } };
      },
    },
    unauthorized: () => ({ status: 401, body: { errors: "[API] Invalid API key or access token (unrecognized login or wrong password)" } }),
    apiPrefixes: ["/admin/api/2025-01/"],
  };
}
