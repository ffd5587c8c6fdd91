-- AlterTable: the grant a redeemed device code produced (RFC 8628 + RFC 6749 §4.1.2: a code presented twice revokes it).
ALTER TABLE "DeviceCode" ADD COLUMN "familyId" TEXT;
