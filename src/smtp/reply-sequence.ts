/**
 * Does a reply belong to the command it is matched with? Pure (bytes never touched here), tested
 * directly. With PIPELINING (RFC 2920 §3.2) replies are matched to commands by count alone, so a
 * server that skips a reply, answers twice or out of order shifts every later verdict onto the wrong
 * address. These checks catch a shift where the reply itself tells:
 *
 * - RFC 5321 §4.3.2: the codes each command may get. No command we send is answered 3xx (a 354 is
 *   DATA's, which we never send); QUIT gets 2xx (221).
 * - RFC 3463: X.1.0 is about the sender (MAIL), X.1.5 "destination address valid" about a recipient
 *   (RCPT). A MAIL answered 2.1.5 is a RCPT's reply. A RCPT answered 2.1.0 is a MAIL's reply once this
 *   server has shown it answers RCPT with 2.1.5, or, in a pipelined group, when it is a copy of the
 *   transaction's MAIL reply (a server that really answers RCPT so is then probed without pipelining).
 * - The echo: Postfix, Exim and sendmail print the address first (`550 5.1.1 <x@d>: ...`). A reply to
 *   RCPT TO:<b@d> that echoes <a@d> answers another command. Our own sender may be echoed at RCPT
 *   time (Postfix "Sender address rejected").
 */
import type { SmtpReply } from '../domain/smtp-reply.ts';

export interface SequenceContext {
  /** Our MAIL FROM address in this session, if one was sent. */
  mailFrom?: string;
  /** This server has answered a RCPT with 2.1.5 in this session. */
  rcptAnsweredWith215: boolean;
  /** The command was sent in a pipelined group of more than one command. */
  pipelined: boolean;
  /** The reply to this transaction's MAIL FROM, once received. */
  mailReply?: SmtpReply;
}

/** The first address the reply prints in angle brackets, lower-cased (`<x@d>`), if any. */
export function echoedAddress(reply: Pick<SmtpReply, 'lines'>): string | undefined {
  return /<([^<>\s]*@[^<>\s]*)>/.exec(reply.lines.join(' '))?.[1]?.toLowerCase();
}

/** The address of a `MAIL FROM:<...>` or `RCPT TO:<...>` line, lower-cased. */
export function commandAddress(line: string): string | undefined {
  return /^(?:MAIL FROM|RCPT TO):<([^<>]*)>/i.exec(line)?.[1]?.toLowerCase();
}

/** Why `reply` cannot answer `command` (a sentence), or null when it can. */
export function replyMisfit(command: string, reply: SmtpReply, context: SequenceContext): string | null {
  const verb = command.slice(0, 4).toUpperCase();
  if (verb !== 'MAIL' && verb !== 'RCPT' && verb !== 'RSET' && verb !== 'QUIT') return null;
  const cls = Math.floor(reply.code / 100);
  const addressStatus = reply.enhanced?.split('.').slice(1).join('.');
  const shown = quoted(reply);
  if (cls === 3) return `${shown} answers no command we send (it is an intermediate reply, like DATA's 354), but came for ${verb}`;
  const echoed = echoedAddress(reply);
  const mailFrom = context.mailFrom?.toLowerCase();
  switch (verb) {
    case 'MAIL':
      if (cls === 2 && addressStatus === '1.5') return `${shown} is a recipient's reply (${reply.enhanced}), but came for MAIL FROM`;
      if (echoed !== undefined && mailFrom !== undefined && echoed !== mailFrom) return `${shown} echoes <${echoed}>, but came for MAIL FROM:<${mailFrom}>`;
      if (/recipient address rejected/i.test(reply.lines.join(' '))) return `${shown} rejects a recipient, but came for MAIL FROM`;
      return null;
    case 'RCPT': {
      const address = commandAddress(command);
      if (echoed !== undefined && address !== undefined && echoed !== address && echoed !== mailFrom) return `${shown} echoes <${echoed}>, but came for RCPT TO:<${address}>`;
      if (cls === 2 && addressStatus === '1.0') {
        if (context.rcptAnsweredWith215) return `${shown} is a sender's reply (2.1.0) from a server that answers recipients with 2.1.5, but came for RCPT TO`;
        if (context.pipelined && context.mailReply?.raw === reply.raw) return `${shown} repeats the reply to MAIL FROM, but came for RCPT TO`;
      }
      return null;
    }
    case 'RSET':
      if (cls === 2 && addressStatus?.startsWith('1.')) return `${shown} is an address's reply (${reply.enhanced}), but came for RSET`;
      if (echoed !== undefined) return `${shown} echoes <${echoed}>, but came for RSET`;
      return null;
    default:
      if (cls !== 2) return `${shown} is not a reply to QUIT`;
      if (addressStatus?.startsWith('1.')) return `${shown} is an address's reply (${reply.enhanced}), but came for QUIT`;
      return null;
  }
}

/** The reply's first line, short: for messages. */
function quoted(reply: SmtpReply): string {
  const first = reply.raw.split(/\r?\n/)[0] ?? '';
  return `"${first.length > 120 ? `${first.slice(0, 117)}...` : first}"`;
}
