/**
 * The maillog reader the real-Postfix test relies on, against lines Postfix 3.7.11 wrote in a run
 * of that test (plus the complaints a misbehaving client would cause). Runs without Postfix.
 */
import { describe, expect, it } from 'vitest';
import { parseCounters, readMaillog } from './postfix-maillog.ts';

const LOG = `Nov 29 13:55:00 mx postfix/postfix-script[4400]: starting the Postfix mail system
Nov 29 13:55:00 mx postfix/master[4402]: daemon started -- version 3.7.11, configuration /tmp/x/etc
Nov 29 13:55:00 mx postfix/smtpd[4490]: connect from unknown[127.0.0.1]
Nov 29 13:55:00 mx postfix/smtpd[4496]: connect from unknown[127.0.0.1]
Nov 29 13:55:00 mx postfix/smtpd[4490]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 <someone1@elsewhere.test>: Relay access denied; from=<verify@verifier.test> to=<someone1@elsewhere.test> proto=ESMTP helo=<verifier.test>
Nov 29 13:55:00 mx postfix/smtpd[4490]: 8417920EBB6: client=unknown[127.0.0.1]
Nov 29 13:55:00 mx postfix/smtpd[4490]: 8417920EBB6: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <nobody1@real.test>: Recipient address rejected: User unknown in virtual mailbox table; from=<verify@verifier.test> to=<nobody1@real.test> proto=ESMTP helo=<verifier.test>
Nov 29 13:55:00 mx postfix/smtpd[4490]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=2/11 quit=1 commands=5/14
Nov 29 13:55:00 mx postfix/smtpd[4496]: Anonymous TLS connection established from unknown[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
Nov 29 13:55:00 mx postfix/smtpd[4496]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 mail=1 rcpt=7/16 quit=1 commands=10/19
Nov 29 13:55:00 mx postfix/smtpd[4490]: connect from unknown[127.0.0.1]
Nov 29 13:55:00 mx postfix/smtpd[4490]: disconnect from unknown[127.0.0.1] ehlo=1 mail=1 rcpt=0/9 quit=1 commands=3/12
`;

describe('readMaillog', () => {
  it('pairs connect/disconnect per smtpd pid and counts concurrency, rejects, TLS and failed commands', () => {
    const facts = readMaillog(LOG);
    expect(facts.sessions.map((s) => [s.pid, s.failedCommands])).toEqual([
      ['4490', 9],
      ['4496', 9],
      ['4490', 9],
    ]);
    expect(facts.maxConcurrentSessions).toBe(2);
    expect(facts.tlsSessions).toBe(1);
    expect(facts.complaints).toEqual([]);
    expect(facts.rejects).toEqual([
      { pid: '4490', reply: '554 5.7.1 <someone1@elsewhere.test>: Relay access denied', to: 'someone1@elsewhere.test' },
      { pid: '4490', reply: '550 5.1.1 <nobody1@real.test>: Recipient address rejected: User unknown in virtual mailbox table', to: 'nobody1@real.test' },
    ]);
  });

  it('reads "ok/total" and bare counters', () => {
    expect(parseCounters('disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 mail=1 rcpt=3/9 data=0/1 quit=1 commands=8/15')).toEqual({
      ehlo: { ok: 2, total: 2 },
      starttls: { ok: 1, total: 1 },
      mail: { ok: 1, total: 1 },
      rcpt: { ok: 3, total: 9 },
      data: { ok: 0, total: 1 },
      quit: { ok: 1, total: 1 },
      commands: { ok: 8, total: 15 },
    });
  });

  it('reports what a misbehaving client makes smtpd log, and open sessions', () => {
    const bad = [
      'Nov 29 13:55:00 mx postfix/smtpd[1]: connect from unknown[127.0.0.1]',
      'Nov 29 13:55:00 mx postfix/smtpd[1]: improper command pipelining after EHLO from unknown[127.0.0.1]: MAIL FROM:<a@b.test>\\r\\n',
      'Nov 29 13:55:01 mx postfix/smtpd[1]: too many errors after RCPT from unknown[127.0.0.1]',
      'Nov 29 13:55:01 mx postfix/smtpd[2]: connect from unknown[127.0.0.1]',
      'Nov 29 13:55:01 mx postfix/smtpd[2]: lost connection after RCPT from unknown[127.0.0.1]',
      'Nov 29 13:55:02 mx postfix/master[9]: fatal: bind 127.0.0.77 port 2525: Address already in use',
    ].join('\n');
    const facts = readMaillog(bad);
    expect(facts.complaints).toHaveLength(4);
    expect(facts.sessions.every((s) => s.counters === null)).toBe(true);
    expect(facts.maxConcurrentSessions).toBe(2);
  });
});
