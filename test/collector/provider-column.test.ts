/**
 * The hygiene_provider column (issue 14): the provider slug of the verdict, appended last in both
 * files, on the verbatim and the cell-by-cell write paths; a duplicate repeats its first
 * occurrence's provider; rows without a mail server (or a provider) have it empty. Pure: the router
 * writes through a real CsvWriter into memory.
 */
import { describe, expect, it } from 'vitest';
import { HYGIENE_COLUMNS, providerCell } from '../../src/collector/appended-columns.ts';
import { joinRow, type JoinContext } from '../../src/collector/row-join.ts';
import { checkRecord } from '../../src/csv/record-check.ts';
import { parseRejectPolicy } from '../../src/domain/routing-policy.ts';
import type { Verdict } from '../../src/domain/verdict.ts';
import { createAddressAnnotator } from '../../src/flags/address-annotator.ts';
import { lookedUpRow, memoryRouter } from './router-harness.ts';

const NOW = '2026-12-01T10:00:00.000Z';
const annotator = createAddressAnnotator();
const context: JoinContext = { now: NOW, policy: parseRejectPolicy(undefined), annotate: (a, v) => annotator.annotate(a, v) };
const google: Verdict = { status: 'deliverable', reason: 'accepted', detail: 'Accepted.', smtpReply: '250 2.1.5 OK', mx: 'gmail-smtp-in.l.google.com', checkedAt: NOW, provider: 'google', identity: 'direct' };
const missing: Verdict = { status: 'undeliverable', reason: 'mailbox_not_found', detail: 'No such user.', mx: 'acme-test.mail.protection.outlook.com', checkedAt: NOW, provider: 'microsoft', identity: 'direct' };
const plain: Verdict = { status: 'deliverable', reason: 'accepted', detail: 'Accepted.', mx: 'mx.acme.test', checkedAt: NOW };

async function route(lines: string[], recorded: Array<Verdict | undefined>, firstIndex: Array<number | undefined>) {
  const { router, text } = memoryRouter();
  for (const [index, line] of lines.entries()) {
    const looked = lookedUpRow(index, line, recorded[index], firstIndex[index]);
    await router.write(looked, joinRow(looked, context));
  }
  await router.end();
  const table = (t: string) => {
    const [head, ...rows] = t.trimEnd().split('\n');
    return { head: head!.split(','), last: rows.map((r) => r.split(',').at(-1)), rows };
  };
  return { cleaned: table(text.cleaned), rejected: table(text.rejected) };
}

describe('hygiene_provider', () => {
  it('is the last column of both files and holds the verdict provider slug (verbatim and cell-by-cell rows)', async () => {
    const out = await route(
      ['jane@gmail.test,Jane', 'JANE@gmail.test,Jane again', 'bob@acme.test,Bob', '=x@gmail.test,Eve', 'gone@acme-test.test,Gone', 'not an address,Nobody', ','],
      [google, google, plain, google, missing, undefined, undefined],
      [0, 0, undefined, undefined, undefined, undefined, undefined],
    );
    for (const file of [out.cleaned, out.rejected]) {
      expect(file.head.at(-1)).toBe('hygiene_provider');
      expect(file.head.slice(-3)).toEqual(['hygiene_flags', 'hygiene_address', 'hygiene_provider']);
    }
    // cleaned: jane (verbatim), bob (no provider), the formula row (written cell by cell).
    expect(out.cleaned.last).toEqual(['google', '', 'google']);
    // rejected: the duplicate (first occurrence's provider), the unknown mailbox, the invalid and the blank row.
    expect(out.rejected.last).toEqual(['google', 'microsoft', '', '']);
  });

  it('a duplicate carries the first occurrence provider in its verdict; row-level answers have none', () => {
    const dup = joinRow({ index: 3, check: checkRecord({ index: 3, line: 5, text: 'jane@gmail.test,x', blank: false }, ',', 0, 2, false).check, recorded: google, firstIndex: 0 }, context);
    expect(dup.verdict).toMatchObject({ reason: 'duplicate', provider: 'google' });
    const invalid = joinRow({ index: 4, check: checkRecord({ index: 4, line: 6, text: 'nope,x', blank: false }, ',', 0, 2, false).check, recorded: undefined, firstIndex: undefined }, context);
    expect(invalid.verdict.provider).toBeUndefined();
  });

  it('writes only a well-formed slug (a stored verdict is input too)', () => {
    expect(providerCell('google')).toBe('google');
    expect(providerCell('gmx-web.de')).toBe('gmx-web.de');
    expect(providerCell(undefined)).toBe('');
    expect(providerCell('')).toBe('');
    expect(providerCell('=HYPERLINK("x")')).toBe('');
    expect(providerCell('Google')).toBe('');
  });
});
