/** Services for one CLI verb: built on demand, always closed afterwards. */
import { loadConfig } from "../config.js";
import { createLogger } from "../log.js";
import { checkPostgres, checkRedis } from "../preflight.js";
import { closeServices, createServices, type Services } from "../services.js";

export async function withServices<T>(run: (services: Services) => Promise<T>, options: { redis?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  await checkPostgres(config.databaseUrl, { requireSchema: true });
  if (options.redis) await checkRedis(config.redisUrl);
  // CLI verbs print their own results; the log only says what went wrong.
  const services = await createServices(config, createLogger(config.logLevel === "info" ? "warn" : config.logLevel));
  try {
    return await run(services);
  } finally {
    await closeServices(services);
  }
}
