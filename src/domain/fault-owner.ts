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
 * Whose fault a reply is, and which replies ask us to slow down, is read with the rest of the reply
 * in reply-meaning.ts (judgeReply); what a failure without a usable reply means, in
 * failure-meaning.ts.
 */
import type { Reason, Verdict } from './verdict.ts';

export type FaultOwner = 'address' | 'remote' | 'us';

/** The part of our own set-up a failure may point at, when enough of them agree. */
export type SuspectChannel = 'dns' | 'smtp-port' | 'smtp-identity';

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
