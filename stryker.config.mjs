// Mutation testing of the security-critical modules (docs/security.md, "Mutation testing").
// One Stryker run per module group, each against only its related test files, so a
// run fits a 2-core machine: `npm run test:mutation` (scripts/mutation.js) runs them
// in turn; MUTATION_GROUP=<name> picks the group for one run of this config.
//
// Runner: the tap runner. The tests are node:test files loaded through tsx (strict ESM);
// node:test prints TAP when its output is a pipe, and the tap runner starts one node
// process per test file with Stryker's hook preloaded, which also gives coverage per
// file: a mutant runs only the files that reach it.

/** Group name → the modules mutated and the test files that exercise them. */
export const groups = {
  log: { mutate: ["src/log.ts"], tests: ["test/unit/log/redaction.test.ts"] },
  "address-policy": {
    mutate: ["src/net/address-policy.ts", "src/net/cidr-list.ts"],
    tests: ["test/unit/net/address-policy.test.ts", "test/unit/config/config.test.ts"],
  },
  keyring: { mutate: ["src/crypto/keyring.ts"], tests: ["test/unit/crypto/keyring.test.ts"] },
  "accounts-api": { mutate: ["src/api/accounts.ts"], tests: ["test/integration/api/accounts-api.test.ts"] },
  "proxy-caller": { mutate: ["src/proxy/caller.ts"], tests: ["test/integration/proxy/auth.test.ts"] },
  "token-verification": {
    // verifyAccessToken and its cache (the lines from verifyAccessToken to the end): the answer given without a
    // promise for a token verified lately must still check its audience, expiry, key and revocation.
    mutate: ["src/oauth/tokens.ts:272-395"],
    tests: [
      "test/integration/oauth/token-verification-cache.test.ts",
      "test/unit/oauth/tokens.test.ts",
      "test/integration/resource-server/resource-server.test.ts",
      "test/integration/proxy/auth.test.ts",
    ],
  },
  "client-auth": {
    mutate: ["src/oauth/client-auth.ts"],
    // client-auth: the module called directly (every refusal's exact answer, secret rotation, claimedClientId).
    tests: [
      "test/integration/oauth/client-auth.test.ts",
      "test/integration/oauth/token-endpoint.test.ts",
      "test/integration/oauth/private-key-jwt.test.ts",
      "test/integration/oauth/introspect-revoke.test.ts",
    ],
  },
  "client-checks": {
    mutate: ["src/apps/clients.ts", "src/oauth/authorization-request.ts"],
    // The modules called directly (every refusal's exact answer; apps registered and changed against the real database), then the endpoints.
    tests: [
      "test/unit/oauth/authorization-request.test.ts",
      "test/unit/apps/clients.test.ts",
      "test/integration/apps/client-registration.test.ts",
      "test/integration/apps/client-lookups.test.ts",
      "test/integration/oauth/unified-flow.test.ts",
      "test/integration/oauth/response-types.test.ts",
    ],
  },
  "authorization-response": {
    mutate: ["src/oauth/authorization-response.ts", "src/oauth/response-modes.ts"],
    // The device flow ends in finishAuthorization and refuseAuthorization too (approve or deny the device code);
    // web-message: the web_message response mode; token-exchange-delegation: a connect on demand, which ends there as well;
    // resource-indicators: the resource of a front-channel token's grant; app-deleted-mid-authorization: the fallbacks of a race.
    tests: [
      "test/integration/oauth/response-types.test.ts",
      "test/integration/oauth/app-deleted-mid-authorization.test.ts",
      "test/integration/oauth/unified-flow.test.ts",
      "test/integration/oauth/device-flow.test.ts",
      "test/integration/oauth/web-message.test.ts",
      "test/integration/oauth/token-exchange-delegation.test.ts",
      "test/integration/oauth/resource-indicators.test.ts",
    ],
  },
  connect: {
    mutate: ["src/connect/callback.ts", "src/connect/csrf.ts"],
    // per-server: the callbacks of per-server connectors (with a host) and the shared callback of earlier versions;
    // callback-faults: Redis, PostgreSQL or the connector gone when the upstream sends the end user back.
    tests: [
      "test/integration/oauth/unified-flow.test.ts",
      "test/integration/connect/forms.test.ts",
      "test/integration/connect/per-server.test.ts",
      "test/integration/connect/callback-faults.test.ts",
      "test/unit/connect/inputs.test.ts",
    ],
  },
  // The grants, one group each (all of src/oauth/grants/ at once is too big for one run on 2 cores).
  // resource-indicators: the resource a code, a refresh token or client_credentials is for (RFC 8707).
  "grants-authorization-code": {
    mutate: ["src/oauth/grants/authorization-code.ts"],
    // authorization-code-grant also holds the concurrent redemption of one code (a real overlap on the row lock).
    tests: ["test/integration/oauth/authorization-code-grant.test.ts", "test/integration/oauth/resource-indicators.test.ts"],
  },
  "grants-refresh-token": {
    mutate: ["src/oauth/grants/refresh-token.ts"],
    tests: ["test/integration/oauth/refresh-token-grant.test.ts", "test/integration/oauth/resource-indicators.test.ts"],
  },
  "grants-token-exchange": {
    mutate: ["src/oauth/grants/token-exchange.ts", "src/oauth/grants/token-exchange-delegation.ts"],
    tests: ["test/integration/oauth/token-exchange.test.ts", "test/integration/oauth/token-exchange-delegation.test.ts"],
  },
  "grants-client-credentials": {
    mutate: ["src/oauth/grants/client-credentials.ts"],
    tests: ["test/integration/oauth/client-credentials-grant.test.ts", "test/integration/oauth/resource-indicators.test.ts"],
  },
  "grants-device-code": { mutate: ["src/oauth/grants/device-code.ts"], tests: ["test/integration/oauth/device-flow.test.ts"] },
  // What the grants share (the account check, the atomic consume-and-record, the tokens) and the list of grants.
  "grants-shared": {
    mutate: ["src/oauth/grants/grant.ts", "src/oauth/grants/index.ts"],
    tests: [
      "test/integration/oauth/authorization-code-grant.test.ts",
      "test/integration/oauth/refresh-token-grant.test.ts",
      "test/integration/oauth/device-flow.test.ts",
      "test/integration/oauth/discovery.test.ts",
      // The resource a grant is recorded with (consumeIntoNewGrant), which its refreshed tokens keep.
      "test/integration/oauth/resource-indicators.test.ts",
    ],
  },
};

