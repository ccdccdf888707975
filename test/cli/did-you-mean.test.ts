/** The edit distance and the closest-match rule behind "did you mean" (pure). */
import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from '../../src/cli/did-you-mean.ts';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['', 'abc', 3],
    ['verify', 'verify', 0],
    ['verfy', 'verify', 1], // deletion
    ['verifyy', 'verify', 1], // insertion
    ['verifx', 'verify', 1], // replacement
    ['veirfy', 'verify', 1], // swap of neighbours counts as one
    ['kitten', 'sitting', 3],
    ['ca', 'abc', 3], // optimal string alignment: no edit of a swapped pair
  ])('%j → %j = %i', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('closestMatch', () => {
  const commands = ['verify', 'worker', 'status', 'demo', 'probe', 'doctor', 'watch', 'schedule', 'bounces', 'suppress', 'api', 'help', 'version'];
  it.each([
    ['verfy', 'verify'],
    ['VERIFY', 'verify'],
    ['stauts', 'status'],
    ['dcotor', 'doctor'],
    ['bounce', 'bounces'],
    ['sched', 'schedule'], // a unique prefix
    ['wat', 'watch'],
    ['apii', 'api'],
  ])('%s → %s', (typed, meant) => expect(closestMatch(typed, commands)).toBe(meant));

  it.each([['x'], ['ab'], ['frobnicate'], [''], ['qqq']])('%j → nothing plausible', (typed) => expect(closestMatch(typed, commands)).toBeUndefined());

  it('an ambiguous prefix suggests nothing', () => expect(closestMatch('--no-', ['--no-catch-all', '--no-local-workers'])).toBeUndefined());
  it('the input may extend a known flag (--output → --out)', () => expect(closestMatch('--output', ['--out', '-o', '--json'])).toBe('--out'));
  it('ties go to the first candidate', () => expect(closestMatch('bat', ['cat', 'hat'])).toBe('cat'));
});
