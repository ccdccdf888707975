/**
 * Whose fault a failure is. Pure domain code (imports only domain types), table-tested.
 *
 * Every failure is about one of three parties, and each gets different treatment:
 *  - 'address': the remote mailbox or domain (550 5.1.1 user unknown, NXDOMAIN, null MX). A verdict:
 *    it goes in the output, may be routed to rejected and, being a fact, may be cached.
 *  - 'remote': the remote server's state (greylisting, a full queue, a dead or slow MX, a 4xx). Retry
 *    later; if retries run out the address is unknown. Never cached: the state changes.
 *  - 'us': our configuration, network or reputation (port 25 blocked, our resolver failing or lying,
 *    our IP, HELO name or sender refused, a server rate-limiting us). Never a verdict about the
 *    address: such rows are unknown, never routed to rejected by a status-level rule, never cached,
 *    and when the first servers or domains of a run all fail this way the run stops early with a
 *    message that says what to fix (probe/fault-guard.ts).
 *
 * Some failures cannot be attributed one at a time: one NXDOMAIN is the domain's fact, but every
 * domain failing is our resolver; one connect timeout is a dead MX, but every MX timing out is our
 * port 25. Those carry a `suspect` channel; the fault guard decides from the aggregate.
 *
 * This module also says which replies ask us to slow down (pause the MX fleet-wide) rather than
 * answer for the mailbox: Postfix anvil's "450 4.7.1 Error: too many recipients from [ip]",
 * "421 4.7.0 Error: too many connections from [ip]", Gmail's "421-4.7.28 ... unusual rate", Yahoo's
 * "421 4.7.0 [TSS04] Messages from ... temporarily deferred", "try again later" at the greeting,
 * EHLO or MAIL FROM (PROVIDERS.md, SMTP-FACTS.md).
 */
import { replyTextWithoutEchoes } from './reply-classifier.ts';
import type { SmtpReply } from './smtp-reply.ts';
import type { Reason, Verdict } from './verdict.ts';

export type FaultOwner = 'address' | 'remote' | 'us';

/** The part of our own set-up a failure may point at, when enough of them agree. */
export type SuspectChannel = 'dns' | 'smtp-port' | 'smtp-identity';

/** Where in the conversation a reply came. */
export type ReplyStage = 'greeting' | 'ehlo' | 'mail' | 'rcpt';

export interface ReplyJudgement {
  owner: FaultOwner;
  /** The server asks us to slow down or come back later: pause this MX fleet-wide (do not retry in a loop). */
  pause: boolean;
  /** A refusal of us (our IP, HELO name or sender), not of the mailbox: evidence for the "refused us" stop. */
  refusesUs: boolean;
}

/**
 * Rate limits aimed at our client, at any stage. "too many recipients" alone is Postfix's per-message
 * limit (452 4.5.3: start a new transaction); "too many recipients from [ip]" is anvil's per-client
 * rate (smtpd_client_recipient_rate_limit): every further RCPT is refused until the time unit passes.
 */
const RATE_TEXT =
  /too many (?:connections|recipients|messages|mails|sessions|commands|requests|concurrent\b[^.;]*?) from\b|\brate[- ]?limit|\bratelimit|rate of (?:unsolicited|mail|messages|connections)|unusual rate|too fast|too frequent|too many concurrent|connection rate|sending rate|throttl|slow down|temporarily deferred|\[tss0\d\]|deferred due to/;
/** "Come back later" wordings: at the greeting, EHLO or MAIL FROM they are about us; at RCPT they are greylisting. */
const LATER_TEXT = /try again later|try later|please retry|retry later|come back later|temporarily (?:unavailable|rejected|refused)/;
const GREYLIST_TEXT = /gr[ea]y ?list/;
/** Refusals of the client itself (Postfix restriction texts, blocklists, reputation). */
const REFUSES_US_TEXT =
  /client host rejected|helo command rejected|sender address rejected|spamhaus|spamcop|barracuda|sorbs|black ?list|block ?list|blacklisted|blocklisted|\brbl\b|\bdnsbl\b|\bblocked\b|banned|reverse dns|\bptr\b|sender ip|your ip|poor reputation|listed (?:in|on|at|by)\b|access denied, banned|not allowed to send|refused to talk/;
/** Refused because the server does not serve that domain for us: about the domain's mail set-up, not about us. */
const RELAY_TEXT = /relay access denied|relaying denied|relay not permitted|not permitted to relay|unable to relay/;

function enhancedParts(reply: SmtpReply): { subject: string; detail: string } {
  const [, subject = '', detail = ''] = (reply.enhanced ?? '').split('.');
  return { subject, detail };
}

