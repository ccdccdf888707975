/**
 * What one bounce record says about one recipient, and how its status code is judged. Pure.
 *
 * Only a permanent failure that is about the recipient address suppresses it (RFC 3463: class 5
 * with subject X.1.x "addressing" — bad mailbox 5.1.1, bad domain 5.1.2, null MX 5.1.10 — or
 * X.2.1 "mailbox disabled"). Other permanent failures (5.7.x policy blocks, 5.2.2 mailbox full,
 * 5.4.x routing, 5.3.x system) say something about the sending server or the moment, not about the
 * address: they are counted as `other`, never suppressed. Class 4 (deferrals) is `soft`.
 */

export type BounceKind = 'hard' | 'soft' | 'other';

export interface BounceEvent {
  /** The recipient as logged (not yet normalised). */
  recipient: string;
  kind: BounceKind;
  /** RFC 3463 enhanced status code when known, e.g. "5.1.1". */
  status?: string;
  /** The remote server's reply or the MTA's diagnostic, as logged (trimmed to a sane length). */
  diagnostic: string;
  /** Which format it came from. */
  source: 'postfix' | 'exim' | 'dsn';
}

/** An RFC 3463 code, not the tail of an IPv4 address such as [192.0.2.5]. */
const ENHANCED = /(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\w|\.\d)/;

/** Judges an enhanced status code (RFC 3463); undefined when the text holds none. */
export function kindOfStatus(status: string | undefined): BounceKind | undefined {
  const m = status === undefined ? null : ENHANCED.exec(status);
  if (!m) return undefined;
  const [, cls, subject, detail] = m;
  if (cls === '4') return 'soft';
  if (cls !== '5') return undefined;
  if (subject === '1') return 'hard';
  if (subject === '2' && detail === '1') return 'hard';
  return 'other';
}

export function findEnhancedStatus(text: string): string | undefined {
  const m = ENHANCED.exec(text);
  return m ? `${m[1]}.${m[2]}.${m[3]}` : undefined;
}

/** Replies without an enhanced code: these texts mean "no such mailbox" on common MTAs. */
const NO_SUCH_USER = /user unknown|unknown user|no such user|does not exist|doesn't exist|mailbox unavailable|mailbox not found|invalid recipient|recipient address rejected|unrouteable address|no mailbox here/i;

/** Kind of a permanent failure judged from an SMTP reply (basic code and text) alone. */
export function kindOfReply(text: string): BounceKind {
  const status = findEnhancedStatus(text);
  const byStatus = kindOfStatus(status);
  if (byStatus) return byStatus;
  const code = /\b([45])\d\d\b/.exec(text)?.[1];
  if (code === '4') return 'soft';
  return NO_SUCH_USER.test(text) ? 'hard' : 'other';
}

const MAX_DIAGNOSTIC = 500;

/** Log text is hostile input: no control characters, bounded length. */
export function cleanText(text: string, max = MAX_DIAGNOSTIC): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
