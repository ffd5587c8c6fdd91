/**
 * The operations of the admin API (/admin/v1): apps, protected resources,
 * connectors and their upstream credentials, accounts, keys, audit events. Each is one entry of
 * the route table; the CLI verbs call the same service functions.
 */
import { z } from "zod";
import { accountView, endAccount, expirySourceOf } from "../accounts/lifecycle.js";
import { refreshAccount } from "../accounts/refresh.js";
import { recordAudit } from "../audit.js";
import { checkedServerName, setConnectorCredentials, connectorsWithStoredCredentials } from "../connectors/credentials.js";
import { callbackUrlTemplate } from "../connectors/context.js";
import { credentialStatus } from "../connectors/status.js";
import { isPerServer } from "../connectors/template.js";
import { checkConnectorText } from "../connectors/loader.js";
import { requestConnectorReload } from "../connectors/live.js";
import { EXPIRY_SOURCES } from "../connectors/token-expiry.js";
import { rotateKeys } from "../crypto/rotate.js";
import { NotFound, ValidationFailed } from "../errors.js";
import type { ConnectorConfig } from "../connectors/schema.js";
import { appView, MAX_CLIENT_ID_LENGTH, CLIENT_AUTH_METHODS, DEFAULT_SECRET_OVERLAP_SECONDS, MAX_SECRET_OVERLAP_SECONDS } from "../apps/clients.js";
import { GRANT_TYPES } from "../oauth/grants/index.js";
import { createResource, deleteResource, listResources, MAX_RESOURCE_URI_LENGTH } from "../oauth/resources.js";
import { clientRevocation, markClientRevoked } from "../revocation/revocation.js";
import { operation, type AdminOperation } from "./route-table.js";
import { DELIVERY_STATUSES, getDelivery, listDeliveries, redeliver } from "../jobs/webhook-deliveries.js";
import { ACCOUNT_EVENT_TYPES } from "../jobs/account-events.js";
import {
  createRegistrationToken,
  listRegistrationTokens,
  MAX_REGISTRATION_TOKEN_SECONDS,
  MAX_REGISTRATION_TOKEN_USES,
  revokeRegistrationToken,
} from "../apps/registration-tokens.js";

/** Ids in paths: the broker's own are short; a metadata-document app's is its URL (MAX_CLIENT_ID_LENGTH). */
const id = z.string().min(1).max(MAX_CLIENT_ID_LENGTH);
const cursor = z.string().max(128).optional();
const limit = z.coerce.number().int().min(1).max(500).default(50);
const isoDate = z.string().datetime({ offset: true });

const appSchema = z.object({
  client_id: z.string(),
  name: z.string(),
  type: z.enum(["public", "confidential"]),
  token_endpoint_auth_method: z.string(),
  /** The methods accepted: both secret methods for an app registered with defaults. */
  token_endpoint_auth_methods: z.array(z.string()),
  /** When the previous client secret of the last rotation stops (or stopped) being accepted; null when none was kept. */
  previous_secret_expires_at: z.string().nullable(),
  redirect_uris: z.array(z.string()),
  grant_types: z.array(z.string()),
  response_types: z.array(z.string()),
  scopes: z.array(z.string()),
  connectors: z.array(z.string()),
  access_token_ttl: z.number(),
  refresh_token_ttl: z.number(),
  id_token_ttl: z.number(),
  allow_upstream_tokens: z.boolean(),
  webhook_url: z.string().nullable(),
  require_pkce: z.boolean(),
  /** cli (the operator), dynamic (RFC 7591) or metadata_document (its client_id is its metadata document's URL). */
  registration: z.string(),
});

const registrationTokenSchema = z.object({
  id: z.string(),
  uses: z.number(),
  /** Registrations it may make in all; null: any number until it expires or is revoked. */
  max_uses: z.number().nullable(),
  expires_at: z.string().nullable(),
  revoked_at: z.string().nullable(),
  created_at: z.string(),
});

