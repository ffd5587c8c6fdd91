/** Services for one CLI verb: built on demand, always closed afterwards. */
import { loadConfig } from "../config.js";
import { createLogger } from "../log.js";
import { checkPostgres, checkRedis } from "../preflight.js";
import { closeServices, createServices } from "../compose.js";
import { type Services } from "../services.js";
import { whenReady } from "../redis.js";

export async function withServices<T>(run: (services: Services) => Promise<T>, options: { redis?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  await checkPostgres(config.databaseUrl, { requireSchema: true });
  if (options.redis) await checkRedis(config.redisUrl);
  // CLI verbs print their own results; the log only says what went wrong.
  const services = await createServices(config, createLogger(config.logLevel === "info" ? "warn" : config.logLevel));
  try {
    // The verb's first command must not race the connection (checkRedis only proved Redis answers).
    if (options.redis) await whenReady(services.redis, 5_000);
    return await run(services);
  } finally {
    await closeServices(services);
  }
}
