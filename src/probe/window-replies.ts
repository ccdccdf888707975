/**
 * Reads the replies of one pipelined window: the transaction set-up (RSET, MAIL FROM), then one RCPT
 * reply per item in order. Pure: what each reply means comes from domain/reply-meaning.ts (readReply);
 * this only sorts the window's items by it, for the pool to act on.
 */
import { readReply, type ProviderContext, type ReplyEchoes, type ReplyMeaning } from '../domain/reply-meaning.ts';
import type { SmtpReply } from '../domain/smtp-reply.ts';

/** The RSET/MAIL replies of the window: how many were errors, and the first refusal. */
export function readSetup(replies: readonly SmtpReply[], prefix: number): { errors: number; refused: SmtpReply | null } {
  let errors = 0;
  let refused: SmtpReply | null = null;
  for (let i = 0; i < prefix && i < replies.length; i++) {
    const reply = replies[i]!;
    if (reply.code >= 400) {
      errors += 1;
      refused ??= reply;
    }
  }
  return { errors, refused };
}

export interface RcptReading<W> {
  /** Every item that got a reply, in window order (for the per-reply events and counters). */
  replied: Array<{ item: W; reply: SmtpReply; meaning: ReplyMeaning }>;
  /** Replies that count against the session's error budget (4xx/5xx). */
  errors: number;
  /** Answers about the mailbox (or about us as a verdict): they settle their items. */
  answered: Array<{ item: W; reply: SmtpReply; meaning: ReplyMeaning }>;
  /** The first reply that slowed us down (a rate limit): it and the items it answered wait for a pause. */
  throttle: SmtpReply | null;
  throttled: W[];
  /** Not answered: no reply (the session ended), 452 4.5.3 (new transaction) or a 421 that closes. */
  unanswered: W[];
  /** A 452 4.5.3: the next window starts a new transaction. */
  restartTransaction: boolean;
  /** A 421 closing the session. */
  closing: SmtpReply | null;
  /** The first reply carrying a 'block' signature (our IP listed, banned): the sender-block breaker trips. */
  blocked: { reply: SmtpReply; meaning: ReplyMeaning } | null;
}

export function readRcpts<W>(items: readonly W[], replies: readonly SmtpReply[], prefix: number, echoesOf: (item: W) => ReplyEchoes, provider?: ProviderContext): RcptReading<W> {
  const reading: RcptReading<W> = { replied: [], errors: 0, answered: [], throttle: null, throttled: [], unanswered: [], restartTransaction: false, closing: null, blocked: null };
  items.forEach((item, i) => {
    const reply = replies[prefix + i];
    if (!reply) {
      reading.unanswered.push(item);
      return;
    }
    const meaning = readReply('rcpt', reply, echoesOf(item), provider);
    reading.replied.push({ item, reply, meaning });
    if (reply.code >= 400) reading.errors += 1;
    if (meaning.senderBlock?.severity === 'block') reading.blocked ??= { reply, meaning };
    if (meaning.pause) {
      // Not an answer about the mailbox: asked again after the pause, never in a loop.
      reading.throttle ??= reply;
      reading.throttled.push(item);
      return;
    }
    if (meaning.replyClass.kind === 'too_many_recipients') {
      reading.restartTransaction = true;
      reading.unanswered.push(item);
      return;
    }
    if (meaning.replyClass.kind === 'service_closing') {
      reading.closing = reply;
      reading.unanswered.push(item);
      return;
    }
    reading.answered.push({ item, reply, meaning });
  });
  return reading;
}
