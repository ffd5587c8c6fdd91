-- AlterTable: client secret rotation. The previous secret is kept as a hash, like the current one,
-- and accepted until its expiry (the overlap given at rotation).
ALTER TABLE "App" ADD COLUMN "previousSecretHash" TEXT,
ADD COLUMN "previousSecretExpiresAt" TIMESTAMP(3);
