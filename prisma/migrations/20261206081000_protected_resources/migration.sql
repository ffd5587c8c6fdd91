-- CreateTable: protected resources (RFC 8707 resource indicators, RFC 9728 metadata).
CREATE TABLE "Resource" (
    "uri" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "scopes" TEXT[],
    "appId" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Resource_pkey" PRIMARY KEY ("uri")
);

-- AddForeignKey
ALTER TABLE "Resource" ADD CONSTRAINT "Resource_appId_fkey" FOREIGN KEY ("appId") REFERENCES "App"("id") ON DELETE SET NULL ON UPDATE CASCADE;
