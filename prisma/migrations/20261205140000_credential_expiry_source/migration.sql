-- AlterTable: where an account's credential expiry came from (src/connectors/token-expiry.ts).
ALTER TABLE "Account" ADD COLUMN "credentialExpirySource" TEXT;

-- Accounts whose upstream gave no expires_in had no expiry, so no refresh schedule: the refreshable ones
-- (those with a refresh token) get a probe expiry spread over the next one to two hours, so the upgrade
-- does not refresh them all at once. Expiries the upstream gave are marked as such.
WITH probed AS (
  UPDATE "Credential" c
     SET "expiresAt" = (now() AT TIME ZONE 'UTC') + interval '1 hour' * (1 + random())
    FROM "Account" a
   WHERE a."id" = c."accountId" AND a."status" = 'active' AND c."expiresAt" IS NULL AND c."sealedRefreshToken" IS NOT NULL
  RETURNING c."accountId", c."expiresAt"
)
UPDATE "Account" a
   SET "credentialExpiresAt" = probed."expiresAt", "credentialExpirySource" = 'probe'
  FROM probed
 WHERE a."id" = probed."accountId";

UPDATE "Account" SET "credentialExpirySource" = 'expires_in' WHERE "credentialExpiresAt" IS NOT NULL AND "credentialExpirySource" IS NULL;
