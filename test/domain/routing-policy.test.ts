import { describe, expect, it } from 'vitest';
import { DEFAULT_REJECT, describePolicy, isRejected, parseRejectPolicy, restoreRejectPolicy } from '../../src/domain/routing-policy.ts';

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
    const policy = parseRejectPolicy('=role_account');
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
    expect(restoreRejectPolicy(describePolicy(policy))).toEqual(policy);
  });
});

describe('reject lists extend the policy in effect (issue 16)', () => {
  const duplicate = { status: 'deliverable', reason: 'duplicate' } as const;

  it('adds to the defaults: naming risky and unknown does not silently drop duplicates', () => {
    const policy = parseRejectPolicy('undeliverable,risky,unknown');
    expect(isRejected(policy, duplicate)).toBe(true);
    expect(isRejected(policy, { status: 'undeliverable', reason: 'missing_email' })).toBe(true);
    expect(isRejected(policy, { status: 'risky', reason: 'catch_all' })).toBe(true);
    expect(describePolicy(policy)).toBe('undeliverable,risky,unknown,duplicate,missing_email,malformed_row');
    // Our own faults still need their reason named (issue 11).
    expect(isRejected(policy, { status: 'unknown', reason: 'policy_block' })).toBe(false);
    expect(isRejected(policy, { status: 'unknown', reason: 'throttled' })).toBe(false);
  });

  it('removes with -name and adds with name or +name', () => {
    const policy = parseRejectPolicy('risky,-duplicate,+role');
    expect(isRejected(policy, duplicate)).toBe(false);
    expect(isRejected(policy, { status: 'risky', reason: 'catch_all' })).toBe(true);
    expect(isRejected(policy, { status: 'deliverable', reason: 'accepted' }, 'role')).toBe(true);
    expect(describePolicy(policy)).toBe('undeliverable,risky,missing_email,malformed_row,role');
    expect(describePolicy(parseRejectPolicy(' -Duplicate , -MALFORMED_ROW '))).toBe('undeliverable,missing_email');
  });

  it('replaces the list with a leading "="', () => {
    const policy = parseRejectPolicy('=undeliverable');
    expect(describePolicy(policy)).toBe('undeliverable');
    expect(isRejected(policy, duplicate)).toBe(false);
    expect(isRejected(policy, { status: 'undeliverable', reason: 'missing_email' })).toBe(true);
    expect(describePolicy(parseRejectPolicy('=undeliverable,duplicate,-duplicate'))).toBe('undeliverable');
  });

  it('extends the base it is given (HYGIENE_REJECT under --reject, the server policy under the API)', () => {
    const server = parseRejectPolicy('risky', undefined, 'HYGIENE_REJECT');
    expect(describePolicy(parseRejectPolicy('-duplicate', server))).toBe('undeliverable,risky,missing_email,malformed_row');
    expect(parseRejectPolicy(undefined, server)).toBe(server);
    expect(parseRejectPolicy('  ', server)).toBe(server);
  });

  it('refuses what would be silently ignored: removing a name not in the list, an empty or misplaced "="', () => {
    expect(() => parseRejectPolicy('-risky')).toThrow(/--reject: cannot remove "risky": not in the list \(undeliverable,duplicate,missing_email,malformed_row\)/);
    expect(() => parseRejectPolicy('-mailbox_not_found')).toThrow(/replace the list with the reasons/);
    expect(() => parseRejectPolicy('=')).toThrow(/"=" replaces the list, so it needs one/);
    expect(() => parseRejectPolicy('risky,=undeliverable')).toThrow(/may only start it/);
    expect(() => parseRejectPolicy('-bogus,risky', undefined, 'reject')).toThrow(/^reject: unknown status, reason or flag "-bogus"/);
  });

  it('restores a stored policy exactly, never extended (lists started before and after this change)', () => {
    expect(describePolicy(restoreRejectPolicy('undeliverable,risky'))).toBe('undeliverable,risky');
    expect(describePolicy(restoreRejectPolicy(''))).toBe('');
    expect(isRejected(restoreRejectPolicy(''), duplicate)).toBe(false);
    expect(describePolicy(restoreRejectPolicy(undefined))).toBe(DEFAULT_REJECT);
  });
});
