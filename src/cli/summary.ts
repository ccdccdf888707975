/**
 * The final summary a person reads after `hygiene verify`: where the files are, the rows by outcome
 * (each row once: duplicates and other row-level answers on their own lines, so the figures match
 * the files) with their split between the two files, the rows by reason, per MX host and per
 * provider, per outbound identity when there are several, and a loud SENDER BLOCKED box when a
 * server refused our identity (report.json `alerts`).
 */
import { existsSync } from 'node:fs';
import type { ListReport, OutcomeCounts } from '../collector/report.ts';
import { ROW_OUTCOMES } from '../domain/row-outcome.ts';
import { alertLines } from '../report/alert-text.ts';

export function formatSummary(report: ListReport): string {
  const lines: string[] = [];
  lines.push(`List ${report.listId}: ${report.rows} rows, ${report.uniqueAddresses} unique addresses`);
  lines.push(`  cleaned:  ${report.outputs.cleaned} (${report.cleanedRows} rows)`);
  lines.push(`  rejected: ${report.outputs.rejected} (${report.rejectedRows} rows)`);
  lines.push(`  report:   ${report.outputs.report}`);
  const html = report.outputs.report.replace(/\.report\.json$/, '.report.html');
  if (html !== report.outputs.report && existsSync(html)) lines.push(`  html:     ${html}`);
  lines.push('');
  const { byOutcome, byFile } = report.counts;
  // Reports written before outcomes were counted (issue 16) have only the status split.
  lines.push(byOutcome && byFile ? outcomeTable(byOutcome, byFile, report) : table('status', report.counts.byStatus, report.rows));
  lines.push('');
  lines.push(table('reason', report.counts.byReason, report.rows));
  lines.push('');
  lines.push(`Cache hits: ${report.cache.hits}, probed: ${report.cache.probed}, took ${(report.timings.totalMs / 1000).toFixed(1)} s`);
  if (report.mx.length > 0) {
    lines.push('');
    // The host column is as wide as the longest name (Microsoft 365 names run past 40 characters).
    const width = Math.max(32, ...report.mx.map((mx) => mx.mx.length));
    lines.push(`${'MX host'.padEnd(width)} sessions   RCPTs  reconnects  paused`);
    for (const mx of report.mx) {
      const paused = (mx.pauses ?? 0) > 0 ? `${mx.pauses}x ${seconds(mx.pausedMs ?? 0)} (${(mx.pauseReasons ?? []).join('; ')})` : '-';
      lines.push(`${mx.mx.padEnd(width)} ${String(mx.sessions).padStart(8)} ${String(mx.rcpts).padStart(7)} ${String(mx.reconnects).padStart(11)}  ${paused}`);
    }
  }
  const providers = Object.entries(report.providers ?? {});
  if (providers.length > 0) {
    lines.push('');
    lines.push(providerTable(providers));
  }
  const identities = Object.entries(report.identities ?? {});
  // One identity is the usual case and its figures are the providers' sum: shown only for a pool or a block.
  if (identities.length > 1 || (identities.length === 1 && (report.alerts ?? []).length > 0)) {
    lines.push('');
    lines.push('identity                  sessions   RCPTs  blocks  throttles  cooldowns');
    for (const [id, s] of identities) lines.push(`${id.padEnd(24)} ${String(s.sessions).padStart(9)} ${String(s.rcpts).padStart(7)} ${String(s.blocks).padStart(7)} ${String(s.throttles ?? 0).padStart(10)} ${String(s.cooldowns).padStart(10)}`);
  }
  const alerts = report.alerts ?? [];
  if (alerts.length > 0) {
    lines.push('');
    lines.push('!'.repeat(78));
    const blocks = alerts.filter((a) => a.severity === 'block').length;
    const throttles = alerts.length - blocks;
    const what = [blocks > 0 ? `${blocks} sender block${blocks === 1 ? '' : 's'}` : '', throttles > 0 ? `${throttles} throttle${throttles === 1 ? '' : 's'}` : ''].filter(Boolean).join(' and ');
    lines.push(`!! ${what}: servers refused or slowed OUR sending identity, not the addresses (docs/statuses.md: policy_block)`);
    for (const alert of alerts) for (const line of alertLines(alert)) lines.push(`!! ${line}`);
    lines.push('!'.repeat(78));
  }
  return `${lines.join('\n')}\n`;
}

/** One line per provider: its rows (and the main statuses) and the list's SMTP activity with it. */
function providerTable(providers: Array<[string, NonNullable<ListReport['providers']>[string]]>): string {
  const width = Math.max('provider'.length, ...providers.map(([slug]) => slug.length));
  const out = [`${'provider'.padEnd(width)}   rows  deliverable  undeliverable  risky  unknown  sessions   RCPTs  blocks`];
  for (const [slug, p] of providers) {
    const st = (status: 'deliverable' | 'undeliverable' | 'risky' | 'unknown', w: number) => String(p.byStatus[status] ?? 0).padStart(w);
    out.push(`${slug.padEnd(width)} ${String(p.rows).padStart(6)} ${st('deliverable', 12)} ${st('undeliverable', 14)} ${st('risky', 6)} ${st('unknown', 8)} ${String(p.sessions).padStart(9)} ${String(p.rcpts).padStart(7)} ${String(p.blocks).padStart(7)}`);
  }
  return out.join('\n');
}

function seconds(ms: number): string {
  return ms >= 60_000 ? `${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s` : `${(ms / 1000).toFixed(1)}s`;
}

/** Rows by outcome, with the cleaned/rejected split; lines with no row are left out, the total is not. */
function outcomeTable(byOutcome: OutcomeCounts, byFile: { cleaned: OutcomeCounts; rejected: OutcomeCounts }, report: ListReport): string {
  const shown = ROW_OUTCOMES.filter((outcome) => byOutcome[outcome] > 0);
  const width = Math.max('outcome'.length, ...shown.map((o) => o.length));
  const percent = (n: number) => (report.rows ? ((100 * n) / report.rows).toFixed(1).padStart(6) : '     -');
  const line = (name: string, n: number, cleaned: number, rejected: number) => `${name.padEnd(width)} ${String(n).padStart(6)} ${percent(n)} ${String(cleaned).padStart(8)} ${String(rejected).padStart(9)}`;
  const out = [`${'outcome'.padEnd(width)}   rows      %  cleaned  rejected`];
  for (const outcome of shown) out.push(line(outcome, byOutcome[outcome], byFile.cleaned[outcome], byFile.rejected[outcome]));
  out.push(line('total', report.rows, report.cleanedRows, report.rejectedRows));
  return out.join('\n');
}

function table(title: string, counts: Partial<Record<string, number>>, total: number): string {
  const rows = Object.entries(counts).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0));
  const width = Math.max(title.length, ...rows.map(([k]) => k.length));
  const out = [`${title.padEnd(width)}   rows      %`];
  for (const [key, n] of rows) out.push(`${key.padEnd(width)} ${String(n).padStart(6)} ${total ? ((100 * (n ?? 0)) / total).toFixed(1).padStart(6) : '     -'}`);
  return out.join('\n');
}
