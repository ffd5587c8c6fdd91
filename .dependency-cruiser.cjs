/**
 * The layers of src/, checked by `npm test` (npm run check:layers). Each
 * layer may import its own and the ones below, never one above, and no
 * import cycle is allowed anywhere. docs/architecture.md draws them:
 *
 *   6  main.ts, cli/                    the roles and the operator's command
 *   5  routes.ts, worker/               the route table; the background worker
 *   4  connect/ proxy/ api/ admin/ health.ts   the broker's parts at its edges
 *   3  oauth/                           the authorization server
 *   2  accounts/ revocation/            accounts and their vault; revoking broker grants
 *   1  connectors/ apps/ jobs/ http/    the connector engine; the app registry; queue producers; generic HTTP
 *   0  errors log config db redis lock metrics audit preflight paths crypto/ net/   foundations
 *
 * services.ts is the bag of long-lived parts every layer is handed: any
 * layer may import its type, but it imports only layers 0-2 itself.
 */
const LAYERS = [
  ["^src/(errors|log|config|db|redis|lock|metrics|audit|preflight|paths)\\.ts$", "^src/(crypto|net|generated)/"],
  ["^src/(connectors|apps|jobs|http)/"],
  ["^src/(accounts|revocation)/"],
  ["^src/oauth/"],
  ["^src/(connect|proxy|api|admin)/", "^src/health\\.ts$"],
  ["^src/routes\\.ts$", "^src/worker/"],
  ["^src/main\\.ts$", "^src/cli/"],
];

const path = (patterns) => patterns.join("|");
const above = (level) => path(LAYERS.slice(level + 1).flat());

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle makes a module's load order (and its meaning) depend on who is imported first.",
      from: {},
      to: { circular: true },
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
      to: { path: "^src/((connectors|apps|jobs|accounts|revocation|oauth|connect|proxy|api|admin|worker|cli)/|(routes|main|services|paths|health)\\.ts$)" },
    },
    {
      name: "edges-apart",
      severity: "error",
      comment: "The parts at the edge (connect, proxy, api, admin) do not import each other: what two of them share belongs in a layer below.",
      from: { path: "^src/(connect|proxy|api|admin)/" },
      to: { path: "^src/(connect|proxy|api|admin)/", pathNot: "^src/$1/" },
    },
    {
      name: "services-built-from-below",
      severity: "error",
      comment: "services.ts is handed to every layer, so it is built only from layers 0-2.",
      from: { path: "^src/services\\.ts$" },
      to: { path: "^src/((oauth|connect|proxy|api|admin|worker|cli)/|(health|routes|main)\\.ts$)", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "services-used-as-a-type-below",
      severity: "error",
      comment: "Below the edges, services.ts is a type only: it is built by the roles (main.ts, cli/).",
      from: { path: path(LAYERS.slice(0, 4).flat()) },
      to: { path: "^src/services\\.ts$", dependencyTypesNot: ["type-only"] },
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
