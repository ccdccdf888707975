/**
 * The HTML report of one list: one self-contained file (`<name>.report.html`, beside the CSVs) that a
 * person opens in a browser, offline. Everything is inline — CSS, and the charts as inline SVG — and
 * a Content-Security-Policy forbids loading anything, so the file works without a network and never
 * phones home. Every value that came from the input (domains, MX names, file names) is HTML-escaped
 * here, at the boundary.
 *
 * Pure: a ListReport in, a string out. `writeHtmlReport` puts it on disk atomically.
 */
import path from 'node:path';
import { domainToUnicode } from 'node:url';
import type { DomainReport, IdentityReport, ListReport, MxReport, OutcomeCounts, ProviderReport, SenderAlert } from '../collector/report.ts';
import { alertAction, alertCause } from './alert-text.ts';
import { ROW_LEVEL_OUTCOMES, type RowOutcome } from '../domain/row-outcome.ts';
import type { Status } from '../domain/verdict.ts';

export const STATUS_COLOURS: Readonly<Record<Status, string>> = Object.freeze({
  deliverable: '#2e7d32',
  risky: '#ef8f00',
  unknown: '#78909c',
  undeliverable: '#c62828',
});

/** Statuses in the order a reader thinks of them: good to bad. */
const STATUS_ORDER: readonly Status[] = ['deliverable', 'risky', 'unknown', 'undeliverable'];

const STATUS_WORDS: Readonly<Record<Status, string>> = Object.freeze({
  deliverable: 'Deliverable',
  risky: 'Risky',
  unknown: 'Unknown',
  undeliverable: 'Undeliverable',
});

/** Row-level outcomes (no mail server was asked about the row) in greys and muted tones. */
const OUTCOME_COLOURS: Readonly<Record<RowOutcome, string>> = Object.freeze({
  ...STATUS_COLOURS,
  duplicate: '#7e57c2',
  invalid_syntax: '#8d6e63',
  missing_email: '#b0bec5',
  malformed_row: '#5d4037',
});

const OUTCOME_WORDS: Readonly<Record<RowOutcome, string>> = Object.freeze({
  ...STATUS_WORDS,
  duplicate: 'Duplicate',
  invalid_syntax: 'Invalid address',
  missing_email: 'No address',
  malformed_row: 'Unreadable row',
});

/** One segment of a bar or one legend entry: an outcome (or, in old reports, a status) and its rows. */
interface Slice {
  key: RowOutcome;
  rows: number;
}

/**
 * The headline split: every row once, by outcome (statuses good to bad, then the row-level outcomes
 * that have rows). Reports written before outcomes were counted fall back to the status split.
 */
function headlineSlices(report: ListReport): Slice[] {
  const byOutcome = report.counts.byOutcome;
  if (!byOutcome) return STATUS_ORDER.map((status) => ({ key: status, rows: report.counts.byStatus[status] ?? 0 }));
  return [...STATUS_ORDER.map((status) => ({ key: status, rows: byOutcome[status] })), ...ROW_LEVEL_OUTCOMES.filter((o) => byOutcome[o] > 0).map((o) => ({ key: o, rows: byOutcome[o] }))];
}

