-- AlterTable: how an app was registered (cli | dynamic | metadata_document), and the dedupe key of
-- identical public dynamic registrations (RFC 7591 POST /oauth/register).
ALTER TABLE "App" ADD COLUMN "registration" TEXT NOT NULL DEFAULT 'cli',
ADD COLUMN "registrationHash" TEXT;

-- CreateTable: initial access tokens for BROKER_DYNAMIC_REGISTRATION=token, stored hashed.
CREATE TABLE "RegistrationToken" (
    "id" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "maxUses" INTEGER,
    "uses" INTEGER NOT NULL DEFAULT 0,
    "expiresAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "RegistrationToken_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "App_registrationHash_key" ON "App"("registrationHash");

-- CreateIndex
CREATE UNIQUE INDEX "RegistrationToken_tokenHash_key" ON "RegistrationToken"("tokenHash");
