/**
 * What a failure without an answer about the mailbox means (src/domain/failure-meaning.ts): tables
 * for every mapping the engine used to make in the pool and the verifier.
 */
import { describe, expect, it } from 'vitest';
import {
  allHostsFailedMeaning,
  catchAllStateOf,
  combinedHostCause,
  hostFailureCause,
  lostSessionMeaning,
  pausedReason,
  senderRefusedMeaning,
  type HostFailureCause,
  type SessionFailure,
} from '../../src/domain/failure-meaning.ts';
import { classifyReply } from '../../src/domain/reply-meaning.ts';
import type { SmtpReply } from '../../src/domain/smtp-reply.ts';
import { createReplyParser } from '../../src/smtp/reply-parser.ts';

function reply(wire: string): SmtpReply {
  return createReplyParser().push(`${wire}\r\n`)[0]!;
}

describe('hostFailureCause: one failed attempt on one address of a host', () => {
  it.each<[SessionFailure, HostFailureCause]>([
    [{ kind: 'network', what: 'connect-timeout' }, 'timeout'],
    [{ kind: 'network', what: 'session-timeout' }, 'timeout'],
    [{ kind: 'network', what: 'connect-refused' }, 'refused'],
    [{ kind: 'network', what: 'session-dropped' }, 'refused'],
    [{ kind: 'network', what: 'protocol-error' }, 'protocol'],
    [{ kind: 'refused-at', stage: 'greeting', reply: reply('554 5.7.1 Client host [192.0.2.1] blocked using zen.spamhaus.org') }, 'rejected'],
    [{ kind: 'refused-at', stage: 'ehlo', reply: reply('550 5.7.1 <vm>: Helo command rejected: Host not found') }, 'rejected'],
    [{ kind: 'refused-at', stage: 'greeting', reply: reply('421 4.7.0 mx.d.test Error: too many connections from 192.0.2.1') }, 'busy'],
    [{ kind: 'refused-at', stage: 'greeting', reply: reply('450 4.3.2 Service currently unavailable') }, 'busy'],
  ])('%j → %s', (failure, cause) => {
    expect(hostFailureCause(failure)).toBe(cause);
  });
});

describe('combinedHostCause and allHostsFailedMeaning: every address, then every MX, failed', () => {
  it.each<[HostFailureCause[], HostFailureCause, string, boolean]>([
    [['timeout'], 'timeout', 'timeout', false],
    [['protocol'], 'protocol', 'smtp_error', false],
    [['refused'], 'refused', 'connection_failed', false],
    [['rejected'], 'rejected', 'policy_block', false],
    [['busy'], 'busy', 'connection_failed', true],
    [['timeout', 'refused'], 'refused', 'connection_failed', false],
    [['timeout', 'protocol'], 'refused', 'connection_failed', false],
    [['busy', 'timeout'], 'busy', 'connection_failed', true],
    [['busy', 'rejected'], 'rejected', 'policy_block', false],
    [['rejected', 'timeout'], 'rejected', 'policy_block', false],
  ])('%j → host %s; domain %s, retry %s', (causes, host, reason, retry) => {
    expect(combinedHostCause(new Set(causes))).toBe(host);
    expect(allHostsFailedMeaning(new Set(causes))).toEqual({ reason, retry });
  });
});

describe('lostSessionMeaning: unanswered probes of a lost session', () => {
  it.each([
    ['session-timeout', 'timeout', 'timeout'],
    ['protocol-error', 'smtp_error', 'protocol'],
    ['session-dropped', 'connection_failed', 'refused'],
  ] as const)('%s → %s (host: %s)', (what, reason, hostCause) => {
    expect(lostSessionMeaning(what)).toEqual({ reason, hostCause });
  });
});

describe('pausedReason, senderRefusedMeaning, catchAllStateOf', () => {
  it('a pause for our rate is throttled (about us), a busy server is connection_failed', () => {
    expect(pausedReason('rate')).toBe('throttled');
    expect(pausedReason('busy')).toBe('connection_failed');
  });
  it('a refused sender is policy_block: final on 5xx (for the whole host), asked again on 4xx', () => {
    expect(senderRefusedMeaning(reply('553 5.1.8 <verify@vm.localdomain>: Sender address rejected: Domain not found'))).toMatchObject({ reason: 'policy_block', retryable: false, permanent: true });
    expect(senderRefusedMeaning(reply('450 4.1.8 <verify@vm.localdomain>: Sender address rejected: Domain not found'))).toMatchObject({ reason: 'policy_block', retryable: true, permanent: false });
    expect(senderRefusedMeaning(reply('553 5.1.8 Sender address rejected')).detail).toMatch(/^The server refused our sender: The mail server refused our sender address/);
  });
  it.each([
    ['250 2.1.5 Ok', 'yes'],
    ['550 5.1.1 <nx@d.test>: Recipient address rejected: User unknown', 'no'],
    ['450 4.2.0 Greylisted', 'unknown'],
    ['554 5.7.1 Client host rejected', 'unknown'],
    ['550 5.2.1 mailbox disabled', 'unknown'],
  ])('catch-all probe answered %j → %s', (text, state) => {
    expect(catchAllStateOf(classifyReply('RCPT', reply(text)))).toBe(state);
  });
});
