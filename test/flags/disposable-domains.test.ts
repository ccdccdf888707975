/** The compact (one string + offsets) disposable list answers exactly like a Set of the package's names. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { isDisposableDomain } from '../../src/flags/disposable-domains.ts';

const require = createRequire(import.meta.url);

describe('disposable domains', () => {
  it('finds every name of the package and nothing next to them', () => {
    const names = (require('disposable-email-domains') as string[]).map((d) => d.toLowerCase());
    expect(names.filter((name) => !isDisposableDomain(name))).toEqual([]);
    const set = new Set(names);
    // Neighbours in sort order: one character more, one less, changed last character.
    const near = names.slice(0, 2_000).flatMap((name) => [`${name}x`, name.slice(0, -1), `${name.slice(0, -1)}~`, `a${name}`]);
    for (const name of [...near, 'gmail.com', 'acme.test', '', 'a', '~~~']) expect(isDisposableDomain(name), name).toBe(set.has(name));
  });
  it('covers subdomains of wildcard names only', () => {
    const wildcard = require('disposable-email-domains/wildcard.json') as string[];
    const parent = wildcard[0]!.toLowerCase();
    expect(isDisposableDomain(`anything.${parent}`)).toBe(true);
    expect(isDisposableDomain('anything.example.test')).toBe(false);
  });
});
