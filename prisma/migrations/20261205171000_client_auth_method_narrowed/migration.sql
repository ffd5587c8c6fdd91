-- AlterTable: a secret app registered with defaults accepts client_secret_basic and client_secret_post
-- (RFC 6749 §2.3.1), and registering one of them explicitly narrows it to that one.
ALTER TABLE "App" ADD COLUMN "authMethodNarrowed" BOOLEAN NOT NULL DEFAULT false;
-- client_secret_post was never the default, so an app that has it chose it: it stays narrowed. An existing
-- client_secret_basic app cannot be told apart from one registered with defaults, and now accepts both.
UPDATE "App" SET "authMethodNarrowed" = true WHERE "tokenEndpointAuthMethod" = 'client_secret_post';
