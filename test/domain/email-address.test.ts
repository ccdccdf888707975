import { describe, expect, it } from 'vitest';
import { parseEmailAddress, parseGeneralAddress } from '../../src/domain/email-address.ts';

const good: Array<[cell: string, address: string, extra?: { asciiLocal?: boolean; key?: string }]> = [
  ['john.doe@example.com', 'john.doe@example.com'],
  ['  john@example.com  ', 'john@example.com'],
  ['\u00a0john@example.com\u00a0', 'john@example.com'],
  ['\u200bjohn@example.com', 'john@example.com'],
  // Issue 11: everything a spreadsheet or web page pastes around an address is trimmed, not only spaces.
  ['john@example.com\t', 'john@example.com'],
  ['\tjohn@example.com\t\t', 'john@example.com'],
  ['\u00a0\tjohn@example.com\u200b', 'john@example.com'],
  ['\ufeffjohn@example.com', 'john@example.com'],
  ['john@example.com\u2060', 'john@example.com'],
  ['\u200c\u200d\u200e\u200fjohn@example.com\u202f\u3000\u00ad', 'john@example.com'],
  ['\u2028john@example.com\u2029', 'john@example.com'],
  ['\u180ejohn@example.com\u2009', 'john@example.com'],
  ['mailto:\u200bjohn@example.com', 'john@example.com'],
  ['John <john@example.com\u200b>', 'john@example.com'],
  ['John.Doe@EXAMPLE.COM', 'John.Doe@example.com', { key: 'john.doe@example.com' }],
  ['mailto:john@example.com', 'john@example.com'],
  ['MAILTO:john@example.com', 'john@example.com'],
  ['<john@example.com>', 'john@example.com'],
  ['John Doe <john@example.com>', 'john@example.com'],
  ['"Doe, John" <john@example.com>', 'john@example.com'],
  ['user+tag@example.co.uk', 'user+tag@example.co.uk'],
  ["o'brien@example.ie", "o'brien@example.ie"],
  ['a!#$%&*+-/=?^_`{|}~@example.com', 'a!#$%&*+-/=?^_`{|}~@example.com'],
  ['"john doe"@example.com', '"john doe"@example.com'],
  ['"john..doe"@example.com', '"john..doe"@example.com'],
  ['"john@doe"@example.com', '"john@doe"@example.com'],
  ['"quote\\"inside"@example.com', '"quote\\"inside"@example.com'],
  ['info@bücher.test', 'info@xn--bcher-kva.test'],
  ['info@BÜCHER.test', 'info@xn--bcher-kva.test'],
  ['info@例え.テスト', 'info@xn--r8jz45g.xn--zckzah'],
  ['jörg@example.de', 'jörg@example.de', { asciiLocal: false }],
  ['用户@例子.广告', '用户@xn--fsqu00a.xn--4rr70v', { asciiLocal: false }],
  ['x@a-b.example.com', 'x@a-b.example.com'],
  ['x@123.example.com', 'x@123.example.com'],
  ['x@xn--bcher-kva.test', 'x@xn--bcher-kva.test'],
  [`${'a'.repeat(64)}@example.com`, `${'a'.repeat(64)}@example.com`],
  [`x@${'a'.repeat(63)}.com`, `x@${'a'.repeat(63)}.com`],
];

