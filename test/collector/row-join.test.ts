/**
 * The collector's pure parts without Redis or files: the row join (row + recorded verdict → verdict
 * written, annotation, outcome, file), the router writing through a real CsvWriter into memory, and
 * the tally that becomes report.json's counts.
 */
import { describe, expect, it } from 'vitest';
import { HYGIENE_COLUMNS } from '../../src/collector/appended-columns.ts';
import { ListTally } from '../../src/collector/report-builder.ts';
import { joinRow, type JoinContext, type RowToJoin } from '../../src/collector/row-join.ts';
import { checkRow } from '../../src/domain/row-check.ts';
import { parseRejectPolicy } from '../../src/domain/routing-policy.ts';
import type { Verdict } from '../../src/domain/verdict.ts';
import { createAddressAnnotator } from '../../src/flags/address-annotator.ts';
import { lookedUpRow, memoryRouter } from './router-harness.ts';

const NOW = '2026-12-01T10:00:00.000Z';
const annotator = createAddressAnnotator();
const context = (reject?: string): JoinContext => ({ now: NOW, policy: parseRejectPolicy(reject), annotate: (a, v) => annotator.annotate(a, v) });

const accepted: Verdict = { status: 'deliverable', reason: 'accepted', detail: 'The server accepted the address.', smtpReply: '250 2.1.5 Ok', mx: 'mx.acme.test', checkedAt: '2026-11-30T08:00:00.000Z' };

/** A row of `email,name` whose email cell is `email`, at data row `index`. */
function row(index: number, email: string, over: Partial<RowToJoin> = {}): RowToJoin {
  return { index, check: checkRow({ cells: [email, 'Someone'] }, 0, 2), recorded: undefined, firstIndex: undefined, ...over };
}

describe('joinRow', () => {
  it('gives a first occurrence its recorded verdict object itself (shared cells), from the cache or a probe', () => {
    const probed = joinRow(row(0, 'Jane Roe <JANE@acme.test>', { recorded: accepted, firstIndex: 0 }), context());
    expect(probed.verdict).toBe(accepted);
    expect(probed).toMatchObject({ source: 'probe', outcome: 'deliverable', rejected: false, annotation: { flags: '' } });
    const cached = joinRow(row(3, 'jane@acme.test', { recorded: { ...accepted, cached: true } }), context());
    expect(cached).toMatchObject({ source: 'cache', outcome: 'deliverable', rejected: false });
  });

  it('makes a later occurrence a duplicate that keeps the first status, counted on its own outcome line', () => {
    const joined = joinRow(row(7, 'JANE@acme.test', { recorded: accepted, firstIndex: 2 }), context());
    expect(joined.verdict).toEqual({ status: 'deliverable', reason: 'duplicate', detail: 'Same address as data row 3; only the first occurrence is kept.', checkedAt: accepted.checkedAt });
    expect(joined).toMatchObject({ source: 'duplicate', outcome: 'duplicate', rejected: true });
    // Kept only when the policy says so.
    const keepDuplicates: JoinContext = { ...context(), policy: { statuses: new Set(['undeliverable']), reasons: new Set(), flags: new Set() } };
    expect(joinRow(row(7, 'JANE@acme.test', { recorded: accepted, firstIndex: 2 }), keepDuplicates).rejected).toBe(false);
  });

  it('answers rows without an address from the row check, with that answer as the outcome', () => {
    const blank = joinRow({ index: 1, check: checkRow({ cells: ['', ''] }, 0, 2), recorded: undefined, firstIndex: undefined }, context());
    expect(blank).toMatchObject({ source: 'row', outcome: 'missing_email', rejected: true, annotation: undefined });
    expect(blank.verdict).toMatchObject({ status: 'undeliverable', reason: 'missing_email', checkedAt: NOW });
    const invalid = joinRow(row(2, 'not an address'), context());
    expect(invalid).toMatchObject({ outcome: 'invalid_syntax', rejected: true });
    const ragged = joinRow({ index: 3, check: checkRow({ cells: ['x', 'y', 'z'] }, 0, 2), recorded: undefined, firstIndex: undefined }, context());
    expect(ragged).toMatchObject({ outcome: 'malformed_row', rejected: true });
    expect(ragged.verdict.status).toBe('unknown');
  });

  it('never drops a row whose verdict is missing: unknown/not_verified, in cleaned by default', () => {
    const joined = joinRow(row(4, 'lost@acme.test'), context());
    expect(joined.verdict).toMatchObject({ status: 'unknown', reason: 'not_verified', checkedAt: NOW });
    expect(joined).toMatchObject({ source: 'missing', outcome: 'unknown', rejected: false });
  });

  it('routes by flags and keeps our own faults out of a status rule', () => {
    expect(joinRow(row(0, 'info@acme.test', { recorded: accepted }), context('role'))).toMatchObject({ rejected: true, annotation: { flags: 'role' } });
    const blocked: Verdict = { status: 'unknown', reason: 'policy_block', detail: 'Refused us.', checkedAt: NOW };
    expect(joinRow(row(0, 'a@acme.test', { recorded: blocked }), context('unknown')).rejected).toBe(false);
    expect(joinRow(row(0, 'a@acme.test', { recorded: blocked }), context('policy_block')).rejected).toBe(true);
  });
});

describe('RowRouter and ListTally', () => {
  it('writes every row to exactly one file, verbatim when nothing changes, and counts what it wrote', async () => {
    const { router, text } = memoryRouter();
    const tally = new ListTally();
    const records = ['"jane@acme.test",Jane', 'JANE@acme.test,Jane again', ',', 'bob@acme.test,Bob,extra', '=cmd@acme.test,Eve'];
    const recorded: Array<Verdict | undefined> = [accepted, accepted, undefined, { ...accepted, cached: true }, accepted];
    const firstIndex = [0, 0, undefined, undefined, undefined];
    for (const [index, line] of records.entries()) {
      const looked = lookedUpRow(index, line, recorded[index], firstIndex[index]);
      const joined = joinRow(looked, context());
      tally.add(looked, joined);
      await router.write(looked, joined);
    }
    await router.end();
    const cleanedLines = text.cleaned.trimEnd().split('\n');
    const rejectedLines = text.rejected.trimEnd().split('\n');
    expect(cleanedLines[0]).toBe(`email,name,${HYGIENE_COLUMNS.join(',')}`);
    // Its own text, quotes included.
    expect(cleanedLines[1]).toMatch(/^"jane@acme\.test",Jane,deliverable,accepted,/);
    // Ragged: the appended columns under their headers, the surplus cell after them.
    expect(cleanedLines.find((l) => l.startsWith('bob@'))).toMatch(/,extra$/);
    // The formula guard changed the cell: written cell by cell.
    expect(cleanedLines.find((l) => l.includes('cmd@'))).toMatch(/^'=cmd@acme\.test,Eve,deliverable/);
    expect(rejectedLines.slice(1).map((l) => l.split(',')[0])).toEqual(['JANE@acme.test', '']);
    expect([router.cleanedRows, router.rejectedRows]).toEqual([cleanedLines.length - 1, rejectedLines.length - 1]);
    expect(tally.rows).toBe(5);
    expect(tally.byReason).toEqual({ accepted: 3, duplicate: 1, missing_email: 1 });
    expect([tally.cacheHits, tally.probed]).toEqual([1, 2]);
  });
});
