-- AlterTable: values an upstream hands out at connect (a connector file's `values`: Salesforce's
-- instance_url, Jira Cloud's cloudId), kept with the credentials they came with. Not secret.
ALTER TABLE "Credential" ADD COLUMN "upstreamValues" JSONB;