const bad: Array<[cell: string, reason: 'missing_email' | 'invalid_syntax', detailPart: RegExp]> = [
  ['', 'missing_email', /empty/],
  ['   ', 'missing_email', /empty/],
  ['\u00a0', 'missing_email', /empty/],
  ['<>', 'missing_email', /no address/],
  ['mailto:', 'missing_email', /no address/],
  ['john.example.com', 'invalid_syntax', /no @ sign/],
  ['@example.com', 'invalid_syntax', /nothing before the @/],
  ['john@', 'invalid_syntax', /nothing after the @/],
  ['john..doe@example.com', 'invalid_syntax', /two dots in a row/],
  ['.john@example.com', 'invalid_syntax', /starts with a dot/],
  ['john.@example.com', 'invalid_syntax', /ends with a dot/],
  ['john@example.com.', 'invalid_syntax', /domain ends with a dot/],
  ['john@.example.com', 'invalid_syntax', /domain starts with a dot/],
  ['john@example..com', 'invalid_syntax', /two dots/],
  ['john doe@example.com', 'invalid_syntax', /not allowed: a space/],
  ['john(comment)@example.com', 'invalid_syntax', /not allowed: "\("/],
  ['john,doe@example.com', 'invalid_syntax', /not allowed: ","/],
  ['john@exa mple.com', 'invalid_syntax', /not allowed: a space/],
  ['john@exa_mple.com', 'invalid_syntax', /not allowed: "_"/],
  ['john@-example.com', 'invalid_syntax', /hyphen/],
  ['john@example-.com', 'invalid_syntax', /hyphen/],
  ['john@localhost', 'invalid_syntax', /no dot/],
  ['john@1.2.3.4', 'invalid_syntax', /ends in a number/],
  ['john@[1.2.3.4]', 'invalid_syntax', /IP address literal/],
  ['john@[IPv6:2001:db8::1]', 'invalid_syntax', /IP address literal/],
  [`${'a'.repeat(65)}@example.com`, 'invalid_syntax', /longer than 64 characters/],
  [`${'é'.repeat(33)}@example.com`, 'invalid_syntax', /longer than 64 characters/],
  [`x@${'a'.repeat(64)}.com`, 'invalid_syntax', /longer than 63 characters/],
  [`a@${Array.from({ length: 5 }, () => 'b'.repeat(60)).join('.')}.com`, 'invalid_syntax', /domain is longer than 253/],
  [`${'a'.repeat(64)}@${Array.from({ length: 4 }, () => 'b'.repeat(47)).join('.')}`, 'invalid_syntax', /address is longer than 254/],
  ['"unclosed@example.com', 'invalid_syntax', /no closing quote/],
  ['"a"b"@example.com', 'invalid_syntax', /unescaped double quote/],
  ['"a\\"@example.com', 'invalid_syntax', /no closing quote|lone backslash/],
  ['john@example.com, jane@example.com', 'invalid_syntax', /more than one address/],
  ['john@example.com;jane@example.com', 'invalid_syntax', /more than one address/],
  ['john@exa<mple.com', 'invalid_syntax', /angle bracket/],
  ['<john@example.com', 'invalid_syntax', /angle bracket/],
  ['Name <john@example.com> extra', 'invalid_syntax', /angle bracket/],
  ['john@example.com\r\nDATA', 'invalid_syntax', /line break/],
  ['a@b.com\r\nDATA', 'invalid_syntax', /line break/],
  ['john@example.com>\r\nRCPT TO:<victim@example.com', 'invalid_syntax', /line break/],
  ['john@example.com\n', 'invalid_syntax', /line break/],
  ['john@example.com\r', 'invalid_syntax', /line break/],
  ['john\u0000@example.com', 'invalid_syntax', /NUL/],
  ['john\t@example.com', 'invalid_syntax', /tab/],
  // Trimming stops at a line break: CR/LF around an address is an injection attempt, never trimmed.
  ['john@example.com\t\r\n', 'invalid_syntax', /line break/],
  ['john@example.com\r\n\t', 'invalid_syntax', /line break/],
  ['\r\n\tjohn@example.com', 'invalid_syntax', /line break/],
  ['\t\u200b', 'missing_email', /empty/],
  ['john\u0007@example.com', 'invalid_syntax', /control character/],
  ['john\u0085@example.com', 'invalid_syntax', /control character/],
  ['"john\r\n"@example.com', 'invalid_syntax', /line break/],
  ['john@xn--.com', 'invalid_syntax', /hyphen/],
];

