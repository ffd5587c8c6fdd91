-- The admin listing of audit events reads newest first by id, filtered by app,
-- account or action: btrees on (filter, id) serve it in that order, where with
-- (filter, at) PostgreSQL either walked the newest rows of all filters or read
-- every row of the filter and sorted them. "at" only bounds a time range and
-- grows with the id: a BRIN index, next to free to keep up, where each btree
-- costs PostgreSQL ~3.5 microseconds of CPU per row and the proxy writes a row
-- per call (docs/benchmarks.md). On a large table the new indexes take a while
-- to build and hold audit writes meanwhile: the broker keeps the proxy's audit
-- events queued in memory (bounded) and writes them when the migration ends.
-- DropIndex
DROP INDEX "AuditEvent_at_idx";

-- DropIndex
DROP INDEX "AuditEvent_appId_at_idx";

-- DropIndex
DROP INDEX "AuditEvent_accountId_at_idx";

-- DropIndex
DROP INDEX "AuditEvent_action_at_idx";

-- CreateIndex
CREATE INDEX "AuditEvent_at_idx" ON "AuditEvent" USING BRIN ("at");

-- CreateIndex
CREATE INDEX "AuditEvent_appId_id_idx" ON "AuditEvent"("appId", "id");

-- CreateIndex
CREATE INDEX "AuditEvent_accountId_id_idx" ON "AuditEvent"("accountId", "id");

-- CreateIndex
CREATE INDEX "AuditEvent_action_id_idx" ON "AuditEvent"("action", "id");

