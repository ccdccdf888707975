/**
 * The provider-like rules of the simulated world, as data: reply templates (checked line by line,
 * filled in without letting a client's bytes break a reply), the per-client ledger (sliding windows,
 * blocks in total or within a window, sticky for a while), and what the world spec says about a
 * bad rule.
 */
import { describe, expect, it } from 'vitest';
import { isHygieneError } from '../../src/errors.ts';
import { ClientLedger } from '../../src/world/client-ledger.ts';
import { checkReplyTemplate, greetingDate, renderReply } from '../../src/world/host-rules.ts';
import { parseWorldSpec } from '../../src/world/world-spec.ts';

describe('reply templates', () => {
  it('accept one-line and multi-line replies with known placeholders', () => {
    expect(checkReplyTemplate('250 2.1.5 OK {sid} - gsmtp')).toBeNull();
    expect(checkReplyTemplate('550-5.1.1 first\n550-5.1.1 second\n550 5.1.1 last {rcpt}')).toBeNull();
    expect(checkReplyTemplate('421')).toBeNull();
  });

  it.each([
    ['', /must be a reply/],
    ['hello', /line 1 must start with a 3-digit code/],
    ['550 5.1.1 <{recipient}>', /unknown placeholder \{recipient\}/],
    ['550-5.1.1 a\n551 5.1.1 b', /line 2 has code 551/],
    ['550 a\n550 b', /line 1 must be a continuation line/],
    ['550-a\n550-b', /the last line must end the reply/],
    ['550 a\r', /CR/],
  ])('refuse %j', (template, problem) => {
    expect(checkReplyTemplate(template)).toMatch(problem);
  });

  it('limit the class where a rule needs one', () => {
    expect(checkReplyTemplate('250 ok', '45')).toMatch(/4xx or 5xx/);
  });

  it('fill placeholders and strip CR/LF from values that come from a client', () => {
    expect(renderReply('550 5.1.1 <{rcpt}>: user does not exist', { rcpt: 'a@b.test\r\n250 fake' })).toEqual(['550 5.1.1 <a@b.test250 fake>: user does not exist']);
    expect(renderReply('550-a {client}\n550 b', { client: '127.0.0.1' })).toEqual(['550-a 127.0.0.1', '550 b']);
    expect(renderReply('250 {unknown}', {})).toEqual(['250 {unknown}']);
    expect(greetingDate(Date.UTC(2025, 5, 22, 5, 58, 0))).toBe('Sun, 22 Jun 2025 05:58:00 +0000');
  });
});

describe('client ledger', () => {
  it('counts events in a sliding window per key', () => {
    let now = 0;
    const ledger = new ClientLedger(() => now);
    expect(ledger.countInWindow('k', 1000)).toBe(1);
    now = 500;
    expect(ledger.countInWindow('k', 1000)).toBe(2);
    expect(ledger.countInWindow('other', 1000)).toBe(1);
    now = 1200;
    expect(ledger.countInWindow('k', 1000)).toBe(2);
  });

  it('blocks a client for a while, then starts its count again from zero', () => {
    let now = 0;
    const ledger = new ClientLedger(() => now);
    expect([1, 2, 3].map(() => ledger.countTowardsBlock('c', 0))).toEqual([1, 2, 3]);
    ledger.block('c', 1000);
    expect(ledger.isBlocked('c')).toBe(true);
    expect(ledger.isBlocked('d')).toBe(false);
    now = 1000;
    expect(ledger.isBlocked('c')).toBe(false);
    expect(ledger.countTowardsBlock('c', 0)).toBe(1);
    ledger.block('c', 0);
    now = 1e12;
    expect(ledger.isBlocked('c')).toBe(true);
  });

  it('counts towards a block within a window when the rule has one', () => {
    let now = 0;
    const ledger = new ClientLedger(() => now);
    expect(ledger.countTowardsBlock('c', 60_000)).toBe(1);
    now = 30_000;
    expect(ledger.countTowardsBlock('c', 60_000)).toBe(2);
    now = 70_000;
    expect(ledger.countTowardsBlock('c', 60_000)).toBe(2);
  });
});

describe('world spec: provider-like rules', () => {
  it('lists every problem of the rules, named behaviours, extra addresses and operators at once', () => {
    try {
      parseWorldSpec({
        behaviours: { ok: { acceptAll: true } },
        mxHosts: {
          'a.test': { ip: '127.0.20.1', extraIps: ['127.0.20.2', '10.0.0.1'], operator: 'Big Co', uses: 'missing' },
          'b.test': {
            ip: '127.0.20.2',
            uses: 'ok',
            behaviour: {
              replies: { unknownUser: '250 fine', bogus: '550 x', ehlo: 'two\nlines' },
              rcptsPerTransaction: 0,
              block: { afterRcpts: -1, stage: 'DATA', reply: '250 ok', color: 1 },
              rateLimits: [{ count: 'helo', max: 0, windowMs: 1000, reply: '421 4.7.0 slow down' }],
              greeting: '220 {nope}',
            },
          },
        },
        domains: { 'x.test': { mx: [{ host: 'b.test', preference: 1 }], throttled: ['bad local'] } },
      });
      expect.unreachable();
    } catch (err) {
      expect(isHygieneError(err, 'WORLD_SPEC_INVALID')).toBe(true);
      const text = ((err as { context: { problems: string[] } }).context.problems ?? []).join('\n');
      for (const re of [
        /a\.test\.extraIps\[1\]: must be an IPv4 address in 127/,
        /a\.test\.operator: must be a lower-case name/,
        /a\.test\.uses: must name one of the world's behaviours \(ok\)/,
        /127\.0\.20\.2 is already used by a\.test/,
        /replies\.unknownUser: must be a 4xx or 5xx reply/,
        /replies\.bogus: unknown reply/,
        /replies\.ehlo: must be the one-line text/,
        /rcptsPerTransaction: must be an integer >= 1/,
        /block\.color: unknown field/,
        /block\.afterRcpts: must be an integer >= 0/,
        /block\.stage: must be "MAIL" or "RCPT"/,
        /block\.reply: must be a 4xx or 5xx reply/,
        /rateLimits\[0\]\.count: must be "connection", "mail" or "rcpt"/,
        /rateLimits\[0\]\.max: must be an integer >= 1/,
        /greeting: unknown placeholder \{nope\}/,
        /throttled\[0\]: local parts may not contain spaces/,
      ]) {
        expect(text).toMatch(re);
      }
    }
  });

  it('lays a host behaviour over its named one, replies reply by reply', () => {
    const spec = parseWorldSpec({
      behaviours: { base: { acceptAll: true, replies: { rcptOk: '250 2.1.5 OK base', mailOk: '250 2.1.0 base' } } },
      mxHosts: { 'a.test': { ip: '127.0.20.1', extraIps: ['127.0.20.3'], operator: 'big', uses: 'base', behaviour: { replies: { mailOk: '250 2.1.0 own' } } } },
      domains: {},
    });
    const host = spec.mxHosts['a.test'];
    expect(host?.behaviour.acceptAll).toBe(true);
    expect(host?.behaviour.replies.rcptOk).toBe('250 2.1.5 OK base');
    expect(host?.behaviour.replies.mailOk).toBe('250 2.1.0 own');
    expect(host?.behaviour.replies.unknownUser).toMatch(/User unknown in virtual mailbox table/);
    expect(host?.extraIps).toEqual(['127.0.20.3']);
    expect(host?.operator).toBe('big');
  });
});
