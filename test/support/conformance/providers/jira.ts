/**
 * A fake Jira Cloud site for API tokens (https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/,
 * https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/):
 * HTTP Basic with the account's email and an API token, no OAuth.
 * `GET /rest/api/3/myself` → `accountId`, `emailAddress`, `displayName`; wrong
 * credentials are 401 `{ errorMessages: ["…"] }`. The API is under `/rest/api/3/`.
 * A test registers `email:token` with `addStaticToken`.
 */
import type { FakeProviderProfile, FakeUser } from "../fake-provider.js";

export interface JiraUser extends FakeUser {
  /** The Atlassian account id. */
  id: string;
  email: string;
  displayName: string;
}

export const jiraUser = (n = 1): JiraUser => ({
  id: `712020:0e1c2f3a-4b5c-6d7e-8f90-a1b2c3d4e5f${n}`,
  email: `jira${n}@acme.example`,
  displayName: `Jira User ${n}`,
});

export function jiraProfile(): FakeProviderProfile {
  return {
    name: "Jira Cloud",
    // API tokens need no OAuth: these paths are never used.
    paths: { authorize: "/unused/authorize", token: "/unused/token" },
    client: { id: "unused", secret: "unused" },
    clientAuth: "client_secret_basic",
    tokenResponse: () => ({}),
    // The credential is `email:token` from the Basic header.
    accessTokenOf: (request) => {
      const header = request.headers.authorization ?? "";
      return header.startsWith("Basic ") ? Buffer.from(header.slice(6), "base64").toString("utf8") : undefined;
    },
    resources: {
      "GET /rest/api/3/myself": (user) => {
        const u = user as JiraUser;
        return { body: { accountId: u.id, accountType: "atlassian", emailAddress: u.email, displayName: u.displayName, active: true } };
      },
    },
    unauthorized: () => ({ status: 401, body: { errorMessages: ["You are not authenticated. Authentication required to perform this operation."] } }),
    apiPrefixes: ["/rest/api/3/"],
  };
}
