/**
 * Whose fault a network or DNS outcome is, and what the verdict cache may keep
 * (src/domain/fault-owner.ts). Whose fault a reply is: test/domain/reply-meaning.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { cachePolicy, judgeNetwork, OUR_FAULT_REASONS } from '../../src/domain/fault-owner.ts';

describe('judgeNetwork', () => {
  it.each([
    ['connect-timeout', 'remote', 'smtp-port'],
    ['connect-refused', 'remote', null],
    ['session-timeout', 'remote', null],
    ['dns-nxdomain', 'address', 'dns'],
    ['dns-nodata', 'address', null],
    ['dns-servfail', 'remote', 'dns'],
    ['dns-refused', 'remote', 'dns'],
    ['dns-timeout', 'remote', 'dns'],
  ] as const)('%s → %s, suspect %s', (outcome, owner, suspect) => {
    expect(judgeNetwork(outcome)).toEqual({ owner, suspect });
  });
});

describe('cachePolicy: the cache keeps facts only', () => {
  it.each([
    ['deliverable', 'accepted', 'fact'],
    ['risky', 'catch_all', 'fact'],
    ['risky', 'mailbox_full', 'fact'],
    ['undeliverable', 'mailbox_not_found', 'fact'],
    ['undeliverable', 'null_mx', 'fact'],
    ['undeliverable', 'no_such_domain', 'if-dns-healthy'],
    ['undeliverable', 'no_mail_server', 'if-dns-healthy'],
    ['undeliverable', 'suppressed', 'never'],
    ['unknown', 'timeout', 'never'],
    ['unknown', 'connection_failed', 'never'],
    ['unknown', 'policy_block', 'never'],
    ['unknown', 'dns_error', 'never'],
    ['unknown', 'greylisted', 'never'],
    ['unknown', 'throttled', 'never'],
    ['unknown', 'smtp_error', 'never'],
  ] as const)('%s/%s → %s', (status, reason, policy) => {
    expect(cachePolicy({ status, reason })).toBe(policy);
  });

  it('names policy_block and throttled as ours', () => {
    expect([...OUR_FAULT_REASONS].sort()).toEqual(['policy_block', 'throttled']);
  });
});
