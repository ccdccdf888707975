/** Verify jobs derive an address's parts from its domain list instead of parsing it again: same answer. */
import { describe, expect, it } from 'vitest';
import { parseEmailAddress } from '../../src/domain/email-address.ts';
import { storedAddress } from '../../src/queue/verify-processor.ts';

const CELLS = [
  'John.Doe@Example.COM',
  'mailto:ann@example.test',
  'Ann Smith <ann.smith@acme.test>',
  '"john doe"@example.com',
  '"a@b"@example.com',
  'jörg@bücher.test',
  'user+tag@sub.domain.example',
  'UPPER@xn--bcher-kva.test',
  "o'brien@example.ie",
  '  padded@example.org  ',
];

describe('storedAddress', () => {
  it.each(CELLS)('gives parseEmailAddress parts for %j', (cell) => {
    const parsed = parseEmailAddress(cell);
    if (!parsed.ok) throw new Error(`fixture ${cell} should parse`);
    expect(storedAddress(parsed.address, parsed.domain)).toEqual({
      key: parsed.key,
      item: { address: parsed.address, local: parsed.local, domain: parsed.domain, asciiLocal: parsed.asciiLocal },
    });
  });
  it('falls back to parsing when the address does not belong to the list domain', () => {
    expect(storedAddress('x@other.test', 'example.test')).toEqual({ key: 'x@other.test', item: { address: 'x@other.test', local: 'x', domain: 'other.test', asciiLocal: true } });
    expect(storedAddress('not an address', 'example.test')).toBeNull();
  });
});
