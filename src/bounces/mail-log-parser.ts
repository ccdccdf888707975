/**
 * Reads one line of a Postfix or Exim main log and returns the bounce it records, if any. Pure.
 *
 * Postfix (smtp(8)/local(8) delivery status lines, one per recipient):
 *   ... postfix/smtp[123]: 4F9D1C0A3B: to=<x@d>, relay=mx.d[1.2.3.4]:25, delay=0.5,
 *       delays=0.1/0/0.2/0.2, dsn=5.1.1, status=bounced (host mx.d[1.2.3.4] said: 550 5.1.1 ...)
 *   status=bounced → judged by dsn (bounce-event.ts); status=deferred → soft; sent/expired → ignored
 *   (an expired message gave up after deferrals: nothing permanent is known about the address).
 * Exim (main log, flags after the message id):
 *   2024-01-15 10:00:00 1rPxyz-000abc-AB ** x@d R=dnslookup T=remote_smtp H=mx.d [1.2.3.4]:
 *       SMTP error from remote mail server after RCPT TO:<x@d>: 550 5.1.1 ...
 *   `**` delivery failed → judged by the reply; `==` deferred → soft. Other flags are ignored.
 */
import { cleanText, findEnhancedStatus, kindOfReply, kindOfStatus, type BounceEvent } from './bounce-event.ts';

const POSTFIX = /postfix(?:\/[\w.-]+)*\[\d+\]: [0-9A-Za-z]+: to=<([^>]*)>,(.*?)\bdsn=(\d\.\d{1,3}\.\d{1,3}), status=(\w+)(?: \((.*)\))?\s*$/;
const EXIM = /^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [+-]\d{4})? )?(?:\[\d+\] )?[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4} (\*\*|==) (\S+)(?: <([^>]*)>)?(.*)$/;

export function parseMailLogLine(line: string): BounceEvent | null {
  const postfix = POSTFIX.exec(line);
  if (postfix) {
    const [, recipient = '', , dsn = '', status = '', text = ''] = postfix;
    if (!recipient) return null;
    if (status === 'deferred') return { recipient, kind: 'soft', status: dsn, diagnostic: cleanText(text), source: 'postfix' };
    if (status !== 'bounced') return null;
    return { recipient, kind: kindOfStatus(dsn) ?? 'other', status: dsn, diagnostic: cleanText(text), source: 'postfix' };
  }
  const exim = EXIM.exec(line);
  if (exim) {
    const [, flag, address = '', , rest = ''] = exim;
    // Exim logs "** address <original>": the address the MTA tried is the one that failed.
    const recipient = address.replace(/^<|>$/g, '').replace(/:$/, '');
    if (!recipient.includes('@')) return null;
    const diagnostic = cleanText(rest.replace(/^:\s*/, ''));
    const status = findEnhancedStatus(rest);
    if (flag === '==') return { recipient, kind: 'soft', status, diagnostic, source: 'exim' };
    return { recipient, kind: kindOfReply(rest), status, diagnostic, source: 'exim' };
  }
  return null;
}
