/**
 * From what one RCPT probe produced to the address's outcome. Pure. This is where "the server
 * accepted it" becomes deliverable — or risky/catch_all when the domain accepts everything
 * (SMTP-FACTS: only a 2xx to the random probe makes a domain catch-all).
 */
import type { ReplyClass } from './reply-meaning.ts';
import { replyToText, type SmtpReply } from './smtp-reply.ts';
import type { ProbeOutcome } from './verifier.ts';
import type { Reason, Verdict } from './verdict.ts';

export type CatchAllState = 'yes' | 'no' | 'unknown';

export type ProbeResult =
  | { kind: 'reply'; reply: SmtpReply; replyClass: ReplyClass; catchAll: CatchAllState; mx: string }
  /** The host was reached but this address could not be answered. */
  | {
      kind: 'gave-up';
      mx: string;
      reason: Extract<Reason, 'timeout' | 'connection_failed' | 'smtp_error' | 'policy_block' | 'unverifiable_smtputf8'>;
      detail: string;
      reply?: SmtpReply;
      /** Worth trying again later (a delayed retry), e.g. after repeated drops or a 4xx to MAIL. */
      retryable: boolean;
    }
  /** The domain is known to accept every address: not probed one by one. */
  | { kind: 'catch-all'; mx: string };

export interface ProbeVerdictContext {
  address: string;
  checkedAt: Date;
  greylistRetryMs: number;
}

export function verdictFromProbe(result: ProbeResult, ctx: ProbeVerdictContext): ProbeOutcome {
  const checkedAt = ctx.checkedAt.toISOString();
  const base = (v: Omit<Verdict, 'checkedAt'>): Verdict => ({ ...v, checkedAt });
  if (result.kind === 'catch-all') {
    return {
      kind: 'verdict',
      verdict: base({ status: 'risky', reason: 'catch_all', detail: `The domain's mail server accepts every address (catch-all), so this mailbox cannot be confirmed.`, mx: result.mx }),
    };
  }
  if (result.kind === 'gave-up') {
    const verdict = base({ status: 'unknown', reason: result.reason, detail: result.detail, mx: result.mx, smtpReply: result.reply ? replyToText(result.reply) : undefined });
    return result.retryable ? { kind: 'retry', retryAfterMs: ctx.greylistRetryMs, verdict } : { kind: 'verdict', verdict };
  }
  const smtpReply = replyToText(result.reply);
  const { replyClass, mx } = result;
  switch (replyClass.kind) {
    case 'accepted':
      if (result.catchAll === 'yes') {
        return {
          kind: 'verdict',
          verdict: base({ status: 'risky', reason: 'catch_all', detail: `The server accepted this address, but it accepts every address at this domain (catch-all), so the mailbox cannot be confirmed.`, smtpReply, mx }),
        };
      }
      return {
        kind: 'verdict',
        verdict: base({
          status: 'deliverable',
          reason: 'accepted',
          detail: result.catchAll === 'no' ? 'The mail server accepted this address and rejects unknown ones.' : 'The mail server accepted this address (whether it accepts every address could not be determined).',
          smtpReply,
          mx,
        }),
      };
    case 'verdict':
      return { kind: 'verdict', verdict: base({ status: replyClass.status, reason: replyClass.reason, detail: replyClass.detail, smtpReply, mx }) };
    case 'greylisted':
      return { kind: 'retry', retryAfterMs: ctx.greylistRetryMs, verdict: base({ status: 'unknown', reason: 'greylisted', detail: `${replyClass.detail} Retries ran out before the server gave an answer.`, smtpReply, mx }) };
    case 'temporary':
      return { kind: 'retry', retryAfterMs: ctx.greylistRetryMs, verdict: base({ status: 'unknown', reason: replyClass.reason, detail: replyClass.detail, smtpReply, mx }) };
    case 'too_many_recipients':
    case 'service_closing':
      // The pool retries these itself; reaching here means it gave up on them.
      return { kind: 'retry', retryAfterMs: ctx.greylistRetryMs, verdict: base({ status: 'unknown', reason: 'smtp_error', detail: replyClass.detail, smtpReply, mx }) };
  }
}
