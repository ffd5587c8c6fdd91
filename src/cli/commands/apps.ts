/**
 * `authbroker apps create|list|rotate-secret`: register developer apps
 * (OAuth clients of the broker), list them, rotate their secrets. A
 * confidential app's secret is printed once, at creation or rotation; only
 * its SHA-256 is stored, and no listing ever shows it.
 */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { appView, CLIENT_AUTH_METHODS, DEFAULT_SECRET_OVERLAP_SECONDS, type ClientAuthMethod, type CreateClientInput } from "../../apps/clients.js";
import { isBrokerScope, parseScope, splitConnectorScope } from "../../oauth/scopes.js";
import { CliError, EXIT, printResult, table } from "../output.js";

interface CreateOptions {
  name: string;
  redirectUri: string[];
  public?: boolean;
  grantTypes?: string[];
  responseTypes?: string[];
  scopes?: string[];
  connectors?: string[];
  tokenEndpointAuthMethod?: string;
  allowUpstreamTokens?: boolean;
  accessTokenTtl?: number;
  refreshTokenTtl?: number;
  idTokenTtl?: number;
  /** Commander's `--no-require-pkce`: true unless the flag is given. */
  requirePkce: boolean;
  json?: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `a,b c` → ["a", "b", "c"]: lists may be given with commas or spaces. */
function list(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(/[,\s]+/).filter(Boolean)];
}

/** Response types contain spaces ("code id_token"), so only commas separate them. */
function responseTypeList(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(",")
      .map((t) => t.trim())
      .filter(Boolean),
  ];
}

function seconds(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new CliError(`${flag} must be a whole number of seconds`, EXIT.usage);
    return Number(value);
  };
}

/** Every scope must be a broker scope or a connector scope `<connector>:<name>` (docs/authorization-server.md "Scopes"). */
function checkScopes(scopes: string[]): string[] {
  let parsed: string[];
  try {
    parsed = parseScope(scopes.join(" "));
  } catch {
    throw new CliError("--scopes contains a character RFC 6749 §3.3 does not allow", EXIT.usage);
  }
  for (const scope of parsed) {
    if (!isBrokerScope(scope) && !splitConnectorScope(scope))
      throw new CliError(`unknown scope "${scope}": use a broker scope or <connector>:<name>`, EXIT.usage);
  }
  return parsed;
}

function checkAuthMethod(method: string | undefined): ClientAuthMethod | undefined {
  if (method === undefined) return undefined;
  if (!(CLIENT_AUTH_METHODS as readonly string[]).includes(method))
    throw new CliError(`--token-endpoint-auth-method must be one of ${CLIENT_AUTH_METHODS.join(", ")}`, EXIT.usage);
  return method as ClientAuthMethod;
}

const SECRET_WARNING = "the client secret is shown only now: store it safely, it cannot be shown again";

