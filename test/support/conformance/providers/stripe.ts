/**
 * A fake Stripe (https://docs.stripe.com/api/authentication,
 * https://docs.stripe.com/api/accounts/retrieve): API keys (`sk_test_…`,
 * `rk_live_…`) as `Authorization: Bearer`, no OAuth. `GET /v1/account` answers
 * the key's account (`id: acct_…`, `email`, `business_profile.name`,
 * `settings.dashboard.display_name`); a wrong key is 401
 * `{ error: { type: "invalid_request_error", message } }`. The API is under `/v1/`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface StripeAccount extends FakeUser {
  /** `acct_…` */
  id: string;
  email: string;
  displayName: string;
}

export const stripeAccount = (n = 1): StripeAccount => ({ id: `acct_1Nv0FGQ9RKHgCVd${n}`, email: `billing${n}@acme.example`, displayName: `Acme ${n}` });

export function stripeProfile(): FakeProviderProfile {
  return {
    name: "Stripe",
    // Stripe has no OAuth for API keys: these paths are never used.
    paths: { authorize: "/unused/authorize", token: "/unused/token" },
    client: { id: "unused", secret: "unused" },
    clientAuth: "client_secret_basic",
    tokenResponse: () => ({}),
    resources: {
      "GET /v1/account": (user) => {
        const a = user as StripeAccount;
        return {
          body: {
            id: a.id,
            object: "account",
            email: a.email,
            business_profile: { name: a.displayName },
            settings: { dashboard: { display_name: a.displayName, timezone: "Etc/UTC" } },
          },
        };
      },
    },
    unauthorized: () => ({
      status: 401,
      body: { error: { type: "invalid_request_error", message: "Invalid API Key provided: sk_test_****" } },
    }),
    apiPrefixes: ["/v1/customers", "/v1/charges", "/v1/payment_intents"],
  };
}
