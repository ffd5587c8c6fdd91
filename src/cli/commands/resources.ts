/**
 * `authbroker resources create|list|delete`: the protected resources (RFC
 * 8707) apps may ask tokens for — an MCP server, an API of the operator's —
 * through the same functions as the admin API (src/oauth/resources.ts). The
 * broker's proxy is built in and never listed.
 */
import type { Command } from "commander";
import { CliError, EXIT, printResult, table } from "../output.js";

/** `--scopes "a b"` or `--scopes a,b`: the scope names, or a usage error. */
function scopeList(value: string): string[] {
  const scopes = value.split(/[\s,]+/).filter(Boolean);
  if (scopes.length === 0) throw new CliError("--scopes needs at least one scope (space- or comma-separated)", EXIT.usage);
  return scopes;
}

export function registerResources(program: Command): void {
  const resources = program.command("resources").description("protected resources (RFC 8707) apps may ask tokens for: MCP servers, your APIs");

  resources
    .command("create")
    .description("register a resource: tokens for it carry its URI as aud, and only it accepts them")
    .requiredOption("--uri <uri>", "its URI, exactly as apps will send it as resource= (https; http only on loopback)")
    .requiredOption("--scopes <scopes>", "the scopes it defines, space- or comma-separated")
    .option("--name <name>", "shown to end users (default: the URI)")
    .option("--app <client_id>", "the app that runs it: it may introspect the resource's tokens")
    .option("--json", "print the result as JSON")
    .action(async (options: { uri: string; scopes: string; name?: string; app?: string; json?: boolean }) => {
      const scopes = scopeList(options.scopes);
      const { createResource } = await import("../../oauth/resources.js");
      const { recordAudit } = await import("../../audit.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const view = await createResource(services.db, services.config.issuer, { uri: options.uri, name: options.name, scopes, appId: options.app });
        await recordAudit(services.db, { action: "resource.created", actorType: "operator", actorId: "cli", detail: { uri: view.uri, appId: view.app_id } });
        printResult(options, view, () =>
          [
            `registered resource ${view.uri}`,
            `name:   ${view.name}`,
            `scopes: ${view.scopes.join(" ")}`,
            `app:    ${view.app_id ?? "none"}`,
            `Apps ask for its tokens with resource=${view.uri}; they are refused by the broker's APIs and its proxy.`,
          ].join("\n"),
        );
      });
    });

  resources
    .command("list")
    .description("list registered resources (the built-in proxy resource is not listed)")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { listResources } = await import("../../oauth/resources.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const views = await listResources(services.db);
        printResult(options, views, () => table(views, ["uri", "name", "scopes", "app_id", "created_at"]));
      });
    });

  resources
    .command("delete <uri>")
    .description("delete a resource: no token is issued for it from now on, and its grants refresh no more")
    .option("--json", "print the result as JSON")
    .action(async (uri: string, options: { json?: boolean }) => {
      const { deleteResource } = await import("../../oauth/resources.js");
      const { recordAudit } = await import("../../audit.js");
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const view = await deleteResource(services.db, uri);
        await recordAudit(services.db, { action: "resource.deleted", actorType: "operator", actorId: "cli", detail: { uri: view.uri } });
        printResult(options, view, () => `resource ${view.uri} deleted`);
      });
    });
}