/** A domain's rows by outcome (its status, or duplicate); old reports: by status. */
function domainSlices(d: DomainReport): Slice[] {
  const counts: Partial<Record<RowOutcome, number>> = d.byOutcome ?? d.byStatus;
  return [...STATUS_ORDER, 'duplicate' as const].map((key) => ({ key, rows: counts[key] ?? 0 }));
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const pct = (n: number, total: number): string => (total === 0 ? '0%' : `${((100 * n) / total).toFixed(n === total || n === 0 ? 0 : 1)}%`);

function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)} s`;
  const minutes = Math.floor(ms / 60_000);
  if (minutes < 60) return `${minutes} min ${Math.round((ms % 60_000) / 1_000)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Output base name of the list: "contacts" for contacts.cleaned.csv. */
export function reportBaseName(report: ListReport): string {
  return path.basename(report.outputs.report).replace(/\.report\.json$/, '');
}

/** `<name>.report.html` beside report.json. */
export function htmlReportPath(report: ListReport): string {
  return report.outputs.report.replace(/\.report\.json$/, '') + '.report.html';
}

/** One horizontal bar split by outcome (the headline chart, and each domain's split). */
function outcomeBar(slices: readonly Slice[], width: number, height: number, label: string): string {
  const total = slices.reduce((sum, slice) => sum + slice.rows, 0);
  let x = 0;
  const parts: string[] = [];
  for (const { key, rows: n } of slices) {
    if (n === 0 || total === 0) continue;
    const w = (width * n) / total;
    parts.push(`<rect x="${x.toFixed(2)}" y="0" width="${w.toFixed(2)}" height="${height}" fill="${OUTCOME_COLOURS[key]}"><title>${OUTCOME_WORDS[key]}: ${fmt(n)} (${pct(n, total)})</title></rect>`);
    x += w;
  }
  if (parts.length === 0) parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#e0e0e0"/>`);
  return `<svg class="bar" role="img" aria-label="${escapeHtml(label)}" viewBox="0 0 ${width} ${height}" width="100%" height="${height}" preserveAspectRatio="none" xmlns="http://www.w3.org/2000/svg">${parts.join('')}</svg>`;
}

/** Reasons as labelled horizontal bars, largest first. */
function reasonChart(report: ListReport): string {
  const entries = Object.entries(report.counts.byReason)
    .filter(([, n]) => (n ?? 0) > 0)
    .sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0) || a[0].localeCompare(b[0])) as Array<[string, number]>;
  if (entries.length === 0) return '<p class="muted">No rows.</p>';
  const max = Math.max(...entries.map(([, n]) => n));
  const rowH = 26;
  const labelW = 190;
  const barW = 420;
  const countW = 110;
  const width = labelW + barW + countW;
  const rows = entries.map(([reason, n], i) => {
    const y = i * rowH;
    const w = Math.max(2, (barW * n) / max);
    return (
      `<g transform="translate(0 ${y})">` +
      `<text x="${labelW - 8}" y="${rowH / 2 + 5}" text-anchor="end" class="svg-label">${escapeHtml(reason)}</text>` +
      `<rect x="${labelW}" y="4" width="${w.toFixed(2)}" height="${rowH - 8}" rx="3" fill="#3f51b5"/>` +
      `<text x="${labelW + w + 6}" y="${rowH / 2 + 5}" class="svg-count">${fmt(n)} (${pct(n, report.rows)})</text>` +
      `</g>`
    );
  });
  const height = entries.length * rowH;
  return `<svg class="chart" role="img" aria-label="Rows by reason" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" xmlns="http://www.w3.org/2000/svg">${rows.join('')}</svg>`;
}

function outcomeLegend(report: ListReport): string {
  const items = headlineSlices(report).map(({ key, rows: n }) => {
    const status = (STATUS_ORDER as readonly string[]).includes(key) ? ` data-status="${key}"` : '';
    return `<li data-outcome="${key}"${status}><span class="swatch" style="background:${OUTCOME_COLOURS[key]}"></span><span class="status-name">${OUTCOME_WORDS[key]}</span> <strong class="status-count">${fmt(n)}</strong> <span class="muted">${pct(n, report.rows)}</span></li>`;
  });
  return `<ul class="legend">${items.join('')}</ul>`;
}

/** Where each outcome's rows went: the same figures as the two files. */
function outcomeFilesTable(byFile: { cleaned: OutcomeCounts; rejected: OutcomeCounts }, report: ListReport): string {
  const rows = headlineSlices(report)
    .filter((slice) => slice.rows > 0)
    .map(({ key, rows: n }) => `<tr data-outcome="${key}"><td>${OUTCOME_WORDS[key]} <span class="muted">${key}</span></td><td class="num">${fmt(n)}</td><td class="num">${fmt(byFile.cleaned[key])}</td><td class="num">${fmt(byFile.rejected[key])}</td></tr>`);
  const total = `<tr class="total"><th>Total</th><th class="num">${fmt(report.rows)}</th><th class="num">${fmt(report.cleanedRows)}</th><th class="num">${fmt(report.rejectedRows)}</th></tr>`;
  return `<table class="narrow" id="outcome-files"><thead><tr><th>Outcome</th><th class="num">Rows</th><th class="num">In ${escapeHtml(path.basename(report.outputs.cleaned))}</th><th class="num">In ${escapeHtml(path.basename(report.outputs.rejected))}</th></tr></thead><tbody>${rows.join('')}${total}</tbody></table>`;
}

