/**
 * Test helpers for end-to-end runs: a real Redis (REDIS_URL or 127.0.0.1:6379) with a fresh key
 * prefix, the simulated mail world on loopback, and the real runtime + list runner.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { readReport, startList, waitForList } from '../../src/app/list-runner.ts';
import { HygieneRuntime, type RuntimeOptions } from '../../src/app/runtime.ts';
import { deleteKeysWithPrefix } from '../../src/app/redis-connection.ts';
import type { ListReport } from '../../src/collector/report.ts';
import { demoEnvironment } from '../../src/cli/demo-command.ts';
import type { MailWorld } from '../../src/world/mail-world.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniquePrefix(label: string): string {
  return `t-${label}-${randomBytes(4).toString('hex')}`;
}

export async function tempDir(label: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `hygiene-${label}-`));
}

/** Config pointed at a simulated world, with quick timeouts for tests. */
export function worldConfig(world: Pick<MailWorld, 'dnsServers' | 'smtpPort'> | null, prefix: string, extra: Record<string, string> = {}): Config {
  const env: Record<string, string> = {
    ...(world ? demoEnvironment(world.dnsServers, world.smtpPort) : {}),
    REDIS_URL,
    HYGIENE_PREFIX: prefix,
    HYGIENE_GREYLIST_RETRY_MS: '300',
    HYGIENE_BACKOFF_MS: '200',
    HYGIENE_IDLE_SESSION_MS: '300',
    HYGIENE_CONNECT_TIMEOUT_MS: '1000',
    HYGIENE_GREETING_TIMEOUT_MS: '3000',
    HYGIENE_COMMAND_TIMEOUT_MS: '3000',
    HYGIENE_DATA_DIR: path.join(os.tmpdir(), 'hygiene-test-data'),
    ...extra,
  };
  return loadConfig(env, {});
}

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export async function startRuntime(config: Config, extra: Partial<RuntimeOptions> = {}): Promise<HygieneRuntime> {
  return HygieneRuntime.start({ config, logger: silentLogger, redisUrl: config.redisUrl, verifyWorkers: true, finalizeWorker: true, ...extra });
}

export interface ListOutputs {
  report: ListReport;
  cleaned: Record<string, string>[];
  rejected: Record<string, string>[];
  /** cleaned + rejected, keyed by the address cell's value (lower-cased). */
  byEmail: Map<string, Record<string, string>>;
}

export async function runList(
  runtime: HygieneRuntime,
  file: string,
  outDir: string,
  options: { emailColumn?: string; reject?: string; neutraliseFormulas?: boolean; emailHeader?: string } = {},
): Promise<ListOutputs> {
  const started = await startList(runtime, {
    input: file,
    outDir,
    options: { emailColumn: options.emailColumn, reject: options.reject ?? 'undeliverable,duplicate,missing_email,malformed_row', neutraliseFormulas: options.neutraliseFormulas ?? true },
  });
  const list = await waitForList(runtime, started.listId, { pollMs: 50 });
  const report = await readReport(list);
  const cleaned = await readOutput(report.outputs.cleaned, report.dialect.delimiter);
  const rejected = await readOutput(report.outputs.rejected, report.dialect.delimiter);
  const byEmail = new Map<string, Record<string, string>>();
  const header = options.emailHeader ?? 'email';
  for (const row of [...cleaned, ...rejected]) {
    const key = (row[header] ?? '').trim().toLowerCase();
    if (!byEmail.has(key)) byEmail.set(key, row);
  }
  return { report, cleaned, rejected, byEmail };
}

export async function readOutput(file: string, delimiter = ','): Promise<Record<string, string>[]> {
  const text = await readFile(file, 'utf8');
  return parse(text, { columns: true, bom: true, delimiter, relax_column_count: true, skip_empty_lines: false }) as Record<string, string>[];
}

/** Asserts the report's counts add up; returns a description of any mismatch (empty when fine). */
export function countsProblems(report: ListReport): string[] {
  const problems: string[] = [];
  const sum = (o: Partial<Record<string, number>>) => Object.values(o).reduce<number>((a, b) => a + (b ?? 0), 0);
  if (sum(report.counts.byStatus) !== report.rows) problems.push(`byStatus sums to ${sum(report.counts.byStatus)}, rows ${report.rows}`);
  if (sum(report.counts.byReason) !== report.rows) problems.push(`byReason sums to ${sum(report.counts.byReason)}, rows ${report.rows}`);
  if (report.cleanedRows + report.rejectedRows !== report.rows) problems.push(`cleaned ${report.cleanedRows} + rejected ${report.rejectedRows} != rows ${report.rows}`);
  return problems;
}

export async function deletePrefix(prefix: string): Promise<void> {
  await deleteKeysWithPrefix(REDIS_URL, prefix);
}
