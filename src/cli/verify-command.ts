/** `hygiene verify FILE.csv --out DIR`: producer, workers and collector in one process by default. */
import { existsSync } from 'node:fs';
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
import { parseDuration } from '../schedule/schedule-spec.ts';
import { onShutdownSignal } from './shutdown.ts';
import { formatSummary } from './summary.ts';
import { htmlReportPath } from '../report/html-report.ts';

export const verifyCommand: Command = {
  defaultLogLevel: 'warn',
  probes: ({ flags }) => flags['syntax-only'] !== true,
  usage: `Usage: hygiene verify FILE.csv [--out DIR] [options]

  --out, -o DIR          where to write NAME.cleaned.csv, NAME.rejected.csv, NAME.report.json (default: .)
  --email-column NAME|N  the email column, by header name or 1-based number (default: detected)
  --reject LIST          statuses, reasons or flags added to what goes to rejected (default list:
                         undeliverable,duplicate,missing_email,malformed_row, plus HYGIENE_REJECT); -NAME removes
                         one (--reject risky,-duplicate; a list starting with "-" needs --reject=-duplicate);
                         a leading "=" replaces the list (--reject =undeliverable)
  --no-local-workers     only enqueue and wait; a fleet of "hygiene worker" processes does the probing
  --syntax-only          no DNS or SMTP: syntax, duplicates and missing emails only
  --no-formula-guard     keep cells starting with = + - @ as they are (default: prefixed with ')
  --suggest-variants N   for unknown mailboxes, probe up to N close spellings and suggest one that exists (default 0)
  --max-age DURATION     cached verdicts older than this (e.g. 12h, 7d) are probed again (default: any age within their TTL)
  --no-cache             ask every server again: cached verdicts are not used (fresh ones are still cached)
  --json                 print the report as JSON on stdout and progress as JSON lines on stderr (the last
                         one: {"progress":"done",...,"outputs":{cleaned,rejected,report,html}} or "failed")
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
    'max-age': { type: 'string' },
    'no-cache': { type: 'boolean' },
    json: { type: 'boolean' },
  },
  async run({ config, flags, positionals }) {
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new HygieneError('USAGE', 'verify takes exactly one CSV file: hygiene verify FILE.csv --out DIR');
    if (typeof flags['max-age'] === 'string' && flags['no-cache'] === true) throw new HygieneError('USAGE', 'verify takes --max-age or --no-cache, not both');
    return runVerify(config, {
      maxVerdictAgeMs: typeof flags['max-age'] === 'string' ? parseDuration(flags['max-age'], '--max-age') : undefined,
      skipCache: flags['no-cache'] === true,
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
  /** --max-age: cached verdicts checked longer ago are probed again. */
  maxVerdictAgeMs?: number;
  /** --no-cache: cached verdicts are not used. */
  skipCache?: boolean;
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
  // Our own faults (port 25 blocked, a failing resolver, servers refusing this host) are caught by the
  // runtime's fault guard: it fails the list with the reason, and waitForList throws it with its code.
  const runtime = await HygieneRuntime.start({
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
  // The list id is known once startList has it; waits are read for that list only.
  let listId: string | undefined;
  const progress = createProgressPrinter(process.stderr, json, { readWaits: async () => (listId === undefined ? [] : runtime.store.waiting(listId)) });
  try {
    const started = await startList(runtime, {
      input: file,
      outDir,
      options: {
        emailColumn: run.emailColumn,
        reject: describePolicy(config.output.rejectPolicy),
        neutraliseFormulas: config.output.neutraliseFormulas,
        ...(run.maxVerdictAgeMs === undefined ? {} : { maxVerdictAgeMs: run.maxVerdictAgeMs }),
        ...(run.skipCache === true ? { skipCache: true } : {}),
      },
      onRowsRead: (rows) => progress.rowsRead(rows),
    });
    listId = started.listId;
    if (started.resumed) logger.info({ listId: started.listId }, 'resuming an unfinished run of this list');
    const list = await waitForList(runtime, started.listId, { onProgress: (l) => progress.list(l), signal: abort.signal });
    const report = await readReport(list);
    const html = htmlReportPath(report);
    progress.finished(report, existsSync(html) ? html : undefined);
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatSummary(report));
    return 0;
  } catch (err) {
    progress.failed(err);
    throw err;
  } finally {
    progress.done();
    stopSignals();
    await runtime.close();
    await endpoint.stop?.();
  }
}