export function registerApps(program: Command): void {
  const apps = program.command("apps").description("developer apps (OAuth clients of the broker)");

  apps
    .command("create")
    .description("register an app; prints its client id and, for confidential apps, its secret (once)")
    .requiredOption("--name <name>", "display name")
    .option("--redirect-uri <uri>", "a redirect URI (repeat for several)", collect, [])
    .option("--public", "a public client (browser or native app): no secret, PKCE required")
    .option("--grant-types <list>", "comma-separated grant types", list)
    .option("--response-types <list>", "comma-separated response types", responseTypeList)
    .option("--scopes <list>", "scopes the app may request (comma or space separated)", list)
    .option("--connectors <list>", "connector ids the app may use (default: all)", list)
    .option(
      "--token-endpoint-auth-method <method>",
      `client authentication: ${CLIENT_AUTH_METHODS.join(", ")} (default: client_secret_basic and client_secret_post both; naming one narrows it to that one)`,
    )
    .option("--allow-upstream-tokens", "the app may read raw upstream tokens (token exchange, scope tokens:read)")
    .option("--access-token-ttl <seconds>", "access token lifetime (at most ACCESS_TOKEN_MAX_TTL_SECONDS, default 1 day)", seconds("--access-token-ttl"))
    .option("--refresh-token-ttl <seconds>", "refresh token lifetime (at most REFRESH_TOKEN_MAX_TTL_SECONDS, default 90 days)", seconds("--refresh-token-ttl"))
    .option("--id-token-ttl <seconds>", "ID token lifetime", seconds("--id-token-ttl"))
    .option("--jwks <file>", "the app's public JWKS (JSON file) for private_key_jwt client authentication")
    .option("--webhook-url <url>", "where account events (account.needs_reauth…) are POSTed, signed with a webhook secret shown once")
    .option("--no-require-pkce", "a legacy confidential app that cannot send PKCE in the code flow (never a public app)")
    .option("--json", "print the result as JSON")
    .action(async (options: CreateOptions & { webhookUrl?: string; jwks?: string }) => {
      let jwks: unknown;
      if (options.jwks !== undefined) {
        try {
          jwks = JSON.parse(readFileSync(options.jwks, "utf8"));
        } catch (err) {
          throw new CliError(`--jwks: ${options.jwks} is not a readable JSON file (${(err as Error).message.split("\n")[0]})`, EXIT.usage);
        }
      }
      const input: CreateClientInput = {
        name: options.name,
        redirectUris: options.redirectUri,
        isPublic: options.public ?? false,
        grantTypes: options.grantTypes,
        responseTypes: options.responseTypes,
        scopes: options.scopes ? checkScopes(options.scopes) : undefined,
        connectors: options.connectors,
        tokenEndpointAuthMethod: checkAuthMethod(options.tokenEndpointAuthMethod),
        allowUpstreamTokens: options.allowUpstreamTokens ?? false,
        accessTokenTtl: options.accessTokenTtl,
        refreshTokenTtl: options.refreshTokenTtl,
        idTokenTtl: options.idTokenTtl,
        webhookUrl: options.webhookUrl,
        requirePkce: options.requirePkce,
        jwks,
      };
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const { client, secret, webhookSecret } = await services.clients.create(input, services.keyring);
        const view = appView(client);
        if (options.json) {
          printResult(
            options,
            { ...view, ...(secret ? { client_secret: secret } : {}), ...(webhookSecret ? { webhook_secret: webhookSecret } : {}) },
            () => "",
          );
          if (secret || webhookSecret) process.stderr.write(`warning: ${SECRET_WARNING}\n`);
          return;
        }
        printResult(options, view, () =>
          [
            `created ${view.type} app "${client.name}"`,
            `client_id:     ${client.id}`,
            ...(secret ? [`client_secret: ${secret}`] : []),
            ...(webhookSecret ? [`webhook_secret: ${webhookSecret}`] : []),
            ...(secret || webhookSecret ? ["", `warning: ${SECRET_WARNING}`] : []),
          ].join("\n"),
        );
      });
    });

  apps
    .command("rotate-secret <client_id>")
    .description("give a confidential app a new client secret (printed once); the previous one keeps working for the overlap, then stops")
    .option(
      "--overlap <seconds>",
      `how long the previous secret keeps working (0: it stops now; default ${DEFAULT_SECRET_OVERLAP_SECONDS}, a day)`,
      seconds("--overlap"),
    )
    .option("--json", "print the result as JSON")
    .action(async (clientId: string, options: { overlap?: number; json?: boolean }) => {
      const overlapSeconds = options.overlap ?? DEFAULT_SECRET_OVERLAP_SECONDS;
      const { withServices } = await import("../context.js");
      const { recordAudit } = await import("../../audit.js");
      await withServices(async (services) => {
        const { client, secret } = await services.clients.rotateSecret(clientId, overlapSeconds);
        const previousUntil = client.previousSecretExpiresAt?.toISOString() ?? null;
        await recordAudit(services.db, {
          action: "app.secret_rotated",
          actorType: "operator",
          actorId: "cli",
          appId: client.id,
          detail: { overlapSeconds, previousSecretExpiresAt: previousUntil },
        });
        const view = appView(client);
        if (options.json) {
          printResult(options, { ...view, client_secret: secret }, () => "");
          process.stderr.write(`warning: ${SECRET_WARNING}\n`);
          return;
        }
        printResult(options, view, () =>
          [
            `rotated the client secret of app "${client.name}"`,
            `client_id:     ${client.id}`,
            `client_secret: ${secret}`,
            previousUntil ? `the previous secret works until ${previousUntil}` : "the previous secret no longer works",
            "",
            `warning: ${SECRET_WARNING}`,
          ].join("\n"),
        );
      });
    });

  apps
    .command("set-webhook <client_id>")
    .description("set, change or remove an app's webhook URL; a new webhook secret is printed once when the app had none or with --rotate-secret")
    .option("--url <url>", "where account events are POSTed (https)")
    .option("--remove", "remove the webhook URL and its secret")
    .option("--rotate-secret", "make a new webhook secret (the old one stops at once)")
    .option("--json", "print the result as JSON")
    .action(async (clientId: string, options: { url?: string; remove?: boolean; rotateSecret?: boolean; json?: boolean }) => {
      if ((options.url === undefined) === !options.remove) throw new CliError("give --url <url> or --remove", EXIT.usage);
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const { client, webhookSecret } = await services.clients.setWebhook(
          clientId,
          { url: options.url ?? null, rotateSecret: options.rotateSecret ?? false },
          services.keyring,
        );
        const { recordAudit } = await import("../../audit.js");
        await recordAudit(services.db, {
          action: "app.webhook_set",
          actorType: "operator",
          actorId: "cli",
          appId: client.id,
          detail: { removed: options.remove === true, secretRotated: webhookSecret !== undefined },
        });
        const result = { client_id: client.id, webhook_url: client.webhookUrl, ...(webhookSecret ? { webhook_secret: webhookSecret } : {}) };
        printResult(options, result, () =>
          [
            client.webhookUrl ? `webhook of ${client.id}: ${client.webhookUrl}` : `webhook of ${client.id} removed`,
            ...(webhookSecret ? [`webhook_secret: ${webhookSecret}`, "", `warning: ${SECRET_WARNING}`] : []),
          ].join("\n"),
        );
        if (options.json && webhookSecret) process.stderr.write(`warning: ${SECRET_WARNING}\n`);
      });
    });

  apps
    .command("list")
    .description("list registered apps (secrets are never shown)")
    .option("--json", "print the result as JSON")
    .action(async (options: { json?: boolean }) => {
      const { withServices } = await import("../context.js");
      await withServices(async (services) => {
        const views = (await services.clients.list()).map(appView);
        printResult(options, views, () => table(views, ["client_id", "name", "type", "token_endpoint_auth_methods", "grant_types", "redirect_uris", "scopes"]));
      });
    });
}
