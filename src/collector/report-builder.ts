/**
 * The report builder: counts every joined row as the router writes it, and turns the counts plus
 * the list's facts into report.json's ListReport. Pure (no Redis, no files): the collector hands it
 * the per-MX figures it read.
 */
import { describePolicy, type RejectPolicy } from '../domain/routing-policy.ts';
import type { ListRecord } from '../queue/list-store.ts';
import type { JoinedRow, RowToJoin } from './row-join.ts';
import { DomainCounter, emptyOutcomeCounts, increment, type ListReport, type MxReport } from './report.ts';

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
    counts: { byOutcome: tally.byOutcome, byFile: tally.byFile, byStatus: tally.byStatus, byReason: tally.byReason },
    cache: { hits: tally.cacheHits, probed: tally.probed },
    mx: facts.mx,
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
