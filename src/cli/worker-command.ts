/** `hygiene worker`: verify and finalize workers only, for a fleet of machines sharing one Redis. */
import { createLogger } from '../app/logger.ts';
import { resolveRedisEndpoint } from '../app/redis-connection.ts';
import { HygieneRuntime } from '../app/runtime.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { onShutdownSignal } from './shutdown.ts';

export const workerCommand: Command = {
  usage: `Usage: hygiene worker [--concurrency N] [--syntax-only] [options]

Runs verify workers (and the collector step for lists whose input file this machine can read)
until SIGINT/SIGTERM; active jobs finish or are handed back to the queue.`,
  options: { ...COMMON_OPTIONS, 'syntax-only': { type: 'boolean' }, 'no-collect': { type: 'boolean' } },
  async run({ config, flags }) {
    const logger = createLogger(config.logLevel);
    // A worker must share the fleet's Redis: never start a private one here.
    const endpoint = await resolveRedisEndpoint(config.redisUrl, true);
    const runtime = await HygieneRuntime.start({
      config,
      logger,
      redisUrl: endpoint.url,
      verifyWorkers: true,
      finalizeWorker: flags['no-collect'] !== true,
      verifier: flags['syntax-only'] === true ? 'syntax' : 'smtp',
    });
    logger.info({ redis: endpoint.url, concurrency: config.queue.concurrency, prefix: config.keyPrefix }, 'worker started');
    await new Promise<void>((resolve) => {
      onShutdownSignal(async () => {
        await runtime.close();
        resolve();
      });
    });
    return 0;
  },
};