function domainsTable(domains: readonly DomainReport[]): string {
  if (domains.length === 0) return '<p class="muted">No addresses with a domain.</p>';
  const rows = domains.map((d) => {
    const slices = domainSlices(d);
    const cells = slices.map((slice) => `<td class="num">${fmt(slice.rows)}</td>`).join('');
    // IDNs are stored as A-labels; a person reads the Unicode form (both are shown).
    const unicode = d.domain.includes('xn--') ? domainToUnicode(d.domain) : '';
    const label = unicode && unicode !== d.domain ? `${escapeHtml(unicode)} <span class="muted">(${escapeHtml(d.domain)})</span>` : escapeHtml(d.domain);
    return `<tr><td class="name">${label}</td><td class="num">${fmt(d.rows)}</td>${cells}<td class="mini">${outcomeBar(slices, 160, 12, `Rows of ${d.domain} by outcome`)}</td></tr>`;
  });
  const heads = [...STATUS_ORDER, 'duplicate' as const].map((key) => `<th class="num">${OUTCOME_WORDS[key]}</th>`).join('');
  return `<table><thead><tr><th>Domain</th><th class="num">Rows</th>${heads}<th>Split</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function mxTable(mx: readonly MxReport[]): string {
  if (mx.length === 0) return '<p class="muted">No mail server was contacted (cached verdicts, syntax-only run, or no address to probe).</p>';
  const sorted = [...mx].sort((a, b) => b.rcpts - a.rcpts || a.mx.localeCompare(b.mx));
  const rows = sorted.map((m) => {
    const codes = Object.entries(m.repliesByCode)
      .sort((a, b) => a[0].localeCompare(b[0]))
      .map(([code, n]) => `<span class="code code-${escapeHtml(code.slice(0, 1))}">${escapeHtml(code)}×${fmt(n)}</span>`)
      .join(' ');
    const perSession = m.sessions > 0 ? (m.rcpts / m.sessions).toFixed(1) : '–';
    // Paused: the server slowed us down and was left alone fleet-wide for this long (why: its reply).
    const paused = (m.pauses ?? 0) > 0 ? `${fmt(m.pauses ?? 0)}× ${duration(m.pausedMs ?? 0)}<div class="muted">${escapeHtml((m.pauseReasons ?? []).join(' · '))}</div>` : '–';
    return `<tr><td class="name">${escapeHtml(m.mx)}</td><td class="num">${fmt(m.sessions)}</td><td class="num">${fmt(m.rcpts)}</td><td class="num">${perSession}</td><td class="num">${fmt(m.reconnects)}</td><td>${codes}</td><td class="num">${duration(m.durationMs)}</td><td>${paused}</td></tr>`;
  });
  return `<table><thead><tr><th>MX host</th><th class="num">Sessions</th><th class="num">RCPTs</th><th class="num">RCPTs / session</th><th class="num">Reconnects</th><th>Replies by code</th><th class="num">Time waiting</th><th>Paused (why)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Rows and SMTP activity per provider (issue 14): rows by status from the hygiene_provider cells. */
function providersTable(providers: Readonly<Record<string, ProviderReport>>, rowsWithout: number | undefined): string {
  const entries = Object.entries(providers);
  if (entries.length === 0) return '<p class="muted">No row was answered by a known mailbox provider or gateway.</p>';
  const rows = entries.map(([slug, p]) => {
    const cells = STATUS_ORDER.map((status) => `<td class="num">${fmt(p.byStatus[status] ?? 0)}</td>`).join('');
    const blocks = p.blocks > 0 ? `<td class="num blocked">${fmt(p.blocks)}</td>` : '<td class="num">0</td>';
    return `<tr data-provider="${escapeHtml(slug)}"><td class="name">${escapeHtml(slug)}</td><td class="num">${fmt(p.rows)}</td>${cells}<td class="num">${fmt(p.sessions)}</td><td class="num">${fmt(p.rcpts)}</td>${blocks}<td class="num">${fmt(p.cooldowns)}</td></tr>`;
  });
  const heads = STATUS_ORDER.map((status) => `<th class="num">${STATUS_WORDS[status]}</th>`).join('');
  const none = rowsWithout !== undefined ? `<p class="muted">${fmt(rowsWithout)} rows have no provider (no server asked, or a server of no known provider).</p>` : '';
  return `<table id="provider-table"><thead><tr><th>Provider</th><th class="num">Rows</th>${heads}<th class="num">Sessions</th><th class="num">RCPTs</th><th class="num">Blocks</th><th class="num">Cooldowns</th></tr></thead><tbody>${rows.join('')}</tbody></table>${none}`;
}

/** SMTP activity per outbound identity (issue 15). */
function identitiesTable(identities: Readonly<Record<string, IdentityReport>>): string {
  const entries = Object.entries(identities);
  if (entries.length === 0) return '<p class="muted">No SMTP session served this list.</p>';
  const rows = entries.map(
    ([id, s]) =>
      `<tr data-identity="${escapeHtml(id)}"><td class="name">${escapeHtml(id)}</td><td class="num">${fmt(s.sessions)}</td><td class="num">${fmt(s.rcpts)}</td><td class="num${s.blocks > 0 ? ' blocked' : ''}">${fmt(s.blocks)}</td><td class="num">${fmt(s.cooldowns)}</td></tr>`,
  );
  return `<table class="narrow" id="identity-table"><thead><tr><th>Outbound identity</th><th class="num">Sessions</th><th class="num">RCPTs</th><th class="num">Blocks</th><th class="num">Cooldowns</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The loud box: servers refused OUR identity (not the addresses). Empty when there was no block. */
function alertBox(alerts: readonly SenderAlert[]): string {
  if (alerts.length === 0) return '';
  const items = alerts.map(
    (a) =>
      `<li data-severity="${a.severity}"><strong>${escapeHtml(a.provider ?? a.mx)}</strong> ${a.severity === 'block' ? 'refused' : 'slowed down'} identity <code>${escapeHtml(a.identity)}</code> (${escapeHtml(alertCause(a))}) at <code>${escapeHtml(a.mx)}</code>` +
      `<div class="reply">${escapeHtml(a.reply)}</div>` +
      `<div><b>Means:</b> ${escapeHtml(a.means)}</div><div><b>Do:</b> ${escapeHtml(alertAction(a))}</div>` +
      `<div class="muted">Rests until ${escapeHtml(a.cooldownUntil)} (cooldown level ${a.level}); its probes went to another identity where one could ask, else they are unknown/policy_block.</div></li>`,
  );
  return `<section id="alerts" class="alert" role="alert"><h2>${alerts.some((a) => a.severity === 'block') ? 'Sender blocked' : 'Sender throttled'}: ${alerts.length} alert${alerts.length === 1 ? '' : 's'} about our sending identity, not the addresses</h2><ul>${items.join('')}</ul></section>`;
}

function timingsTable(t: ListReport['timings']): string {
  const at = (iso?: string) => (iso ? escapeHtml(iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC')) : '–');
  const since = (iso?: string) => (iso ? duration(Date.parse(iso) - Date.parse(t.createdAt)) : '–');
  return (
    `<table class="narrow"><tbody>` +
    `<tr><th>Started</th><td>${at(t.createdAt)}</td><td></td></tr>` +
    `<tr><th>File read</th><td>${at(t.parsedAt)}</td><td class="num">+${since(t.parsedAt)}</td></tr>` +
    `<tr><th>Jobs queued</th><td>${at(t.enqueuedAt)}</td><td class="num">+${since(t.enqueuedAt)}</td></tr>` +
    `<tr><th>Finished</th><td>${at(t.finishedAt)}</td><td class="num">+${since(t.finishedAt)}</td></tr>` +
    `<tr><th>Total</th><td colspan="2" class="total">${duration(t.totalMs)} <span class="muted">(writing the files: ${duration(t.collectMs)})</span></td></tr>` +
    `</tbody></table>`
  );
}

const CSS = `
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1c2430;background:#f5f6f8}
main{max-width:1080px;margin:0 auto;padding:24px}h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:0 0 12px}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:18px 20px;margin:16px 0}
.muted{color:#667085}.cards{display:flex;flex-wrap:wrap;gap:12px;margin-top:16px}
.card{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:12px 16px;min-width:150px}
.card .value{font-size:26px;font-weight:650}.card .label{color:#667085;font-size:13px}
.legend{list-style:none;padding:0;margin:12px 0 0;display:flex;flex-wrap:wrap;gap:18px}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
svg.bar{display:block;border-radius:4px;overflow:hidden}.svg-label{font-size:13px;fill:#1c2430}.svg-count{font-size:12px;fill:#475467}
table{border-collapse:collapse;width:100%}th,td{padding:6px 8px;border-bottom:1px solid #eef0f3;text-align:left;vertical-align:middle}
th{font-size:13px;color:#475467;font-weight:600}.num{text-align:right;font-variant-numeric:tabular-nums}
td.name{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:13px;word-break:break-all}td.mini{width:170px}
table.narrow{width:auto}table.narrow th{padding-right:24px}
.code{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;border-radius:3px;padding:1px 5px;background:#eceff1;white-space:nowrap}
.code-2{background:#e8f5e9}.code-4{background:#fff3e0}.code-5{background:#ffebee}
footer{color:#667085;font-size:12px;margin:8px 0 24px}
section.alert{background:#fdecea;border:2px solid #c62828}section.alert h2{color:#b71c1c}section.alert li{margin:8px 0}
.reply{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;background:#fff;border-radius:3px;padding:2px 6px;margin:4px 0;word-break:break-all}
td.blocked{color:#b71c1c;font-weight:700}
`;

export function renderHtmlReport(report: ListReport): string {
  const name = reportBaseName(report);
  const file = (p: string) => escapeHtml(path.basename(p));
  const card = (value: string, label: string, id: string) => `<div class="card" data-card="${id}"><div class="value">${value}</div><div class="label">${label}</div></div>`;
  const topDomains = report.topDomains ?? [];
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="list-hygiene">
<title>List hygiene report: ${escapeHtml(name)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>List hygiene report: ${escapeHtml(name)}</h1>
<div class="muted">Input <code>${file(report.input)}</code>, email column “${escapeHtml(report.emailColumn.name)}”, list ${escapeHtml(report.listId)}</div>
<div class="cards">
${card(fmt(report.rows), 'rows in the file', 'rows')}
${card(fmt(report.cleanedRows), `kept in ${file(report.outputs.cleaned)}`, 'cleaned')}
${card(fmt(report.rejectedRows), `moved to ${file(report.outputs.rejected)}`, 'rejected')}
${card(fmt(report.uniqueAddresses), 'unique addresses', 'unique')}
${card(`${fmt(report.cache.probed)} / ${fmt(report.cache.hits)}`, 'probed now / from cache', 'cache')}
</div>
</header>
${alertBox(report.alerts ?? [])}
<section id="status">
<h2>Rows by outcome</h2>
${outcomeBar(headlineSlices(report), 1000, 28, 'Rows by outcome')}
${outcomeLegend(report)}
<p class="muted">Each row is counted once: a duplicate, an invalid or missing address and an unreadable row have their own line (a duplicate's status column repeats its first occurrence's). Rejected rows are those matching the policy <code>${escapeHtml(report.rejectPolicy)}</code>.</p>
${report.counts.byFile ? outcomeFilesTable(report.counts.byFile, report) : ''}
</section>

<section id="reasons">
<h2>Reasons</h2>
${reasonChart(report)}
</section>

<section id="domains">
<h2>Top domains</h2>
${domainsTable(topDomains)}
</section>

<section id="mx">
<h2>Mail servers</h2>
${mxTable(report.mx)}
</section>

${
  report.providers
    ? `<section id="providers">
<h2>Providers</h2>
${providersTable(report.providers, report.counts.byProvider?.none)}
</section>

<section id="identities">
<h2>Outbound identities</h2>
${identitiesTable(report.identities ?? {})}
</section>
`
    : ''
}
<section id="timings">
<h2>Timings</h2>
${timingsTable(report.timings)}
</section>
<footer>Generated by list-hygiene at ${escapeHtml(report.timings.finishedAt)}. Machine-readable figures: ${file(report.outputs.report)}.</footer>
</main>
</body>
</html>
`;
}
