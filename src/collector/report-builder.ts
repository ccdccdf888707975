/**
 * The report builder: counts every joined row as the router writes it, and turns the counts plus
 * the list's facts into report.json's ListReport. Pure (no Redis, no files): the collector hands it
 * the per-MX figures it read.
 */
import { describePolicy, type RejectPolicy } from '../domain/routing-policy.ts';
import type { ListRecord } from '../queue/list-store.ts';
import type { ActivityStats } from '../store/redis-keys.ts';
import { providerCell } from './appended-columns.ts';
import type { JoinedRow, RowToJoin } from './row-join.ts';
import { DomainCounter, emptyOutcomeCounts, increment, type IdentityReport, type ListReport, type MxReport, type ProviderReport, type SenderAlert } from './report.ts';

/** counts.byProvider's key for rows whose hygiene_provider cell is empty (not a valid slug: slugs are lower-case ids). */
export const NO_PROVIDER = 'none';

interface ProviderRows {
  rows: number;
  byStatus: ProviderReport['byStatus'];
  byReason: ProviderReport['byReason'];
}

export class ListTally {
  rows = 0;
  /** The headline: each row once (see domain/row-outcome.ts), overall and per file. */
  readonly byOutcome = emptyOutcomeCounts();
  readonly byFile = { cleaned: emptyOutcomeCounts(), rejected: emptyOutcomeCounts() };
  readonly byStatus: ListReport['counts']['byStatus'] = {};
  readonly byReason: ListReport['counts']['byReason'] = {};
  cacheHits = 0;
  probed = 0;
  readonly domains = new DomainCounter();
  /** Rows by their hygiene_provider cell (the same function writes the cell, so the figures match the files). */
  readonly byProvider = new Map<string, ProviderRows>();
  rowsWithoutProvider = 0;

  add(row: RowToJoin, joined: JoinedRow): void {
    const { verdict } = joined;
    this.rows += 1;
    this.byOutcome[joined.outcome] += 1;
    this.byFile[joined.rejected ? 'rejected' : 'cleaned'][joined.outcome] += 1;
    increment(this.byStatus, verdict.status);
    increment(this.byReason, verdict.reason);
    if (joined.source === 'cache') this.cacheHits += 1;
    else if (joined.source === 'probe') this.probed += 1;
    if (row.check.kind === 'address') this.domains.add(row.check.parsed.domain, verdict.status, joined.source === 'duplicate');
    const provider = providerCell(verdict.provider);
    if (provider === '') this.rowsWithoutProvider += 1;
    else {
      let entry = this.byProvider.get(provider);
      if (entry === undefined) {
        entry = { rows: 0, byStatus: {}, byReason: {} };
        this.byProvider.set(provider, entry);
      }
      entry.rows += 1;
      increment(entry.byStatus, verdict.status);
      increment(entry.byReason, verdict.reason);
    }
  }
}

export interface ReportFacts {
  list: ListRecord;
  outputs: ListReport['outputs'];
  emailColumn: ListReport['emailColumn'];
  dialect: ListReport['dialect'];
  rejectPolicy: RejectPolicy;
  cleanedRows: number;
  rejectedRows: number;
  mx: MxReport[];
  /** Per-provider and per-identity SMTP activity of the list (app/mx-stats-recorder.ts). */
  activity?: ActivityStats;
  /** The list's sender-block alerts, oldest first. */
  alerts?: SenderAlert[];
  /** When the collector started (ms since epoch) and finished. */
  collectStartedMs: number;
  finishedAt: Date;
}

export function buildListReport(tally: ListTally, facts: ReportFacts): ListReport {
  const { list } = facts;
  const finishedAt = facts.finishedAt.toISOString();
  return {
    listId: list.id,
    input: list.input,
    outputs: facts.outputs,
    emailColumn: facts.emailColumn,
    dialect: facts.dialect,
    rejectPolicy: describePolicy(facts.rejectPolicy),
    rows: tally.rows,
    cleanedRows: facts.cleanedRows,
    rejectedRows: facts.rejectedRows,
    uniqueAddresses: list.uniqueAddresses,
    counts: { byOutcome: tally.byOutcome, byFile: tally.byFile, byStatus: tally.byStatus, byReason: tally.byReason, byProvider: providerRowCounts(tally) },
    cache: { hits: tally.cacheHits, probed: tally.probed },
    mx: facts.mx,
    providers: providerReports(tally, facts),
    identities: identityReports(facts),
    alerts: facts.alerts ?? [],
    topDomains: tally.domains.top(),
    timings: {
      createdAt: list.createdAt,
      parsedAt: list.parsedAt,
      enqueuedAt: list.enqueuedAt,
      finishedAt,
      totalMs: Date.parse(finishedAt) - Date.parse(list.createdAt),
      collectMs: facts.finishedAt.getTime() - facts.collectStartedMs,
    },
  };
}

function providerRowCounts(tally: ListTally): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [provider, entry] of [...tally.byProvider].sort((a, b) => b[1].rows - a[1].rows || a[0].localeCompare(b[0]))) counts[provider] = entry.rows;
  counts[NO_PROVIDER] = tally.rowsWithoutProvider;
  return counts;
}

/** Every provider with rows or activity: rows from the tally, sessions/RCPTs/cooldowns from the recorder, blocks from the alerts. */
function providerReports(tally: ListTally, facts: ReportFacts): Record<string, ProviderReport> {
  const slugs = new Set([...tally.byProvider.keys(), ...(facts.activity?.providers.keys() ?? []), ...(facts.alerts ?? []).flatMap((a) => (a.provider ? [a.provider] : []))]);
  const entries = [...slugs].map((slug): [string, ProviderReport] => {
    const rows = tally.byProvider.get(slug);
    const active = facts.activity?.providers.get(slug);
    return [
      slug,
      {
        rows: rows?.rows ?? 0,
        byStatus: rows?.byStatus ?? {},
        byReason: rows?.byReason ?? {},
        sessions: active?.sessions ?? 0,
        rcpts: active?.rcpts ?? 0,
        blocks: (facts.alerts ?? []).filter((a) => a.provider === slug && a.severity === 'block').length,
        throttles: (facts.alerts ?? []).filter((a) => a.provider === slug && a.severity === 'throttle').length,
        cooldowns: active?.cooldowns ?? 0,
      },
    ];
  });
  entries.sort((a, b) => b[1].rows - a[1].rows || b[1].rcpts - a[1].rcpts || a[0].localeCompare(b[0]));
  return Object.fromEntries(entries);
}

function identityReports(facts: ReportFacts): Record<string, IdentityReport> {
  const ids = new Set([...(facts.activity?.identities.keys() ?? []), ...(facts.alerts ?? []).map((a) => a.identity)]);
  const entries = [...ids].sort().map((id): [string, IdentityReport] => {
    const active = facts.activity?.identities.get(id);
    const mine = (facts.alerts ?? []).filter((a) => a.identity === id);
    return [id, { sessions: active?.sessions ?? 0, rcpts: active?.rcpts ?? 0, blocks: mine.filter((a) => a.severity === 'block').length, throttles: mine.filter((a) => a.severity === 'throttle').length, cooldowns: active?.cooldowns ?? 0 }];
  });
  return Object.fromEntries(entries);
}
