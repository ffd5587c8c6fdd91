-- AlterTable: PKCE required in the code flow for every app (OAuth 2.1, RFC 9700 §2.1.1), existing apps included;
-- a legacy confidential app opts out only by registration (require_pkce false).
ALTER TABLE "App" ADD COLUMN "requirePkce" BOOLEAN NOT NULL DEFAULT true;
