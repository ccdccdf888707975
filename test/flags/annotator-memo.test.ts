/** The annotator memoises domain facts; its flags must stay exactly flagAddress's, row after row. */
import { describe, expect, it } from 'vitest';
import type { Verdict } from '../../src/domain/verdict.ts';
import { createAddressAnnotator } from '../../src/flags/address-annotator.ts';
import { flagAddress, formatFlags, suggestDomain } from '../../src/flags/address-flags.ts';

const verdict = (status: Verdict['status'], reason: Verdict['reason']): Verdict => ({ status, reason, detail: '', checkedAt: '2024-01-01T00:00:00.000Z' });

describe('address annotator memo', () => {
  it('gives the same flags and suggestions as the pure functions, for repeated and new domains', () => {
    const annotator = createAddressAnnotator();
    const locals = ['info', 'Info+news', 'john', 'sales', 'x', 'SUPPORT+a+b', 'no-reply'];
    const domains = ['gmail.com', 'gmial.com', 'mailinator.com', 'acme.test', 'acme.con', 'yahoo.co.uk', 'sub.mailinator.com', 'hotmial.com'];
    for (let round = 0; round < 3; round++) {
      for (const local of locals) {
        for (const domain of domains) {
          for (const v of [verdict('deliverable', 'accepted'), verdict('undeliverable', 'mailbox_not_found'), verdict('unknown', 'not_verified')]) {
            const typo = v.status === 'deliverable' ? undefined : suggestDomain(domain);
            const expected = typo === undefined ? { flags: formatFlags(flagAddress({ local, domain })) } : { suggestion: `${local}@${typo}`, flags: formatFlags(flagAddress({ local, domain }, typo)) };
            expect(annotator.annotate({ local, domain }, v)).toEqual(expected);
          }
        }
      }
    }
  });
});
