/**
 * What a failure without a usable answer about the mailbox means: a host that could not be used, a
 * session lost mid-window, every MX of a domain failing, a server paused because it slowed us down,
 * our sender refused at MAIL FROM, the catch-all probe's answer. Pure domain code, table-tested with
 * reply-meaning.ts: the adapters (smtp/, probe/) report what happened; this module decides the
 * status, the reason and whether it is worth asking again. Nothing here is a fact about an address
 * unless it says so (our faults are never verdicts: see fault-owner.ts).
 */
import type { CatchAllState } from './probe-verdict.ts';
import { classifyReply, type ReplyClass } from './reply-meaning.ts';
import type { SmtpReply } from './smtp-reply.ts';
import type { Reason } from './verdict.ts';

/**
 * Why one host could not be used; decides the reason when every MX of a domain fails.
 * 'busy': a 4xx greeting or EHLO (421 too many connections, 450 try later): ask again later.
 */
export type HostFailureCause = 'timeout' | 'refused' | 'protocol' | 'rejected' | 'busy';

/** What the session layer saw when a connection or a session failed, before any answer about a mailbox. */
export type SessionFailure =
  | { kind: 'network'; what: 'connect-timeout' | 'session-timeout' | 'connect-refused' | 'session-dropped' | 'protocol-error' }
  /** The server answered the greeting or EHLO with a refusal (4xx or 5xx). */
  | { kind: 'refused-at'; stage: 'greeting' | 'ehlo'; reply: SmtpReply };

/** How one failed attempt on one address of a host counts for the host. */
export function hostFailureCause(failure: SessionFailure): HostFailureCause {
  if (failure.kind === 'refused-at') return failure.reply.code >= 500 ? 'rejected' : failure.reply.code >= 400 ? 'busy' : 'refused';
  switch (failure.what) {
    case 'connect-timeout':
    case 'session-timeout':
      return 'timeout';
    case 'protocol-error':
      return 'protocol';
    default:
      return 'refused';
  }
}

/** One cause for a host whose addresses failed in several ways: a refusal of us outranks "busy", which outranks the rest. */
export function combinedHostCause(causes: ReadonlySet<HostFailureCause>): HostFailureCause {
  if (causes.size === 1) return [...causes][0]!;
  return causes.has('rejected') ? 'rejected' : causes.has('busy') ? 'busy' : 'refused';
}

/** A session lost with probes unanswered: the reason they carry if their retries run out, and how the host counts it. */
export function lostSessionMeaning(what: 'session-timeout' | 'protocol-error' | 'session-dropped'): { reason: Extract<Reason, 'timeout' | 'smtp_error' | 'connection_failed'>; hostCause: HostFailureCause } {
  if (what === 'session-timeout') return { reason: 'timeout', hostCause: 'timeout' };
  if (what === 'protocol-error') return { reason: 'smtp_error', hostCause: 'protocol' };
  return { reason: 'connection_failed', hostCause: 'refused' };
}

/**
 * Every MX of the domain failed. All timeouts: timeout; servers that answered with garbage:
 * smtp_error; a server that refused us at the greeting (5xx): policy_block (about us, not the
 * mailbox); otherwise connection_failed. A server that only said "busy, come back later" (4xx
 * greeting) is asked again later, like greylisting; refusals, timeouts and garbage are final for
 * this run.
 */
export function allHostsFailedMeaning(causes: ReadonlySet<HostFailureCause>): { reason: Extract<Reason, 'timeout' | 'smtp_error' | 'policy_block' | 'connection_failed'>; retry: boolean } {
  const only = causes.size === 1 ? [...causes][0] : undefined;
  const reason = only === 'timeout' ? 'timeout' : only === 'protocol' ? 'smtp_error' : causes.has('rejected') ? 'policy_block' : 'connection_failed';
  return { reason, retry: causes.has('busy') && !causes.has('rejected') };
}

/** A probe not asked because its server was paused: throttled when it limited our rate (about us), connection_failed when it was not taking connections. */
export function pausedReason(kind: 'rate' | 'busy'): Extract<Reason, 'throttled' | 'connection_failed'> {
  return kind === 'rate' ? 'throttled' : 'connection_failed';
}

/**
 * MAIL FROM (or the RSET before it) refused: every RCPT of the group was answered "need MAIL" or
 * worse, and the refusal is about our sender, not the mailboxes (SMTP-FACTS: policy). A 5xx will be
 * the answer for every address queued for the host (`permanent`); a 4xx is asked again later.
 */
export function senderRefusedMeaning(reply: SmtpReply): { reason: 'policy_block'; detail: string; retryable: boolean; permanent: boolean } {
  const permanent = reply.code >= 500;
  return { reason: 'policy_block', detail: `The server refused our sender: ${classifyReply('MAIL', reply).detail}`, retryable: !permanent, permanent };
}

/** The catch-all probe's answer: only a 2xx makes a domain catch-all, only "no such mailbox" makes it not (SMTP-FACTS). */
export function catchAllStateOf(replyClass: ReplyClass): CatchAllState {
  if (replyClass.kind === 'accepted') return 'yes';
  if (replyClass.kind === 'verdict' && replyClass.reason === 'mailbox_not_found') return 'no';
  return 'unknown';
}
