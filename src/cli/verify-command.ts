/** `hygiene verify FILE.csv --out DIR`: producer, workers and collector in one process by default. */
import { mkdir } from 'node:fs/promises';
import { createLogger } from '../app/logger.ts';
import { resolveRedisEndpoint } from '../app/redis-connection.ts';
import { readReport, startList, waitForList } from '../app/list-runner.ts';
import { HygieneRuntime } from '../app/runtime.ts';
import { describePolicy } from '../domain/routing-policy.ts';
import { HygieneError } from '../errors.ts';
import type { Config } from '../config/config.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { createProgressPrinter } from './progress.ts';
import { ConnectivityGuard } from '../probe/connectivity-guard.ts';
import { onShutdownSignal } from './shutdown.ts';
import { formatSummary } from './summary.ts';

export const verifyCommand: Command = {
  defaultLogLevel: 'warn',
  probes: ({ flags }) => flags['syntax-only'] !== true,
  usage: `Usage: hygiene verify FILE.csv [--out DIR] [options]

  --out, -o DIR          where to write NAME.cleaned.csv, NAME.rejected.csv, NAME.report.json (default: .)
  --email-column NAME|N  the email column, by header name or 1-based number (default: detected)
  --reject LIST          statuses/reasons routed to rejected (default: undeliverable,duplicate,missing_email,malformed_row)
  --no-local-workers     only enqueue and wait; a fleet of "hygiene worker" processes does the probing
  --syntax-only          no DNS or SMTP: syntax, duplicates and missing emails only
  --no-formula-guard     keep cells starting with = + - @ as they are (default: prefixed with ')
  --suggest-variants N   for unknown mailboxes, probe up to N close spellings and suggest one that exists (default 0)
  --json                 print the report as JSON on stdout and progress as JSON lines on stderr
  plus the common options (see README): --redis-url, --dns-servers, --smtp-port, --helo-name, --mail-from, ...`,
  options: {
    ...COMMON_OPTIONS,
    out: { type: 'string', short: 'o' },
    'email-column': { type: 'string' },
    reject: { type: 'string' },
    'no-local-workers': { type: 'boolean' },
    'syntax-only': { type: 'boolean' },
    'no-formula-guard': { type: 'boolean' },
    'suggest-variants': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run({ config, flags, positionals }) {
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new HygieneError('USAGE', 'verify takes exactly one CSV file: hygiene verify FILE.csv --out DIR');
    return runVerify(config, {
      file,
      outDir: typeof flags.out === 'string' ? flags.out : '.',
      localWorkers: flags['no-local-workers'] !== true,
      json: flags.json === true,
      syntaxOnly: flags['syntax-only'] === true,
      emailColumn: typeof flags['email-column'] === 'string' ? flags['email-column'] : undefined,
    });
  },
};

export interface VerifyRun {
  file: string;
  outDir: string;
  localWorkers: boolean;
  json: boolean;
  syntaxOnly: boolean;
  emailColumn?: string;
}

/** One list, start to finish, in this process (also used by \`hygiene demo\`). */
export async function runVerify(config: Config, run: VerifyRun): Promise<number> {
  const { file, outDir, localWorkers, json } = run;
  const logger = createLogger(config.logLevel);

  const endpoint = await resolveRedisEndpoint(config.redisUrl, config.redisUrlExplicit);
  if (endpoint.private && !localWorkers) {
    await endpoint.stop?.();
    throw new HygieneError('REDIS_UNAVAILABLE', `--no-local-workers needs the Redis your workers use, but none answers at ${config.redisUrl}. Set REDIS_URL.`);
  }
  if (endpoint.private) logger.info({ url: endpoint.url }, 'no Redis at the default address; started a private redis-server for this run');
  await mkdir(outDir, { recursive: true });
  const abort = new AbortController();
  // Port 25 blocked (cloud hosts): stop early with a clear message rather than a list of unknowns.
  const guard = new ConnectivityGuard({ port: config.smtp.port, onTrip: () => abort.abort() });
  const runtime = await HygieneRuntime.start({
    poolEvents: guard.events,
    // Once tripped, a batch's "unknown/timeout" answers are not recorded: the job fails instead
    // (and is taken off the queue below), so a blocked port never turns into a file of unknowns.
    onOutcomes: () => {
      if (guard.error) throw guard.error;
    },
    config,
    logger,
    redisUrl: endpoint.url,
    verifyWorkers: localWorkers,
    finalizeWorker: true,
    verifier: run.syntaxOnly ? 'syntax' : 'smtp',
  });
  const stopSignals = onShutdownSignal(async () => {
    abort.abort();
    await runtime.close();
    await endpoint.stop?.();
  });
  const progress = createProgressPrinter(process.stderr, json);
  let listId: string | undefined;
  try {
    const started = await startList(runtime, {
      input: file,
      outDir,
      options: {
        emailColumn: run.emailColumn,
        reject: describePolicy(config.output.rejectPolicy),
        neutraliseFormulas: config.output.neutraliseFormulas,
      },
      onRowsRead: (rows) => progress.rowsRead(rows),
    });
    listId = started.listId;
    if (started.resumed) logger.info({ listId: started.listId }, 'resuming an unfinished run of this list');
    const list = await waitForList(runtime, started.listId, { onProgress: (l) => progress.list(l), signal: abort.signal });
    progress.done();
    const report = await readReport(list);
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatSummary(report));
    return 0;
  } catch (err) {
    if (!guard.error) throw err;
    if (listId) await abandonList(runtime, listId, guard.error.message);
    throw guard.error;
  } finally {
    progress.done();
    stopSignals();
    await runtime.close();
    await endpoint.stop?.();
  }
}

/** Marks a list failed and takes its waiting verify jobs off the queue (nothing more to probe). */
async function abandonList(runtime: HygieneRuntime, listId: string, error: string): Promise<void> {
  await runtime.store.setState(listId, 'failed', { error }).catch(() => undefined);
  const jobIds = await runtime.redis.smembers(runtime.store.keys(listId).jobs).catch(() => [] as string[]);
  // remove() leaves active (locked) jobs alone; they finish and find the list failed.
  await Promise.all(jobIds.map((id) => runtime.verifyQueue.remove(id).catch(() => 0)));
}
