import { describe, expect, it } from 'vitest';
import { localPartVariants } from '../../src/domain/local-part-variants.ts';

describe('localPartVariants', () => {
  it('puts the swapped-neighbour fix first', () => {
    expect(localPartVariants('jhon.doe', 3)[0]).toBe('hjon.doe');
    expect(localPartVariants('jhon.doe', 3)).toContain('john.doe');
  });
  it('offers a doubled letter typed once', () => {
    expect(localPartVariants('anna.smmith', 20)).toContain('anna.smith');
  });
  it('respects the limit, skips short and quoted local parts, never makes bad dots', () => {
    expect(localPartVariants('jhon.doe', 2)).toHaveLength(2);
    expect(localPartVariants('bob', 5)).toEqual([]);
    expect(localPartVariants('"a b"', 5)).toEqual([]);
    for (const v of localPartVariants('a.bcd', 20)) expect(v).not.toMatch(/^\.|\.$|\.\./);
  });
});
