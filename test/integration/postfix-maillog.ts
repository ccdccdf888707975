/**
 * Reads what a Postfix smtpd logged about its clients (maillog_file lines, one event a line):
 *
 *   ... postfix/smtpd[PID]: connect from unknown[127.0.0.1]
 *   ... postfix/smtpd[PID]: NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 <x@d>: ...; from=<..> to=<x@d> proto=ESMTP helo=<..>
 *   ... postfix/smtpd[PID]: disconnect from unknown[127.0.0.1] ehlo=2 starttls=1 mail=1 rcpt=3/9 quit=1 commands=8/14
 *
 * The disconnect counters are "ok/total" per command ("n" alone when every one succeeded): a failed
 * command is an error in smtpd's error count (smtpd_soft_error_limit / smtpd_hard_error_limit),
 * which only an accepted message resets, and we never send one. Pure: text in, facts out.
 */

export interface CommandCount {
  ok: number;
  total: number;
}

export interface SmtpdSession {
  pid: string;
  /** Index of the connect line among all lines. */
  connectLine: number;
  /** Counters of the disconnect line (without `commands`); null while the session is still open. */
  counters: Record<string, CommandCount> | null;
  /** Failed commands in the session (sum of total - ok over every counter but `commands`). */
  failedCommands: number;
}

export interface SmtpdReject {
  pid: string;
  /** The reply as sent, e.g. "550 5.1.1 <x@d>: Recipient address rejected: User unknown in virtual mailbox table". */
  reply: string;
  to: string;
}

export interface MaillogFacts {
  sessions: SmtpdSession[];
  /** Most smtpd sessions open at the same time, by connect/disconnect order. */
  maxConcurrentSessions: number;
  rejects: SmtpdReject[];
  /** TLS handshakes smtpd logged (needs smtpd_tls_loglevel >= 1). */
  tlsSessions: number;
  /** smtpd lines a well-behaved client never causes, and any fatal/panic line. */
  complaints: string[];
}

const SMTPD = /postfix\/smtpd\[(\d+)\]: (.*)$/;
const COMPLAINT = /improper command pipelining|too many errors|synchronization|lost connection after|timeout after|warning:|error:|fatal:|panic:/;

export function readMaillog(text: string): MaillogFacts {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const sessions: SmtpdSession[] = [];
  const open = new Map<string, SmtpdSession>();
  const rejects: SmtpdReject[] = [];
  const complaints: string[] = [];
  let tlsSessions = 0;
  let maxConcurrentSessions = 0;

  lines.forEach((line, index) => {
    if (/\b(fatal|panic):/.test(line) && !SMTPD.test(line)) complaints.push(line);
    const m = SMTPD.exec(line);
    if (!m) return;
    const pid = m[1]!;
    const message = m[2]!;
    if (COMPLAINT.test(message)) complaints.push(line);
    if (message.startsWith('connect from ')) {
      const session: SmtpdSession = { pid, connectLine: index, counters: null, failedCommands: 0 };
      sessions.push(session);
      open.set(pid, session);
      maxConcurrentSessions = Math.max(maxConcurrentSessions, open.size);
      return;
    }
    if (message.startsWith('disconnect from ')) {
      const session = open.get(pid);
      open.delete(pid);
      if (!session) return;
      session.counters = parseCounters(message);
      session.failedCommands = Object.entries(session.counters)
        .filter(([name]) => name !== 'commands')
        .reduce((sum, [, c]) => sum + (c.total - c.ok), 0);
      return;
    }
    if (/TLS connection established from/.test(message)) tlsSessions += 1;
    const reject = /reject: RCPT from [^:]+: (\d{3} .*?); from=<[^>]*> to=<([^>]*)>/.exec(message);
    if (reject) rejects.push({ pid, reply: reject[1]!, to: reject[2]! });
  });
  return { sessions, maxConcurrentSessions, rejects, tlsSessions, complaints };
}

/** "ehlo=2 starttls=1 mail=1 rcpt=3/9 quit=1 commands=8/14" → { ehlo: {2,2}, ..., rcpt: {3,9}, ... }. */
export function parseCounters(disconnectLine: string): Record<string, CommandCount> {
  const counters: Record<string, CommandCount> = {};
  for (const [, name, ok, total] of disconnectLine.matchAll(/\b([a-z]+)=(\d+)(?:\/(\d+))?/g)) {
    counters[name!] = { ok: Number(ok), total: Number(total ?? ok) };
  }
  return counters;
}