/** Whose fault a reply is, and whether it asks us to pause the MX. */
export function judgeReply(stage: ReplyStage, reply: SmtpReply): ReplyJudgement {
  const cls = Math.floor(reply.code / 100);
  // Without the addresses the server echoes back: a mailbox called throttle@ or blocked@ is the
  // list's data, not the server's words (the same reading as the reply classifier's).
  const text = replyTextWithoutEchoes(reply);
  const { subject } = enhancedParts(reply);
  if (cls === 2 || cls === 3) return { owner: stage === 'rcpt' ? 'address' : 'remote', pause: false, refusesUs: false };
  // Per-mailbox statuses (x.2.x: Gmail's 4.2.1 "receiving mail at a rate" is one mailbox's state).
  const mailboxStatus = subject === '1' || subject === '2';
  const rate = !mailboxStatus && RATE_TEXT.test(text);
  if (cls === 4) {
    if (rate) return { owner: 'us', pause: true, refusesUs: false };
    if (stage !== 'rcpt') {
      // 4xx before any recipient (a 421/450 greeting, EHLO or MAIL "busy, come back later"): the
      // server is not taking connections from us now. Hammering it with reconnects is how an IP
      // gets listed: pause the MX. A 4xx to MAIL that is about our sender is ours, not a pause.
      if (stage === 'mail' && !LATER_TEXT.test(text) && reply.code !== 421) return { owner: 'us', pause: false, refusesUs: false };
      return { owner: REFUSES_US_TEXT.test(text) ? 'us' : 'remote', pause: true, refusesUs: false };
    }
    // A 421 that closes the session with "try again later" is the server shedding our traffic
    // (Gmail's "421 4.7.0 Try again later, closing connection"); "421 ... too many errors" is not.
    if (reply.code === 421) return LATER_TEXT.test(text) ? { owner: 'us', pause: true, refusesUs: false } : { owner: 'remote', pause: false, refusesUs: false };
    if (GREYLIST_TEXT.test(text)) return { owner: 'remote', pause: false, refusesUs: false };
    if (subject === '7' && !RELAY_TEXT.test(text)) return { owner: 'us', pause: false, refusesUs: false };
    return { owner: 'remote', pause: false, refusesUs: false };
  }
  // 5xx
  if (stage === 'greeting' || stage === 'ehlo' || stage === 'mail') {
    // RFC 5321 §3.1: a 554 greeting means the server does not want mail from this client.
    return { owner: 'us', pause: false, refusesUs: true };
  }
  if (RELAY_TEXT.test(text)) return { owner: 'remote', pause: false, refusesUs: false };
  if (rate) return { owner: 'us', pause: true, refusesUs: false };
  if (!mailboxStatus && (subject === '7' || REFUSES_US_TEXT.test(text))) return { owner: 'us', pause: false, refusesUs: true };
  return { owner: 'address', pause: false, refusesUs: false };
}

/** What happened on the network or in DNS, before or instead of a reply. */
export type NetworkOutcome =
  | 'connect-timeout'
  | 'connect-refused'
  | 'session-timeout'
  | 'session-dropped'
  | 'protocol-error'
  | 'dns-nxdomain'
  | 'dns-nodata'
  | 'dns-null-mx'
  | 'dns-servfail'
  | 'dns-refused'
  | 'dns-timeout';

export interface NetworkJudgement {
  owner: FaultOwner;
  /** Could be ours when many agree: the guard of that channel counts it. */
  suspect: SuspectChannel | null;
}

export function judgeNetwork(outcome: NetworkOutcome): NetworkJudgement {
  switch (outcome) {
    case 'connect-timeout':
      // One MX behind a dead address, or our outbound port 25 blocked: only many tell.
      return { owner: 'remote', suspect: 'smtp-port' };
    case 'connect-refused':
      // A reset proves packets get through: that server's problem.
      return { owner: 'remote', suspect: null };
    case 'session-timeout':
    case 'session-dropped':
    case 'protocol-error':
      return { owner: 'remote', suspect: null };
    case 'dns-nxdomain':
      // The domain does not exist, unless our resolver lies.
      return { owner: 'address', suspect: 'dns' };
    case 'dns-nodata':
    case 'dns-null-mx':
      // A real answer from the domain's own zone: a fact about the domain, and proof DNS works.
      return { owner: 'address', suspect: null };
    case 'dns-servfail':
    case 'dns-refused':
    case 'dns-timeout':
      return { owner: 'remote', suspect: 'dns' };
  }
}

/** Reasons that describe us, not the address: never routed to rejected by a status-level rule. */
export const OUR_FAULT_REASONS: ReadonlySet<Reason> = new Set<Reason>(['policy_block', 'throttled']);

/** Reasons whose truth depends on our resolver telling the truth (held until DNS has proven healthy). */
const DNS_DEPENDENT_REASONS: ReadonlySet<Reason> = new Set<Reason>(['no_such_domain', 'no_mail_server']);

/**
 * What the verdict cache may keep. Only facts: an unknown verdict is at best the remote server's
 * state of the moment, and at worst our own fault (a blocked port, a refused HELO), so it is never
 * cached. A DNS-derived "does not exist" is a fact only once our resolver has proven it answers
 * truthfully in this run ('if-dns-healthy').
 */
export function cachePolicy(verdict: Pick<Verdict, 'status' | 'reason'>): 'fact' | 'if-dns-healthy' | 'never' {
  if (verdict.status === 'unknown') return 'never';
  if (verdict.reason === 'suppressed' || verdict.reason === 'duplicate' || verdict.reason === 'missing_email' || verdict.reason === 'invalid_syntax') return 'never';
  if (DNS_DEPENDENT_REASONS.has(verdict.reason)) return 'if-dns-healthy';
  return 'fact';
}
