/** The part of s3rver's API (a Koa application; it ships no types) that test/support/s3-upstream.ts uses. */
declare module "s3rver" {
  import type { AddressInfo } from "node:net";
  interface Context {
    method: string;
    url: string;
    headers: Record<string, string | string[] | undefined>;
    status: number;
    type: string;
    body: unknown;
  }
  export default class S3rver {
    constructor(options: { address?: string; port?: number; silent?: boolean; directory: string; configureBuckets?: { name: string; configs: string[] }[] });
    middleware: ((ctx: Context, next: () => Promise<void>) => Promise<void>)[];
    run(): Promise<AddressInfo>;
    close(): Promise<void>;
  }
}
