/**
 * What every long-running command (worker, watch, schedule run) starts with: the fleet's Redis (never
 * a private one: a daemon's work must outlive it), a logger, and a runtime whose verifier and local
 * workers follow the common --syntax-only / --no-local-workers flags.
 */
import { createLogger, type Logger } from '../app/logger.ts';
import { resolveRedisEndpoint, type RedisEndpoint } from '../app/redis-connection.ts';
import { HygieneRuntime, type RuntimeOptions } from '../app/runtime.ts';
import type { Config, FlagValues } from '../config/config.ts';

export interface DaemonRuntime {
  runtime: HygieneRuntime;
  logger: Logger;
  endpoint: RedisEndpoint;
}

export async function startDaemonRuntime(config: Config, flags: FlagValues, overrides: Partial<RuntimeOptions> = {}): Promise<DaemonRuntime> {
  const logger = createLogger(config.logLevel);
  const endpoint = await resolveRedisEndpoint(config.redisUrl, true);
  const runtime = await HygieneRuntime.start({
    config,
    logger,
    redisUrl: endpoint.url,
    verifyWorkers: flags['no-local-workers'] !== true,
    finalizeWorker: true,
    verifier: flags['syntax-only'] === true ? 'syntax' : 'smtp',
    ...overrides,
  });
  return { runtime, logger, endpoint };
}
