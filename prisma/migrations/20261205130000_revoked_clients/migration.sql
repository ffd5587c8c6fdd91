-- CreateTable: deleted apps whose access tokens may still be valid (written back to Redis by restoreRevocations).
CREATE TABLE "RevokedClient" (
    "clientId" TEXT NOT NULL,
    "revokedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "RevokedClient_pkey" PRIMARY KEY ("clientId")
);

-- CreateIndex
CREATE INDEX "RevokedClient_expiresAt_idx" ON "RevokedClient"("expiresAt");
