-- RFC 8707 resource indicators: the resource a code's and a grant's access tokens are for.
ALTER TABLE "AuthorizationCode" ADD COLUMN "resource" TEXT;
ALTER TABLE "RefreshFamily" ADD COLUMN "resource" TEXT;