const resourceSchema = z.object({
  uri: z.string(),
  name: z.string(),
  scopes: z.array(z.string()),
  /** The client id of the app that runs it (it may introspect the resource's tokens); null when none. */
  app_id: z.string().nullable(),
  created_at: z.string(),
});

const accountSchema = z.object({
  id: z.string(),
  app_id: z.string(),
  connector: z.string(),
  hostname: z.string().nullable(),
  status: z.string(),
  upstream_subject: z.string(),
  profile: z.record(z.string(), z.unknown()),
  scopes: z.array(z.string()),
  credential_expires_at: z.string().nullable(),
  credential_expiry_source: z.enum(EXPIRY_SOURCES).nullable(),
  last_refreshed_at: z.string().nullable(),
  last_error: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});

const deliverySchema = z.object({
  id: z.string(),
  client_id: z.string(),
  event_type: z.string(),
  account_id: z.string().nullable(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number(),
  redeliveries: z.number(),
  last_attempt_at: z.string().nullable(),
  last_response_status: z.number().nullable(),
  last_error: z.string().nullable(),
  delivered_at: z.string().nullable(),
  created_at: z.string(),
  payload: z.unknown(),
});

/** A per-server connector's server named in a request, as the connect pages store it; a validation error otherwise. */
function serverName(connector: ConnectorConfig, hostname: string): string {
  try {
    return checkedServerName(connector, hostname);
  } catch (err) {
    if (err instanceof TypeError) throw new ValidationFailed(`body.hostname: ${err.message}`);
    throw err;
  }
}

const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), next_cursor: z.string().nullable() });

