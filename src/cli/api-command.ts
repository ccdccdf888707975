/** `hygiene api`: the HTTP API (with verify + finalize workers unless --no-workers). */
import { createLogger } from '../app/logger.ts';
import { resolveRedisEndpoint } from '../app/redis-connection.ts';
import { startApiService } from '../api/api-service.ts';
import { HygieneError } from '../errors.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { onShutdownSignal } from './shutdown.ts';

export const apiCommand: Command = {
  // POST /v1/verify probes even without local workers: only --syntax-only needs no HELO name.
  probes: ({ flags }) => flags['syntax-only'] !== true,
  usage: `Usage: hygiene api [--port N] [--host ADDR] [--no-workers] [--syntax-only] [options]

Serves the HTTP API (POST /v1/lists, GET /v1/lists/:id, downloads, POST /v1/verify, /healthz,
/metrics, /openapi.json, /admin/queues) until SIGINT/SIGTERM. Needs HYGIENE_API_KEYS
("tenant:key" or bare keys) and, for the dashboard and /metrics, HYGIENE_API_ADMIN_KEYS.

  --port N         listen port (HYGIENE_API_PORT, default 8080)
  --host ADDR      listen address (HYGIENE_API_HOST, default 127.0.0.1)
  --no-workers     API only: a fleet of "hygiene worker" processes does the probing and collecting
  --syntax-only    no DNS or SMTP (syntax, duplicates and missing emails only)`,
  options: { ...COMMON_OPTIONS, port: { type: 'string' }, host: { type: 'string' }, 'no-workers': { type: 'boolean' }, 'syntax-only': { type: 'boolean' } },
  async run({ config, flags }) {
    if (config.api.keys.length === 0) {
      const problem = 'hygiene api needs at least one API key in HYGIENE_API_KEYS or HYGIENE_API_ADMIN_KEYS (comma-separated).';
      throw new HygieneError('CONFIG_INVALID', problem, { problems: [problem] });
    }
    const logger = createLogger(config.logLevel);
    const workers = flags['no-workers'] !== true;
    // An API-only node must share the fleet's Redis; with local workers a private one is acceptable.
    const endpoint = await resolveRedisEndpoint(config.redisUrl, config.redisUrlExplicit || !workers);
    if (endpoint.private) logger.warn({ url: endpoint.url }, 'no Redis at the default address; started a private redis-server (lists are lost when the API stops)');
    const service = await startApiService({ config, logger, redisUrl: endpoint.url, workers, verifier: flags['syntax-only'] === true ? 'syntax' : 'smtp' }).catch(async (err: unknown) => {
      await endpoint.stop?.();
      throw err;
    });
    const admins = config.api.keys.filter((k) => k.admin).length;
    if (admins === 0) logger.warn('no admin key (HYGIENE_API_ADMIN_KEYS): the queue dashboard and /metrics refuse every key');
    logger.info({ url: service.url, workers, keys: config.api.keys.length, admins, tenants: new Set(config.api.keys.map((k) => k.tenant)).size }, 'api listening');
    await new Promise<void>((resolve) => {
      onShutdownSignal(async () => {
        await service.close();
        await endpoint.stop?.();
        resolve();
      });
    });
    return 0;
  },
};
