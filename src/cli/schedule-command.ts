/**
 * `hygiene schedule add|list|remove|run`: scheduled re-verification of registered lists
 * (src/schedule). add/list/remove only talk to Redis; `run` is the daemon that processes due runs.
 */
import type { Redis } from 'ioredis';
import { createRedisClient, resolveRedisEndpoint } from '../app/redis-connection.ts';
import type { Config } from '../config/config.ts';
import { HygieneError } from '../errors.ts';
import { formatDuration } from '../schedule/schedule-spec.ts';
import { startScheduleDaemon } from '../schedule/schedule-runner.ts';
import { addSchedule, listSchedules, openScheduleQueue, removeSchedule, type ScheduleDeps, type ScheduleView } from '../schedule/schedules.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { onShutdownSignal } from './shutdown.ts';
import { startDaemonRuntime } from './daemon-runtime.ts';

async function withSchedules<T>(config: Config, use: (deps: ScheduleDeps) => Promise<T>): Promise<T> {
  // Schedules must outlive the command: always the configured Redis, never a private one.
  const endpoint = await resolveRedisEndpoint(config.redisUrl, true);
  const redis: Redis = createRedisClient(endpoint.url, 'hygiene-schedule-admin');
  redis.on('error', () => undefined);
  const queue = openScheduleQueue(redis, config.keyPrefix);
  try {
    return await use({ redis, prefix: config.keyPrefix, queue });
  } finally {
    // The command's own result (or error) is what matters; a queue that fails to close holds nothing.
    await queue.close().catch(() => undefined);
    await redis.quit().catch(() => redis.disconnect());
  }
}

function describe(s: ScheduleView): string {
  const when = s.every !== undefined ? `every ${formatDuration(s.every)}` : `cron "${s.cron}" ${s.tz}`;
  const next = s.next ? new Date(s.next).toISOString() : '-';
  const last = s.lastRun ? `${s.lastRun.runAt} (${s.lastRun.changed} changed of ${s.lastRun.compared})` : 'never';
  return `${s.id}\t${when}\tmax-age ${formatDuration(s.maxVerdictAgeMs)}\tnext ${next}\tlast ${last}\t${s.input} -> ${s.outDir}`;
}

export const scheduleCommand: Command = {
  probes: ({ flags, positionals }) => positionals[0] === 'run' && flags['syntax-only'] !== true,
  usage: `Usage:
  hygiene schedule add FILE.csv (--every 7d | --cron "0 3 * * 1" [--tz Europe/Berlin]) --out DIR
                       [--max-age 1d] [--name NAME] [--email-column NAME|N]
  hygiene schedule list [--json]
  hygiene schedule remove ID
  hygiene schedule run [--concurrency N] [--syntax-only] [--no-local-workers]

Each run verifies FILE again and writes, in DIR, NAME.<run time>.cleaned.csv, .rejected.csv and
.report.json plus NAME.<run time>.changes.csv (addresses whose status changed since the previous
run) and .changes.json (summary). Cached verdicts older than --max-age (default 1d) are probed again;
fresher ones are reused. Schedules live in Redis: "schedule run" (the daemon) can restart any time.

  --every D      interval: 7d, 12h, 30m, 90s (at least 1s)
  --cron P       cron pattern (minute hour day-of-month month day-of-week), read in --tz (default UTC)
  plus the common options (see README)`,
  options: {
    ...COMMON_OPTIONS,
    every: { type: 'string' },
    cron: { type: 'string' },
    tz: { type: 'string' },
    out: { type: 'string', short: 'o' },
    'max-age': { type: 'string' },
    name: { type: 'string' },
    'email-column': { type: 'string' },
    json: { type: 'boolean' },
    'syntax-only': { type: 'boolean' },
    'no-local-workers': { type: 'boolean' },
  },
  async run({ config, flags, positionals }) {
    const [sub, ...args] = positionals;
    const str = (name: string) => (typeof flags[name] === 'string' ? (flags[name] as string) : undefined);
    if (sub === 'add') {
      const file = args[0];
      if (!file || args.length > 1) throw new HygieneError('USAGE', 'schedule add takes one CSV file: hygiene schedule add FILE.csv --every 7d --out DIR');
      const out = str('out');
      if (!out) throw new HygieneError('USAGE', 'schedule add needs --out DIR (where each run writes its files).');
      const view = await withSchedules(config, (deps) =>
        addSchedule(deps, { input: file, outDir: out, every: str('every'), cron: str('cron'), tz: str('tz'), maxAge: str('max-age'), name: str('name'), emailColumn: str('email-column') }),
      );
      process.stdout.write(flags.json ? `${JSON.stringify(view, null, 2)}\n` : `${view.id}\n${describe(view)}\n`);
      return 0;
    }
    if (sub === 'list') {
      if (args.length > 0) throw new HygieneError('USAGE', 'schedule list takes no arguments');
      const views = await withSchedules(config, (deps) => listSchedules(deps));
      if (flags.json) process.stdout.write(`${JSON.stringify(views, null, 2)}\n`);
      else process.stdout.write(views.length === 0 ? 'No schedules.\n' : `${views.map(describe).join('\n')}\n`);
      return 0;
    }
    if (sub === 'remove') {
      const id = args[0];
      if (!id || args.length > 1) throw new HygieneError('USAGE', 'schedule remove takes one schedule id (see "hygiene schedule list")');
      const removed = await withSchedules(config, (deps) => removeSchedule(deps, id));
      if (!removed) throw new HygieneError('LIST_NOT_FOUND', `There is no schedule ${id}.`, { scheduleId: id });
      process.stdout.write(`removed ${id}\n`);
      return 0;
    }
    if (sub === 'run') {
      if (args.length > 0) throw new HygieneError('USAGE', 'schedule run takes no arguments');
      const { runtime, logger, endpoint } = await startDaemonRuntime(config, flags);
      const daemon = startScheduleDaemon(runtime, {
        redisUrl: endpoint.url,
        onRun: (s) => process.stdout.write(`${s.scheduleId}\t${s.runAt}\t${s.changed} changed of ${s.compared}\t${s.outputs.changes}\n`),
      });
      logger.info({ redis: endpoint.url, prefix: config.keyPrefix }, 'schedule daemon started');
      await new Promise<void>((resolve) => {
        onShutdownSignal(async () => {
          await daemon.close();
          await runtime.close();
          resolve();
        });
      });
      return 0;
    }
    throw new HygieneError('USAGE', 'schedule needs a subcommand: add, list, remove or run (hygiene schedule --help)');
  },
};
