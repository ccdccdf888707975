/** `hygiene worker`: verify and finalize workers only, for a fleet of machines sharing one Redis. */
import { createHygieneMetrics } from '../metrics/hygiene-metrics.ts';
import { startMetricsServer } from '../metrics/metrics-server.ts';
import { HygieneError } from '../errors.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { onShutdownSignal } from './shutdown.ts';
import { startDaemonRuntime } from './daemon-runtime.ts';

export const workerCommand: Command = {
  probes: ({ flags }) => flags['syntax-only'] !== true,
  usage: `Usage: hygiene worker [--concurrency N] [--syntax-only] [--metrics-port N] [options]

Runs verify workers (and the collector step for lists whose input file this machine can read)
until SIGINT/SIGTERM; active jobs finish or are handed back to the queue.
--metrics-port N serves Prometheus metrics at http://HYGIENE_API_HOST:N/metrics (no auth; loopback by default).`,
  options: { ...COMMON_OPTIONS, 'syntax-only': { type: 'boolean' }, 'no-collect': { type: 'boolean' }, 'metrics-port': { type: 'string' } },
  async run({ config, flags }) {
    const metricsPort = typeof flags['metrics-port'] === 'string' ? Number(flags['metrics-port']) : null;
    if (metricsPort !== null && !(Number.isInteger(metricsPort) && metricsPort >= 0 && metricsPort <= 65_535)) {
      throw new HygieneError('USAGE', `--metrics-port must be a port number, got "${String(flags['metrics-port'])}"`);
    }
    const metrics = metricsPort === null ? null : createHygieneMetrics();
    // A worker must share the fleet's Redis: never start a private one here.
    const { runtime, logger, endpoint } = await startDaemonRuntime(config, flags, {
      verifyWorkers: true,
      finalizeWorker: flags['no-collect'] !== true,
      ...(metrics
        ? {
            poolEvents: metrics.poolEvents,
            onOutcomes: (batch, outcomes) => metrics.observeOutcomes(batch, outcomes),
            onListFinished: (report) => metrics.listFinished(report),
            onListFailed: () => metrics.listFailed(),
          }
        : {}),
    });
    let metricsServer: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
    if (metrics && metricsPort !== null) {
      metrics.watchQueues([runtime.verifyQueue, runtime.finalizeQueue]);
      metrics.watchPools(() => runtime.poolStats());
      metricsServer = await startMetricsServer(metrics, metricsPort, config.api.host);
      logger.info({ url: `http://${config.api.host}:${metricsServer.port}/metrics` }, 'metrics served');
    }
    logger.info({ redis: endpoint.url, concurrency: config.queue.concurrency, prefix: config.keyPrefix }, 'worker started');
    await new Promise<void>((resolve) => {
      onShutdownSignal(async () => {
        await metricsServer?.close();
        await runtime.close();
        resolve();
      });
    });
    return 0;
  },
};