const name = process.env.MUTATION_GROUP ?? "log";
const group = groups[name];
if (!group) throw new Error(`MUTATION_GROUP "${name}" is not one of: ${Object.keys(groups).join(", ")}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: "tap",
  tap: {
    testFiles: group.tests,
    // {{hookFile}} is Stryker's coverage and active-mutant hook; tsx loads the TypeScript.
    nodeArgs: ["--require", "{{hookFile}}", "--import", "tsx", "--test-reporter=tap", "--test-timeout=120000"],
    forceBail: true,
  },
  mutate: group.mutate,
  checkers: process.env.MUTATION_TYPECHECK === "0" ? [] : ["typescript"],
  tsconfigFile: "tsconfig.json",
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: "perTest",
  concurrency: 1,
  // Integration tests start a broker and real upstreams: a mutant that hangs one is a timeout (counted as killed).
  timeoutMS: 60_000,
  // The first pass runs every test file of the group once, unmutated: six integration files take ~5 min on a
  // 2-core machine, more under load, past Stryker's default limit of 5 min.
  dryRunTimeoutMinutes: 30,
  reporters: ["clear-text", "json", "progress"],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  // Only what the tests need goes into the sandbox: of docs/, the page the config test checks against src/config.ts.
  ignorePatterns: ["bench", "demo", "/docs/*", "!/docs/operations.md", "dist", "dist.*", "reports", ".authbroker", "test-results"],
};
