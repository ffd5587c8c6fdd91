/**
 * Every sealed column of the data model, in one table: the rotation walks it,
 * and the associated data of each value is `<Model>.<column>` plus the row id.
 * A new sealed column is added here, and nowhere else, to be rotated.
 */
export interface SealedColumn {
  /** Prisma model delegate name. */
  model: "app" | "connectorCredential" | "credential" | "signingKey";
  /** The primary key column, whose value is the row id in the associated data. */
  idColumn: string;
  column: string;
}

export const SEALED_COLUMNS: SealedColumn[] = [
  { model: "app", idColumn: "id", column: "sealedWebhookSecret" },
  { model: "connectorCredential", idColumn: "id", column: "sealedClientSecret" },
  { model: "connectorCredential", idColumn: "id", column: "sealedPrivateJwk" },
  { model: "credential", idColumn: "accountId", column: "sealedAccessToken" },
  { model: "credential", idColumn: "accountId", column: "sealedRefreshToken" },
  { model: "credential", idColumn: "accountId", column: "sealedIdToken" },
  { model: "credential", idColumn: "accountId", column: "sealedFields" },
  { model: "signingKey", idColumn: "kid", column: "sealedPrivateJwk" },
];

const MODEL_NAMES: Record<SealedColumn["model"], string> = {
  app: "App",
  connectorCredential: "ConnectorCredential",
  credential: "Credential",
  signingKey: "SigningKey",
};

/** The `field` part of the associated data of a sealed column: `<Model>.<column>`. */
export function sealedField(model: SealedColumn["model"], column: string): string {
  return `${MODEL_NAMES[model]}.${column}`;
}
