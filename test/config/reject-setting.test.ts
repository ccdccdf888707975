/**
 * HYGIENE_REJECT and --reject as the configuration reads them (issue 16): each list extends the one
 * below it (built-in default ← HYGIENE_REJECT ← --reject), a leading "=" replaces, and a bad list is
 * one configuration problem naming where it came from.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { describePolicy } from '../../src/domain/routing-policy.ts';
import { isHygieneError } from '../../src/errors.ts';

const policyOf = (env: Record<string, string>, flags: Record<string, string> = {}) => describePolicy(loadConfig(env, flags).output.rejectPolicy);

function problemsOf(env: Record<string, string>, flags: Record<string, string> = {}): string[] {
  try {
    loadConfig(env, flags);
  } catch (err) {
    if (isHygieneError(err, 'CONFIG_INVALID')) return err.context.problems as string[];
    throw err;
  }
  return [];
}

describe('the reject policy setting', () => {
  it('defaults to undeliverable, duplicate, missing_email and malformed_row', () => {
    expect(policyOf({})).toBe('undeliverable,duplicate,missing_email,malformed_row');
  });

  it('stacks: HYGIENE_REJECT extends the default and --reject extends HYGIENE_REJECT', () => {
    expect(policyOf({ HYGIENE_REJECT: 'risky' })).toBe('undeliverable,risky,duplicate,missing_email,malformed_row');
    expect(policyOf({ HYGIENE_REJECT: 'risky' }, { reject: '-duplicate,unknown' })).toBe('undeliverable,risky,unknown,missing_email,malformed_row');
    expect(policyOf({}, { reject: 'undeliverable,risky,unknown' })).toBe('undeliverable,risky,unknown,duplicate,missing_email,malformed_row');
  });

  it('replaces with a leading "=", at either level', () => {
    expect(policyOf({ HYGIENE_REJECT: '=undeliverable' })).toBe('undeliverable');
    expect(policyOf({ HYGIENE_REJECT: 'risky' }, { reject: '=undeliverable,duplicate' })).toBe('undeliverable,duplicate');
  });

  it('reports a bad list as one problem naming its source, with an example of both forms', () => {
    const [problem, ...rest] = problemsOf({ HYGIENE_REJECT: 'undeliverable,bogus' });
    expect(rest).toEqual([]);
    expect(problem).toMatch(/^HYGIENE_REJECT: unknown status, reason or flag "bogus"/);
    expect(problem).toContain('--reject =undeliverable replaces the list');
    expect(problemsOf({}, { reject: '-risky' })[0]).toMatch(/^--reject: cannot remove "risky"/);
  });
});
