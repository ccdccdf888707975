/**
 * The final summary a person reads after `hygiene verify`: where the files are, the rows by outcome
 * (each row once: duplicates and other row-level answers on their own lines, so the figures match
 * the files) with their split between the two files, and the rows by reason.
 */
import { existsSync } from 'node:fs';
import type { ListReport, OutcomeCounts } from '../collector/report.ts';
import { ROW_OUTCOMES } from '../domain/row-outcome.ts';

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
    lines.push('MX host                          sessions   RCPTs  reconnects  paused');
    for (const mx of report.mx) {
      const paused = (mx.pauses ?? 0) > 0 ? `${mx.pauses}x ${seconds(mx.pausedMs ?? 0)} (${(mx.pauseReasons ?? []).join('; ')})` : '-';
      lines.push(`${mx.mx.padEnd(32)} ${String(mx.sessions).padStart(8)} ${String(mx.rcpts).padStart(7)} ${String(mx.reconnects).padStart(11)}  ${paused}`);
    }
  }
  return `${lines.join('\n')}\n`;
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
