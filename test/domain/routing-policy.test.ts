import { describe, expect, it } from 'vitest';
import { DEFAULT_REJECT, describePolicy, isRejected, parseRejectPolicy } from '../../src/domain/routing-policy.ts';

describe('reject policy', () => {
  it('rejects by status, by reason, and by hygiene_flags names', () => {
    const policy = parseRejectPolicy('undeliverable,catch_all,role,disposable');
    expect(isRejected(policy, { status: 'undeliverable', reason: 'mailbox_not_found' })).toBe(true);
    expect(isRejected(policy, { status: 'risky', reason: 'catch_all' })).toBe(true);
    expect(isRejected(policy, { status: 'deliverable', reason: 'accepted' }, 'role;free')).toBe(true);
    expect(isRejected(policy, { status: 'deliverable', reason: 'accepted' }, 'free')).toBe(false);
    expect(isRejected(policy, { status: 'deliverable', reason: 'accepted' }, 'disposable')).toBe(true);
    expect(isRejected(policy, { status: 'deliverable', reason: 'accepted' })).toBe(false);
  });

  it('treats the role_account reason as the role flag', () => {
    const policy = parseRejectPolicy('role_account');
    expect(isRejected(policy, { status: 'deliverable', reason: 'accepted' }, 'role')).toBe(true);
    expect(describePolicy(policy)).toBe('role_account');
  });

  it('defaults to undeliverable, duplicate, missing_email and malformed_row', () => {
    const policy = parseRejectPolicy(undefined);
    expect(describePolicy(policy)).toBe(DEFAULT_REJECT);
    expect(isRejected(policy, { status: 'risky', reason: 'catch_all' }, 'role;free;disposable')).toBe(false);
    expect(isRejected(policy, { status: 'deliverable', reason: 'duplicate' })).toBe(true);
  });

  it('never rejects a verdict about us by its status alone: only when its reason is named (issue 11)', () => {
    const byStatus = parseRejectPolicy('undeliverable,unknown');
    expect(isRejected(byStatus, { status: 'unknown', reason: 'policy_block' })).toBe(false);
    expect(isRejected(byStatus, { status: 'unknown', reason: 'throttled' })).toBe(false);
    expect(isRejected(byStatus, { status: 'unknown', reason: 'timeout' })).toBe(true);
    const byReason = parseRejectPolicy('undeliverable,policy_block');
    expect(isRejected(byReason, { status: 'unknown', reason: 'policy_block' })).toBe(true);
    expect(isRejected(byReason, { status: 'unknown', reason: 'throttled' })).toBe(false);
  });

  it('names every unknown word at once', () => {
    expect(() => parseRejectPolicy('undeliverable,bogus,nope')).toThrow(/"bogus", "nope"/);
  });

  it('round-trips through describePolicy (the form stored with a list)', () => {
    const policy = parseRejectPolicy('unknown,typo,free');
    expect(parseRejectPolicy(describePolicy(policy))).toEqual(policy);
  });
});