describe('parseEmailAddress', () => {
  it.each(good)('accepts %j', (cell, address, extra = {}) => {
    const parsed = parseEmailAddress(cell);
    expect(parsed).toMatchObject({ ok: true, original: cell, address });
    if (!parsed.ok) return;
    expect(parsed.key).toBe(extra.key ?? address.toLowerCase());
    expect(parsed.asciiLocal).toBe(extra.asciiLocal ?? true);
    expect(`${parsed.local}@${parsed.domain}`).toBe(parsed.address);
    expect(parsed.domain).toBe(parsed.domain.toLowerCase());
    expect(parsed.domain).toMatch(/^[a-z0-9.-]+$/);
  });

  it.each(bad)('rejects %j', (cell, reason, detailPart) => {
    const parsed = parseEmailAddress(cell);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.reason).toBe(reason);
    expect(parsed.detail).toMatch(detailPart);
    expect(parsed.original).toBe(cell);
    // Details are sentences a person reads.
    expect(parsed.detail).toMatch(/^[A-Z].*\.$/);
  });

  it('never lets CR, LF, NUL or angle brackets through in an accepted address', () => {
    const nasty = ['\r', '\n', '\u0000', '<', '>', '\u2028'];
    for (const ch of nasty) {
      for (const cell of [`a${ch}b@example.com`, `ab@exa${ch}mple.com`, `"a${ch}b"@example.com`, `ab@example.com${ch}`]) {
        const parsed = parseEmailAddress(cell);
        if (parsed.ok) expect(parsed.address).not.toMatch(/[\r\n\u0000<>]/);
      }
    }
  });
});

describe('the plain-address shortcut', () => {
  // parseEmailAddress answers plain ASCII addresses without the general path; whatever the cell,
  // both must give the same answer (same address, key, parts, or the same rejection).
  const edgeCases = [
    'Anna.Meyer@Example.COM',
    'a@b.co',
    'a@b.c',
    'a@b',
    'a@1.23',
    'a@x.123',
    'a@x.1a',
    `${'l'.repeat(64)}@example.com`,
    `${'l'.repeat(65)}@example.com`,
    `a@${'d'.repeat(63)}.com`,
    `a@${'d'.repeat(64)}.com`,
    `a@${`${'d'.repeat(60)}.`.repeat(4)}com`,
    `${'l'.repeat(60)}@${`${'d'.repeat(60)}.`.repeat(3)}com`,
    'a@-x.com',
    'a@x-.com',
    'a@x--y.com',
    'a..b@x.com',
    '.a@x.com',
    'a.@x.com',
    "o'brien+tag@x.com",
    'a@x..com',
    'a@.x.com',
    'a@x.com.',
    'a@@x.com',
    'a b@x.com',
    ' a@x.com',
    'a@x.com ',
    'mailto:a@x.com',
    '<a@x.com>',
    'a@[1.2.3.4]',
    'a@x_y.com',
    'ü@x.com',
    'a@bücher.test',
    '"a b"@x.com',
    'a@x.com\r\n',
  ];
  it('agrees with the general path on edge cases', () => {
    for (const cell of edgeCases) expect(parseEmailAddress(cell), cell).toEqual(parseGeneralAddress(cell));
  });

  it('agrees with the general path on random cells', () => {
    // Seeded LCG: the same cells on every run.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = 'aZ09.-_+@@..--xX"\' <>:;,ü\t';
    for (let n = 0; n < 20_000; n++) {
      let cell = '';
      const length = 1 + Math.floor(random() * 20);
      for (let i = 0; i < length; i++) cell += alphabet[Math.floor(random() * alphabet.length)];
      expect(parseEmailAddress(cell), JSON.stringify(cell)).toEqual(parseGeneralAddress(cell));
    }
  });

  it('agrees with the general path on random address-shaped cells', () => {
    let seed = 777;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const word = (chars: string, max: number) => {
      let out = '';
      const length = Math.floor(random() * max);
      for (let i = 0; i < length; i++) out += chars[Math.floor(random() * chars.length)];
      return out;
    };
    let valid = 0;
    for (let n = 0; n < 20_000; n++) {
      const local = word('abcXYZ019.+-_!#', 12);
      const labels = Array.from({ length: Math.floor(random() * 4) }, () => word('abcXY09-', random() < 0.05 ? 70 : 8));
      const cell = `${local}@${labels.join('.')}`;
      const parsed = parseEmailAddress(cell);
      if (parsed.ok) valid++;
      expect(parsed, JSON.stringify(cell)).toEqual(parseGeneralAddress(cell));
    }
    expect(valid).toBeGreaterThan(2_000);
  });
});