export const ADMIN_OPERATIONS: AdminOperation[] = [
  operation({
    operationId: "listApps",
    method: "get",
    path: "/apps",
    summary: "List registered apps (never their secrets)",
    tag: "apps",
    response: z.object({ data: z.array(appSchema) }),
    handle: async (_input, { services }) => ({ data: (await services.clients.list()).map(appView) }),
  }),
  operation({
    operationId: "createApp",
    method: "post",
    path: "/apps",
    status: 201,
    summary: "Register an app; its client secret and webhook secret are returned once",
    tag: "apps",
    body: z.object({
      name: z.string().min(1).max(200),
      redirect_uris: z.array(z.string().max(2000)).max(50).default([]),
      public: z.boolean().default(false),
      grant_types: z.array(z.enum(GRANT_TYPES)).optional(),
      response_types: z.array(z.string()).optional(),
      scopes: z.array(z.string().max(200)).max(200).optional(),
      connectors: z.array(z.string()).optional(),
      token_endpoint_auth_method: z.enum(CLIENT_AUTH_METHODS).optional(),
      jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
      allow_upstream_tokens: z.boolean().default(false),
      access_token_ttl: z.number().int().optional(),
      refresh_token_ttl: z.number().int().optional(),
      id_token_ttl: z.number().int().optional(),
      webhook_url: z.string().max(2000).optional(),
      /** false only for a legacy confidential app that cannot send PKCE; refused for a public app. */
      require_pkce: z.boolean().default(true),
    }),
    response: appSchema.extend({ client_secret: z.string().optional(), webhook_secret: z.string().optional() }),
    handle: async ({ body }, { services, actor, requestId }) => {
      const { client, secret, webhookSecret } = await services.clients.create(
        {
          name: body.name,
          redirectUris: body.redirect_uris,
          isPublic: body.public,
          grantTypes: body.grant_types,
          responseTypes: body.response_types,
          scopes: body.scopes,
          connectors: body.connectors,
          tokenEndpointAuthMethod: body.token_endpoint_auth_method,
          jwks: body.jwks,
          allowUpstreamTokens: body.allow_upstream_tokens,
          accessTokenTtl: body.access_token_ttl,
          refreshTokenTtl: body.refresh_token_ttl,
          idTokenTtl: body.id_token_ttl,
          webhookUrl: body.webhook_url,
          requirePkce: body.require_pkce,
        },
        services.keyring,
      );
      await recordAudit(services.db, { action: "app.created", ...actor, appId: client.id, requestId });
      return { ...appView(client), ...(secret ? { client_secret: secret } : {}), ...(webhookSecret ? { webhook_secret: webhookSecret } : {}) };
    },
  }),
  operation({
    operationId: "getApp",
    method: "get",
    path: "/apps/{id}",
    summary: "One app",
    tag: "apps",
    params: z.object({ id }),
    response: appSchema,
    handle: async ({ params }, { services }) => {
      const client = await services.clients.find(params.id);
      if (!client) throw new NotFound(`app ${params.id} does not exist`);
      return appView(client);
    },
  }),
  operation({
    operationId: "rotateAppSecret",
    method: "post",
    path: "/apps/{id}/rotate-secret",
    summary:
      "Give a confidential app a new client secret, returned once; the previous one keeps working for overlap_seconds (default a day, 0 ends it now), and one rotated before it ends at once",
    tag: "apps",
    params: z.object({ id }),
    body: z
      .object({
        /** @defaultValue 86400 */
        overlap_seconds: z.number().int().min(0).max(MAX_SECRET_OVERLAP_SECONDS).default(DEFAULT_SECRET_OVERLAP_SECONDS),
      })
      .default({ overlap_seconds: DEFAULT_SECRET_OVERLAP_SECONDS }),
    response: appSchema.extend({ client_secret: z.string() }),
    handle: async ({ params, body }, { services, actor, requestId }) => {
      const { client, secret } = await services.clients.rotateSecret(params.id, body.overlap_seconds);
      await recordAudit(services.db, {
        action: "app.secret_rotated",
        ...actor,
        appId: client.id,
        requestId,
        detail: { overlapSeconds: body.overlap_seconds, previousSecretExpiresAt: client.previousSecretExpiresAt?.toISOString() ?? null },
      });
      return { ...appView(client), client_secret: secret };
    },
  }),
  operation({
    operationId: "setAppWebhook",
    method: "put",
    path: "/apps/{id}/webhook",
    summary: "Set, change or remove (url null) an app's webhook URL; a new webhook secret is returned once when the app had none or rotate_secret is true",
    tag: "apps",
    params: z.object({ id }),
    body: z.object({ url: z.string().max(2000).nullable(), rotate_secret: z.boolean().default(false) }),
    response: z.object({ client_id: z.string(), webhook_url: z.string().nullable(), webhook_secret: z.string().optional() }),
    handle: async ({ params, body }, { services, actor, requestId }) => {
      const { client, webhookSecret } = await services.clients.setWebhook(params.id, { url: body.url, rotateSecret: body.rotate_secret }, services.keyring);
      await recordAudit(services.db, {
        action: "app.webhook_set",
        ...actor,
        appId: client.id,
        requestId,
        detail: { removed: body.url === null, secretRotated: webhookSecret !== undefined },
      });
      return { client_id: client.id, webhook_url: client.webhookUrl, ...(webhookSecret ? { webhook_secret: webhookSecret } : {}) };
    },
  }),
  operation({
    operationId: "deleteApp",
    method: "delete",
    path: "/apps/{id}",
    summary: "Delete an app with its accounts, grants and credentials; every access token it was issued is refused from then on",
    tag: "apps",
    params: z.object({ id }),
    response: z.object({ id: z.string(), deleted: z.literal(true), accounts_deleted: z.number() }),
    handle: async ({ params }, { services, actor, requestId }) => {
      const app = await services.db.app.findUnique({ where: { id: params.id }, select: { id: true, accessTokenTtl: true } });
      if (!app) throw new NotFound(`app ${params.id} does not exist`);
      const accounts = await services.db.account.findMany({ where: { appId: params.id }, select: { id: true } });
      for (const account of accounts) await endAccount(services, account.id, { ...actor, requestId }, { remove: true });
      // The app and the record that its tokens are revoked go together: client-credentials
      // tokens belong to no grant, so without it they would outlive the app (an admin-scope
      // one still administering the broker) until they expire.
      const revocation = clientRevocation(app.id, app.accessTokenTtl);
      await services.db.$transaction([
        services.db.app.delete({ where: { id: app.id } }),
        services.db.revokedClient.upsert({ where: { clientId: app.id }, create: revocation, update: revocation }),
      ]);
      services.clients.invalidate(params.id);
      await markClientRevoked(services.redis, revocation);
      await recordAudit(services.db, { action: "app.deleted", ...actor, appId: params.id, requestId, detail: { accounts: accounts.length } });
      return { id: params.id, deleted: true as const, accounts_deleted: accounts.length };
    },
  }),
  operation({
    operationId: "listRegistrationTokens",
    method: "get",
    path: "/registration-tokens",
    summary: "Initial access tokens for dynamic client registration (BROKER_DYNAMIC_REGISTRATION=token), never the tokens themselves",
    tag: "apps",
    response: z.object({ data: z.array(registrationTokenSchema) }),
    handle: async (_input, { services }) => ({ data: await listRegistrationTokens(services.db) }),
  }),
  operation({
    operationId: "createRegistrationToken",
    method: "post",
    path: "/registration-tokens",
    status: 201,
    summary: "Make an initial access token for dynamic client registration; the token is returned once",
    tag: "apps",
    body: z.object({
      expires_in: z.number().int().min(1).max(MAX_REGISTRATION_TOKEN_SECONDS).optional(),
      max_uses: z.number().int().min(1).max(MAX_REGISTRATION_TOKEN_USES).optional(),
    }),
    response: registrationTokenSchema.extend({ token: z.string() }),
    handle: async ({ body }, { services, actor, requestId }) => {
      const { token, view } = await createRegistrationToken(services.db, { expiresInSeconds: body.expires_in, maxUses: body.max_uses });
      await recordAudit(services.db, {
        action: "registration_token.created",
        ...actor,
        requestId,
        detail: { id: view.id, maxUses: view.max_uses, expiresAt: view.expires_at },
      });
      return { ...view, token };
    },
  }),
  operation({
    operationId: "revokeRegistrationToken",
    method: "delete",
    path: "/registration-tokens/{id}",
    summary: "Revoke an initial access token: no registration is accepted with it from now on",
    tag: "apps",
    params: z.object({ id }),
    response: registrationTokenSchema,
    handle: async ({ params }, { services, actor, requestId }) => {
      const view = await revokeRegistrationToken(services.db, params.id);
      await recordAudit(services.db, { action: "registration_token.revoked", ...actor, requestId, detail: { id: view.id } });
      return view;
    },
  }),
  operation({
    operationId: "listResources",
    method: "get",
    path: "/resources",
    summary: "Protected resources (RFC 8707) apps may ask tokens for, besides the built-in proxy",
    tag: "resources",
    response: z.object({ data: z.array(resourceSchema) }),
    handle: async (_input, { services }) => ({ data: await listResources(services.db) }),
  }),
  operation({
    operationId: "createResource",
    method: "post",
    path: "/resources",
    status: 201,
    summary: "Register a protected resource (an MCP server, an API): its URI (the tokens' aud), name, scopes and the app that runs it",
    tag: "resources",
    body: z.object({
      uri: z.string().min(1).max(MAX_RESOURCE_URI_LENGTH),
      name: z.string().min(1).max(200).optional(),
      scopes: z.array(z.string().min(1).max(200)).min(1).max(100),
      app_id: id.optional(),
    }),
    response: resourceSchema,
    handle: async ({ body }, { services, actor, requestId }) => {
      const view = await createResource(services.db, services.config.issuer, { uri: body.uri, name: body.name, scopes: body.scopes, appId: body.app_id });
      await recordAudit(services.db, { action: "resource.created", ...actor, requestId, detail: { uri: view.uri, appId: view.app_id } });
      return view;
    },
  }),
  operation({
    operationId: "deleteResource",
    method: "delete",
    path: "/resources/{uri}",
    summary: "Delete a protected resource (its URI percent-encoded in the path): no token is issued for it from now on, its grants refresh no more",
    tag: "resources",
    params: z.object({ uri: z.string().min(1).max(MAX_RESOURCE_URI_LENGTH) }),
    response: resourceSchema,
    handle: async ({ params }, { services, actor, requestId }) => {
      const view = await deleteResource(services.db, params.uri);
      await recordAudit(services.db, { action: "resource.deleted", ...actor, requestId, detail: { uri: view.uri } });
      return view;
    },
  }),
  operation({
    operationId: "listConnectors",
    method: "get",
    path: "/connectors",
    summary: "Connectors loaded from CONNECTORS_DIR, with whether their upstream credentials are configured",
    tag: "connectors",
    response: z.object({
      data: z.array(
        z.object({
          id: z.string(),
          name: z.string(),
          kind: z.string(),
          per_server: z.boolean(),
          implemented: z.boolean(),
          configured: z.union([z.boolean(), z.literal("some apps")]),
          credentials: z.string(),
          /** The redirect URI to register at the upstream; `{hostname}` stands for each server of a per-server connector. */
          callback_url: z.string(),
          /** Per-server connectors whose credentials go to the server: the servers registered with the broker. */
          servers: z.array(z.string()).optional(),
          /** The file the connector was loaded from. */
          source: z.string(),
          /** When the version that serves was loaded (at start, or by a reload). */
          loaded_at: z.string().nullable(),
        }),
      ),
    }),
    handle: async (_input, { services }) => {
      const stored = await connectorsWithStoredCredentials(services.db);
      return {
        data: services.connectors.list().map((c) => {
          const status = credentialStatus(c, stored.get(c.id));
          return {
            id: c.id,
            name: c.name,
            kind: c.auth.kind,
            per_server: isPerServer(c),
            implemented: services.kinds.has(c.auth.kind),
            configured: status.configured,
            credentials: status.credentials,
            callback_url: callbackUrlTemplate(services.config.issuer, c),
            ...(status.servers ? { servers: status.servers } : {}),
            source: c.source.file,
            loaded_at: services.connectors.loadedAt(c.id)?.toISOString() ?? null,
          };
        }),
      };
    },
  }),
  operation({
    operationId: "listConnectorFiles",
    method: "get",
    path: "/connector-files",
    summary:
      "Every connector file of CONNECTORS_DIR at the last load: the connector it serves, and whether it loaded or was rejected (why, and whether its previous version still serves)",
    tag: "connectors",
    response: z.object({
      data: z.array(
        z.object({
          file: z.string(),
          connector: z.string().nullable(),
          status: z.enum(["loaded", "rejected"]),
          problems: z.array(z.string()),
          kept_previous: z.boolean(),
          loaded_at: z.string(),
        }),
      ),
    }),
    handle: async (_input, { services }) => ({
      data: services.connectors.fileStatuses().map((f) => ({
        file: f.file,
        connector: f.connectorId ?? null,
        status: f.status,
        problems: f.problems,
        kept_previous: f.keptPrevious,
        loaded_at: f.loadedAt.toISOString(),
      })),
    }),
  }),
  operation({
    operationId: "validateConnector",
    method: "post",
    path: "/connectors/validate",
    summary: "Check a connector document (YAML or JSON text, or a JSON object) as a file of CONNECTORS_DIR would be checked; nothing is stored or loaded",
    tag: "connectors",
    body: z.object({
      document: z.union([z.string().min(1).max(200_000), z.record(z.string(), z.unknown())]),
      /** How a text document is written. @defaultValue yaml */
      format: z.enum(["yaml", "json"]).default("yaml"),
    }),
    response: z.object({
      valid: z.boolean(),
      connector: z.object({ id: z.string(), name: z.string(), kind: z.string(), per_server: z.boolean(), replaces: z.boolean() }).nullable(),
      errors: z.array(z.object({ field: z.string(), problem: z.string() })),
    }),
    handle: async ({ body }, { services }) => {
      const text = typeof body.document === "string" ? body.document : JSON.stringify(body.document);
      const format = typeof body.document === "string" ? body.format : "json";
      const { connector, errors } = checkConnectorText(`document.${format}`, text, process.env);
      return {
        valid: errors.length === 0,
        connector: connector
          ? {
              id: connector.id,
              name: connector.name,
              kind: connector.auth.kind,
              per_server: isPerServer(connector),
              replaces: services.connectors.has(connector.id),
            }
          : null,
        errors: errors.map((e) => ({ field: e.field, problem: e.problem })),
      };
    },
  }),
  operation({
    operationId: "reloadConnectors",
    method: "post",
    path: "/connectors/reload",
    summary: "Reload CONNECTORS_DIR in this process, and ask every other broker process to: each file is checked before it replaces its previous version",
    tag: "connectors",
    response: z.object({
      loaded: z.array(z.string()),
      rejected: z.array(z.string()),
      removed: z.array(z.string()),
      unchanged: z.number(),
      /** Broker processes that heard the request through Redis (this one too, when it listens); each reloads its own copy of the directory. */
      processes_notified: z.number(),
    }),
    handle: async (_input, { services, actor, requestId }) => {
      const result = await services.reloadConnectors("admin API");
      const notified = await requestConnectorReload(services.redis, "admin API").catch(() => 0);
      await recordAudit(services.db, {
        action: "connectors.reloaded",
        ...actor,
        requestId,
        detail: { loaded: result.loaded.length, rejected: result.rejected.length, removed: result.removed.length },
      });
      return { ...result, processes_notified: notified };
    },
  }),
  operation({
    operationId: "setConnectorCredentials",
    method: "put",
    path: "/connectors/{id}/credentials",
    summary:
      "Store the broker's upstream client credentials for a connector (sealed), per app or as the default, connector-wide or for one server of a per-server connector",
    tag: "connectors",
    params: z.object({ id }),
    body: z.object({
      app_id: z.string().optional(),
      hostname: z.string().min(1).max(260).optional(),
      client_id: z.string().min(1).max(500),
      client_secret: z.string().min(1).max(5000).optional(),
    }),
    response: z.object({ connector: z.string(), app_id: z.string().nullable(), hostname: z.string().nullable(), created: z.boolean() }),
    handle: async ({ params, body }, { services }) => {
      const connector = services.connectors.get(params.id);
      if (!connector) throw new NotFound(`connector ${params.id} is not configured`);
      const hostname = body.hostname === undefined ? undefined : serverName(connector, body.hostname);
      const stored = await setConnectorCredentials(services, {
        connectorId: params.id,
        appId: body.app_id,
        hostname,
        clientId: body.client_id,
        clientSecret: body.client_secret,
      });
      return { connector: params.id, app_id: body.app_id ?? null, hostname: hostname ?? null, created: stored.created };
    },
  }),
  operation({
    operationId: "listAccounts",
    method: "get",
    path: "/accounts",
    summary: "Accounts, filtered and paged (cursor = the last id of the previous page)",
    tag: "accounts",
    query: z.object({
      app_id: z.string().optional(),
      connector: z.string().optional(),
      status: z.enum(["active", "needs_reauth", "revoked", "error"]).optional(),
      limit,
      cursor,
    }),
    response: page(accountSchema),
    handle: async ({ query }, { services }) => {
      const rows = await services.db.account.findMany({
        where: {
          ...(query.app_id ? { appId: query.app_id } : {}),
          ...(query.connector ? { connectorId: query.connector } : {}),
          ...(query.status ? { status: query.status } : {}),
          ...(query.cursor ? { id: { gt: query.cursor } } : {}),
        },
        orderBy: { id: "asc" },
        take: query.limit + 1,
      });
      const data = rows.slice(0, query.limit);
      return { data: data.map(accountView), next_cursor: rows.length > query.limit ? data[data.length - 1]!.id : null };
    },
  }),
  operation({
    operationId: "getAccount",
    method: "get",
    path: "/accounts/{id}",
    summary: "One account (never its credentials)",
    tag: "accounts",
    params: z.object({ id }),
    response: accountSchema,
    handle: async ({ params }, { services }) => {
      const account = await services.db.account.findUnique({ where: { id: params.id } });
      if (!account) throw new NotFound(`account ${params.id} does not exist`);
      return accountView(account);
    },
  }),
  operation({
    operationId: "refreshAccount",
    method: "post",
    path: "/accounts/{id}/refresh",
    summary: "Refresh an account's upstream credentials now (through the single-flight refresh)",
    tag: "accounts",
    params: z.object({ id }),
    response: z.object({
      id: z.string(),
      outcome: z.string(),
      credential_expires_at: z.string().nullable(),
      credential_expiry_source: z.enum(EXPIRY_SOURCES).nullable(),
    }),
    handle: async ({ params }, { services, actor, requestId }) => {
      const result = await refreshAccount(services, params.id, { force: true, requestId });
      await recordAudit(services.db, { action: "account.refresh_requested", ...actor, accountId: params.id, requestId, detail: { outcome: result.outcome } });
      // The source is kept on the account: a refresh that joined another or found fresh tokens did not see it.
      const account = await services.db.account.findUnique({ where: { id: params.id }, select: { credentialExpiresAt: true, credentialExpirySource: true } });
      return {
        id: params.id,
        outcome: result.outcome,
        credential_expires_at: result.credentials.expiresAt?.toISOString() ?? null,
        credential_expiry_source: account ? expirySourceOf(account) : null,
      };
    },
  }),
  operation({
    operationId: "revokeAccount",
    method: "post",
    path: "/accounts/{id}/revoke",
    summary: "Revoke an account: upstream tokens revoked where supported, credentials removed, broker tokens revoked; the account stays as `revoked`",
    tag: "accounts",
    params: z.object({ id }),
    response: z.object({ id: z.string(), status: z.literal("revoked"), upstream_revoked: z.boolean(), grants_revoked: z.number() }),
    handle: async ({ params }, { services, actor, requestId }) => {
      const r = await endAccount(services, params.id, { ...actor, requestId }, { remove: false });
      return { id: params.id, status: "revoked" as const, upstream_revoked: r.upstreamRevoked, grants_revoked: r.grantsRevoked };
    },
  }),
  operation({
    operationId: "deleteAccount",
    method: "delete",
    path: "/accounts/{id}",
    summary: "Revoke and delete an account",
    tag: "accounts",
    params: z.object({ id }),
    response: z.object({ id: z.string(), deleted: z.literal(true), upstream_revoked: z.boolean(), grants_revoked: z.number() }),
    handle: async ({ params }, { services, actor, requestId }) => {
      const r = await endAccount(services, params.id, { ...actor, requestId }, { remove: true });
      return { id: params.id, deleted: true as const, upstream_revoked: r.upstreamRevoked, grants_revoked: r.grantsRevoked };
    },
  }),
  operation({
    operationId: "rotateKeys",
    method: "post",
    path: "/keys/rotate",
    summary: "Re-seal every sealed value under the current encryption key and create a new token-signing key",
    tag: "keys",
    response: z.object({ current_kid: z.string(), resealed: z.number(), signing_kid: z.string(), previous_signing_kid: z.string().nullable() }),
    handle: async (_input, { services, actor, requestId }) => {
      const [row] = await services.db.$queryRawUnsafe<{ ttl: number | null }[]>(`SELECT max(greatest("accessTokenTtl", "idTokenTtl")) AS ttl FROM "App"`);
      const result = await rotateKeys(services.db, services.keyring, services.signingKeys, { publishForSeconds: Math.max(3600, Number(row?.ttl ?? 0)) });
      await recordAudit(services.db, { action: "keys.rotated", ...actor, requestId, detail: { resealed: result.resealed, signingKid: result.signingKid } });
      return {
        current_kid: services.keyring.currentKid,
        resealed: result.resealed,
        signing_kid: result.signingKid,
        previous_signing_kid: result.previousSigningKid ?? null,
      };
    },
  }),
  operation({
    operationId: "listWebhookDeliveries",
    method: "get",
    path: "/webhooks/deliveries",
    summary: "The webhook delivery log, newest first, filtered and paged (cursor = the last id of the previous page)",
    tag: "webhooks",
    query: z.object({
      app_id: z.string().max(128).optional(),
      status: z.enum(DELIVERY_STATUSES).optional(),
      event_type: z.enum(ACCOUNT_EVENT_TYPES).optional(),
      limit,
      cursor,
    }),
    response: page(deliverySchema),
    handle: async ({ query }, { services }) =>
      listDeliveries(services.db, { appId: query.app_id, status: query.status, eventType: query.event_type, limit: query.limit, cursor: query.cursor }),
  }),
  operation({
    operationId: "getWebhookDelivery",
    method: "get",
    path: "/webhooks/deliveries/{id}",
    summary: "One webhook delivery: the message and how its attempts went",
    tag: "webhooks",
    params: z.object({ id: z.string().max(128) }),
    response: deliverySchema,
    handle: async ({ params }, { services }) => getDelivery(services.db, params.id),
  }),
  operation({
    operationId: "redeliverWebhook",
    method: "post",
    path: "/webhooks/deliveries/{id}/redeliver",
    status: 202,
    summary: "Send a delivered or failed webhook again (same webhook-id, new signature, new retries); 409 while it is still being attempted",
    tag: "webhooks",
    params: z.object({ id: z.string().max(128) }),
    response: deliverySchema,
    handle: async ({ params }, { services, actor, requestId }) => {
      const view = await redeliver(services, params.id);
      await recordAudit(services.db, { action: "webhook.redelivered", ...actor, appId: view.client_id, requestId, detail: { deliveryId: view.id } });
      return view;
    },
  }),
  operation({
    operationId: "listAuditEvents",
    method: "get",
    path: "/audit-events",
    summary: "Audit events, newest first, filtered and paged (cursor = the last id of the previous page)",
    tag: "audit",
    query: z.object({
      action: z.string().max(100).optional(),
      app_id: z.string().optional(),
      account_id: z.string().optional(),
      connector: z.string().optional(),
      since: isoDate.optional(),
      until: isoDate.optional(),
      limit,
      cursor: z
        .string()
        .regex(/^\d{1,19}$/)
        .optional(),
    }),
    response: page(
      z.object({
        id: z.string(),
        at: z.string(),
        action: z.string(),
        actor_type: z.string(),
        actor_id: z.string().nullable(),
        app_id: z.string().nullable(),
        account_id: z.string().nullable(),
        connector: z.string().nullable(),
        request_id: z.string().nullable(),
        detail: z.unknown(),
      }),
    ),
    handle: async ({ query }, { services }) => {
      const rows = await services.db.auditEvent.findMany({
        where: {
          ...(query.action ? { action: query.action } : {}),
          ...(query.app_id ? { appId: query.app_id } : {}),
          ...(query.account_id ? { accountId: query.account_id } : {}),
          ...(query.connector ? { connectorId: query.connector } : {}),
          ...(query.since || query.until
            ? { at: { ...(query.since ? { gte: new Date(query.since) } : {}), ...(query.until ? { lt: new Date(query.until) } : {}) } }
            : {}),
          ...(query.cursor ? { id: { lt: BigInt(query.cursor) } } : {}),
        },
        orderBy: { id: "desc" },
        take: query.limit + 1,
      });
      const data = rows.slice(0, query.limit).map((e) => ({
        id: e.id.toString(),
        at: e.at.toISOString(),
        action: e.action,
        actor_type: e.actorType,
        actor_id: e.actorId,
        app_id: e.appId,
        account_id: e.accountId,
        connector: e.connectorId,
        request_id: e.requestId,
        detail: e.detail,
      }));
      return { data, next_cursor: rows.length > query.limit ? data[data.length - 1]!.id : null };
    },
  }),
];
