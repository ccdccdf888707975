/**
 * Baseline: today's engine (the real runtime and list runner, real Redis, test settings of
 * test/helpers/run-list.ts) over the provider world, measured per provider. Not part of `npm test`:
 * it reports what the engine gets wrong before the provider-aware pool exists, and is the yardstick
 * for that work. Run: node --import tsx test/world/provider-baseline.ts [--per-domain N]
 *
 * 1. samples/contacts-providers.csv on samples/world-providers.json: verdict and reason of each row
 *    against SAMPLE_EXPECTATIONS.
 * 2. A larger list (N addresses at each of Gmail, a Workspace domain, a Microsoft 365 tenant,
 *    Outlook.com and Yahoo) on a fresh world: verdicts per provider, and what the servers saw per
 *    provider (sessions, most at once across all its names and addresses, RCPTs, 452s for a second
 *    RCPT, throttles, blocks, RCPTs sent while blocked, error-limit penalties).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import type { WorldSpec } from '../../src/world/world-spec.ts';
import { forbidRealDns } from '../helpers/no-real-dns.ts';
import { deletePrefix, runList, startRuntime, tempDir, uniquePrefix, worldConfig, type ListOutputs } from '../helpers/run-list.ts';
import { providerOfDomain, SAMPLE_EXPECTATIONS, volumeWorld, type Expected } from './provider-expectations.ts';

interface RunResult {
  out: ListOutputs;
  world: MailWorld;
  seconds: number;
}

async function run(spec: WorldSpec, csv: string, label: string): Promise<RunResult> {
  const world = await startMailWorld(spec);
  const prefix = uniquePrefix(`baseline-${label}`);
  const runtime = await startRuntime(worldConfig(world, prefix));
  const dir = await tempDir(`baseline-${label}`);
  const file = path.join(dir, `${label}.csv`);
  await writeFile(file, csv);
  const started = Date.now();
  try {
    const out = await runList(runtime, file, path.join(dir, 'out'), { emailHeader: 'Email' });
    return { out, world, seconds: (Date.now() - started) / 1000 };
  } finally {
    await runtime.close();
    await world.stop();
    await deletePrefix(prefix);
  }
}

function verdictTable(rows: Array<{ email: string; expected: Expected }>, out: ListOutputs): string[] {
  const lines = ['| provider | rows | right | wrong (got → want) |', '|---|---|---|---|'];
  const byProvider = new Map<string, { rows: number; right: number; wrong: string[] }>();
  for (const { email, expected } of rows) {
    const row = out.byEmail.get(email);
    const got = `${row?.hygiene_status}/${row?.hygiene_reason}`;
    const ok = row?.hygiene_status === expected.status && (expected.reason === null || row?.hygiene_reason === expected.reason);
    const key = expected.provider || '(none)';
    const entry = byProvider.get(key) ?? { rows: 0, right: 0, wrong: [] };
    entry.rows++;
    if (ok) entry.right++;
    else entry.wrong.push(`${email}: ${got} → ${expected.status}/${expected.reason ?? '*'}`);
    byProvider.set(key, entry);
  }
  for (const [provider, e] of byProvider) {
    const shown = e.wrong.slice(0, 4).join('; ') + (e.wrong.length > 4 ? `; … (${e.wrong.length} in all)` : '');
    lines.push(`| ${provider} | ${e.rows} | ${e.right} | ${shown} |`);
  }
  return lines;
}

function serverTable(world: MailWorld): string[] {
  const lines = [
    '| provider | sessions | most at once (all names+addresses) | most at once on one host | RCPTs | 452 2nd-RCPT | throttled | blocks served | RCPTs while blocked | sessions while blocked | penalties | DATA |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const hosts = world.stats();
  for (const [name, o] of Object.entries(world.operatorStats())) {
    const own = o.hosts.map((h) => hosts[h]).filter((s) => s !== undefined);
    const sum = (pick: (s: (typeof own)[number]) => number) => own.reduce((n, s) => n + pick(s), 0);
    const perHostMax = Math.max(0, ...own.map((s) => s.maxConcurrentSessions));
    lines.push(
      `| ${name} | ${o.sessionsOpened} | ${o.maxConcurrentSessions} | ${perHostMax} | ${o.rcptCount} | ${sum((s) => s.tooManyRecipients)} | ${o.rateLimited} | ${o.blocksServed} | ${o.rcptsWhileBlocked} | ${o.sessionsWhileBlocked} | ${sum((s) => s.penalties)} | ${o.dataSeen} |`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { 'per-domain': { type: 'string' } } });
  const perDomain = Number(values['per-domain'] ?? 60);
  const guard = forbidRealDns();
  const report: string[] = [];
  try {
    const sampleSpec = await loadWorldSpecFile('samples/world-providers.json');
    const sampleCsv = `Email\n${Object.keys(SAMPLE_EXPECTATIONS).join('\n')}\n`;
    const sample = await run(sampleSpec, sampleCsv, 'sample');
    const sampleRows = Object.entries(SAMPLE_EXPECTATIONS).map(([email, expected]) => ({ email, expected }));
    report.push(`## Sample list (${sampleRows.length} rows, ${sample.seconds.toFixed(1)} s)`, '', ...verdictTable(sampleRows, sample.out), '', ...serverTable(sample.world), '');

    const volume = await volumeWorld(perDomain);
    const volumeCsv = `Email\n${volume.rows.map((r) => r.email).join('\n')}\n`;
    const big = await run(volume.spec, volumeCsv, 'volume');
    report.push(`## Volume list (${volume.rows.length} rows: ${perDomain} at each of ${[...new Set(volume.rows.map((r) => r.email.split('@')[1]))].join(', ')}; ${big.seconds.toFixed(1)} s)`, '');
    report.push(...verdictTable(volume.rows, big.out), '', ...serverTable(big.world), '');
    const reasons = Object.entries(big.out.report.counts.byReason).map(([r, n]) => `${r} ${n}`);
    report.push(`Reasons: ${reasons.join(', ')}`);
    report.push(`Providers in the output: ${big.out.cleaned[0] && 'hygiene_provider' in big.out.cleaned[0] ? 'yes' : 'no hygiene_provider column'}`);
    report.push(`Domains: ${[...new Set(volume.rows.map((r) => providerOfDomain(r.email.split('@')[1] ?? '')))].join(', ')}`);
  } finally {
    guard.restore();
  }
  report.push(`Real DNS attempts: ${guard.attempts.length === 0 ? 'none' : guard.attempts.join('; ')}`);
  process.stdout.write(`${report.join('\n')}\n`);
}

await main();
