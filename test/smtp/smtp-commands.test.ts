import { describe, expect, it } from 'vitest';
import { isHygieneError } from '../../src/errors.ts';
import * as commands from '../../src/smtp/smtp-commands.ts';
import { assertSafeCommandLine, ehlo, helo, mailFrom, quit, rcptTo, rset, starttls } from '../../src/smtp/smtp-commands.ts';

function unsafe(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(isHygieneError(caught, 'SMTP_UNSAFE_INPUT'), `expected SMTP_UNSAFE_INPUT from ${fn.toString()}`).toBe(true);
}

describe('smtp-commands', () => {
  it('builds the commands', () => {
    expect(ehlo('probe.example.org')).toBe('EHLO probe.example.org');
    expect(helo('[192.0.2.1]')).toBe('HELO [192.0.2.1]');
    expect(ehlo('[IPv6:2001:db8::1]')).toBe('EHLO [IPv6:2001:db8::1]');
    expect(mailFrom('bounce@probe.example.org')).toBe('MAIL FROM:<bounce@probe.example.org>');
    expect(mailFrom('')).toBe('MAIL FROM:<>');
    expect(mailFrom('bounce@probe.example.org', { smtputf8: true })).toBe('MAIL FROM:<bounce@probe.example.org> SMTPUTF8');
    expect(rcptTo('x@example.com')).toBe('RCPT TO:<x@example.com>');
    expect(rcptTo('"john doe"@example.com')).toBe('RCPT TO:<"john doe"@example.com>');
    expect(rcptTo("o'brien+tag@sub.example.co.uk")).toBe("RCPT TO:<o'brien+tag@sub.example.co.uk>");
    expect(rcptTo('x@[192.0.2.7]')).toBe('RCPT TO:<x@[192.0.2.7]>');
    expect(rcptTo('jörg@bücher.example')).toBe('RCPT TO:<jörg@bücher.example>');
    expect(rset()).toBe('RSET');
    expect(quit()).toBe('QUIT');
    expect(starttls()).toBe('STARTTLS');
  });

  it('has no way to build DATA or BDAT', () => {
    const names = Object.keys(commands).map((n) => n.toLowerCase());
    expect(names).not.toContain('data');
    expect(names).not.toContain('bdat');
  });

  it('rejects unsafe addresses', () => {
    const bad = [
      'x@example.com>\r\nDATA',
      'x@example.com\r\nRCPT TO:<y@example.com>',
      'x@example.com\n',
      'x\r@example.com',
      'x\0@example.com',
      'x@exa\tmple.com',
      '<x@example.com>',
      'x@example.com> SIZE=1',
      'john doe@example.com',
      ' x@example.com',
      'x@example.com ',
      'x\u0085@example.com',
      'x\u001b[31m@example.com',
      `${'a'.repeat(64)}@${'b'.repeat(186)}.com`,
      `${'a'.repeat(65)}@example.com`,
      'RCPT TO:x@example.com',
      'DATA: x@example.com',
      'x@',
      '@example.com',
      'x',
      'x@localhost',
      'x..y@example.com',
      '.x@example.com',
      'x@-bad.example.com',
      'x@[999.1.1.1]',
      '"unterminated@example.com',
      '"a"b"@example.com',
      '"tab\there"@example.com',
    ];
    for (const address of bad) {
      unsafe(() => rcptTo(address));
      unsafe(() => mailFrom(address));
    }
    // 254 bytes exactly is allowed.
    const max = `${'a'.repeat(64)}@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(6)}`;
    expect(max.length).toBe(254);
    expect(rcptTo(max)).toBe(`RCPT TO:<${max}>`);
  });

  it('needs SMTPUTF8 for a non-ASCII sender', () => {
    unsafe(() => mailFrom('jörg@example.com'));
    expect(mailFrom('jörg@example.com', { smtputf8: true })).toBe('MAIL FROM:<jörg@example.com> SMTPUTF8');
  });

  it('rejects bad EHLO/HELO names', () => {
    for (const name of ['', 'probe example.org', 'probe.example.org\r\nMAIL FROM:<>', 'localhost', '-x.example.org', '[1.2.3]', 'x_y.example.org', `${'a'.repeat(64)}.org`]) {
      unsafe(() => ehlo(name));
      unsafe(() => helo(name));
    }
  });

  it('the last guard refuses DATA, BDAT and line breaks', () => {
    for (const line of ['DATA', 'data', 'Data ', 'BDAT 100 LAST', ' bdat 1', 'RCPT TO:<x@y.z>\r\nDATA', 'NOOP\n', '', 'x'.repeat(511)]) {
      unsafe(() => assertSafeCommandLine(line));
    }
    expect(() => assertSafeCommandLine('RCPT TO:<data@example.com>')).not.toThrow();
    expect(() => assertSafeCommandLine('RSET')).not.toThrow();
  });
});
