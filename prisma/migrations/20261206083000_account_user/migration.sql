-- AlterTable: the user an account belongs to when it was connected on demand (src/accounts/users.ts).
ALTER TABLE "Account" ADD COLUMN "userId" TEXT;

-- CreateIndex
CREATE INDEX "Account_appId_userId_idx" ON "Account"("appId", "userId");
