/**
 * Shared helpers for the fault and bad-input tests: fixtures with a row-id column, the "nothing lost,
 * nothing injected" check over cleaned + rejected + report.json, CLI child processes, and Redis
 * prefix clean-up. Real peers only: the real Redis at REDIS_URL and the simulated world on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { Redis } from 'ioredis';
import pino from 'pino';
import { expect } from 'vitest';
import type { ListReport } from '../../src/collector/report.ts';
import { CLI_BIN } from '../helpers/cli-bin.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = CLI_BIN;
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const silentLogger = pino({ level: 'silent' });

export function uniquePrefix(tag: string): string {
  return `t-${tag}-${randomBytes(4).toString('hex')}`;
}

export async function tempDir(tag: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `hygiene-${tag}-`));
}

/** Deletes every key under the prefix (list keys and BullMQ queues alike). */
export async function clearPrefix(prefix: string, url = REDIS_URL): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== '0');
  } catch {
    /* Redis gone (a fault test stopped it): nothing to clean */
  } finally {
    redis.disconnect();
  }
}

/** Writes `id,email,name` rows; returns the ids in file order. */
export async function writeContacts(file: string, emails: string[], extra: (i: number) => string = (i) => `Person ${i}`): Promise<string[]> {
  const ids = emails.map((_, i) => `r${i + 1}`);
  const lines = ['id,email,name', ...emails.map((email, i) => `${ids[i]},${csvCell(email)},${csvCell(extra(i))}`)];
  await writeFile(file, `${lines.join('\n')}\n`);
  return ids;
}

export function csvCell(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

export interface OutputRows {
  cleaned: Record<string, string>[];
  rejected: Record<string, string>[];
}

export async function readOutputs(report: ListReport): Promise<OutputRows> {
  const read = async (file: string) => parse(await readFile(file, 'utf8'), { columns: true, relax_column_count: true }) as Record<string, string>[];
  return { cleaned: await read(report.outputs.cleaned), rejected: await read(report.outputs.rejected) };
}

/**
 * The invariant of issue 5: every input row appears exactly once across cleaned and rejected
 * (compared as a multiset of row ids), and the report's counts add up.
 */
export async function expectEveryRowOnce(report: ListReport, ids: string[], idColumn = 'id'): Promise<OutputRows> {
  const outputs = await readOutputs(report);
  const seen = [...outputs.cleaned, ...outputs.rejected].map((row) => row[idColumn] ?? '<missing id>');
  expect([...seen].sort()).toEqual([...ids].sort());
  expectCountsAddUp(report, ids.length);
  expect(outputs.cleaned.length).toBe(report.cleanedRows);
  expect(outputs.rejected.length).toBe(report.rejectedRows);
  return outputs;
}

export function expectCountsAddUp(report: ListReport, rows: number): void {
  const sum = (counts: Partial<Record<string, number>>) => Object.values(counts).reduce((a: number, b) => a + (b ?? 0), 0);
  expect(report.rows).toBe(rows);
  expect(sum(report.counts.byStatus)).toBe(rows);
  expect(sum(report.counts.byReason)).toBe(rows);
  expect(report.cleanedRows + report.rejectedRows).toBe(rows);
}

/** Files in a directory that are neither hidden temp files nor expected outputs. */
export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}

export interface CliRun {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `node dist/cli/bin.js ARGS` (the compiled CLI) with the given environment (on top of PATH/HOME only). */
export function runCli(args: string[], env: Record<string, string>, cwd = ROOT): CliRun {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exit };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 15_000, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Stops a child if it still runs, and waits for it. */
export async function killChild(run: CliRun): Promise<void> {
  if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL');
  await run.exit;
}
