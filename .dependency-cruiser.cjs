/**
 * The layers of src/, checked by `npm test` (npm run check:layers). Each
 * layer may import its own and the ones below, never one above, and no
 * import cycle is allowed anywhere. docs/architecture.md draws them:
 *
 *   6  main.ts, cli/                    the roles and the operator's command
 *   5  routes.ts, compose.ts, worker/   the route table; building a broker's parts; the background worker
 *   4  connect/ proxy/ api/ admin/ health.ts front-page.ts   the broker's parts at its edges
 *   3  oauth/                           the authorization server
 *   2  accounts/ revocation/            accounts and their vault; revoking broker grants
 *   1  connectors/ apps/ jobs/ http/    the connector engine; the app registry; queue producers; generic HTTP
 *   0  errors log config db redis lock metrics metric-series maybe-promise audit preflight paths crypto/ net/   foundations
 *
 * services.ts is the type of the bag of long-lived parts every layer is
 * handed: any layer may import it (it is a type only); compose.ts builds it.
 * Type-only imports are not layer dependencies (nothing runs): they let a
 * lower layer name what a higher one passes it.
 */
const LAYERS = [
  ["^src/(errors|log|config|db|redis|lock|metrics|metric-series|maybe-promise|audit|preflight|paths)\\.ts$", "^src/(crypto|net|generated)/"],
  ["^src/(connectors|apps|jobs|http)/"],
  ["^src/(accounts|revocation)/"],
  ["^src/oauth/"],
  ["^src/(connect|proxy|api|admin)/", "^src/(health|front-page)\\.ts$"],
  ["^src/(routes|compose)\\.ts$", "^src/worker/"],
  ["^src/main\\.ts$", "^src/cli/"],
];

const path = (patterns) => patterns.join("|");
const above = (level) => path(LAYERS.slice(level + 1).flat());

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment:
        "An import cycle makes a module's load order (and its meaning) depend on who is imported first. Type-only imports load nothing, and a kind's implementation is imported lazily, when first used: neither makes one.",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only", "dynamic-import"] } },
    },
    ...LAYERS.slice(0, -1).map((patterns, level) => ({
      name: `layer-${level}-imports-upward`,
      severity: "error",
      comment: `Layer ${level} (${patterns.join(", ")}) imports a higher layer: move the shared piece down, or pass it in.`,
      from: { path: path(patterns) },
      to: { path: above(level), dependencyTypesNot: ["type-only"] },
    })),
    {
      name: "http-knows-no-feature",
      severity: "error",
      comment: "src/http/ is generic: features give it handlers, authenticators and rate-limit classes through the route table, never the other way.",
      from: { path: "^src/http/" },
      to: {
        path: "^src/((connectors|apps|jobs|accounts|revocation|oauth|connect|proxy|api|admin|worker|cli)/|(routes|main|services|paths|health|front-page)\\.ts$)",
      },
    },
    {
      name: "edges-apart",
      severity: "error",
      comment: "The parts at the edge (connect, proxy, api, admin) do not import each other: what two of them share belongs in a layer below.",
      from: { path: "^src/(connect|proxy|api|admin)/" },
      to: { path: "^src/(connect|proxy|api|admin)/", pathNot: "^src/$1/" },
    },
    {
      name: "resource-server-standalone",
      severity: "error",
      comment:
        "src/resource-server/ is for resource servers outside the broker (an MCP server): it imports nothing of the broker, so it runs without the broker's database, Redis or configuration.",
      from: { path: "^src/resource-server/" },
      to: { path: "^src/", pathNot: "^src/resource-server/" },
    },
    {
      name: "services-is-a-type",
      severity: "error",
      comment: "services.ts is the type every layer is handed; building it (compose.ts) is the roles' business.",
      from: { path: "^src/services\\.ts$" },
      to: { dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^src/generated/" },
    includeOnly: "^src/",
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".js"] },
  },
};
