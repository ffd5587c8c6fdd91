-- Per-server connectors: the broker's client credentials registered on one server (one GitLab, one ServiceNow
-- instance). "" is the connector-wide row, sent only to the hosts the connector file lists as sharing it.
ALTER TABLE "ConnectorCredential" ADD COLUMN "hostname" TEXT NOT NULL DEFAULT '';

DROP INDEX "ConnectorCredential_connectorId_appKey_key";
CREATE UNIQUE INDEX "ConnectorCredential_connectorId_appKey_hostname_key" ON "ConnectorCredential"("connectorId", "appKey", "hostname");
