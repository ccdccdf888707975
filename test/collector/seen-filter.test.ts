import { describe, expect, it } from 'vitest';
import { SeenFilter } from '../../src/collector/seen-filter.ts';

describe('SeenFilter', () => {
  it('never misses a key it has seen, and rarely claims one it has not', () => {
    const filter = new SeenFilter(50_000);
    let claimedEarly = 0;
    for (let i = 0; i < 50_000; i++) if (filter.testAndAdd(`user${i}@company${i % 977}.example`)) claimedEarly++;
    expect(claimedEarly / 50_000).toBeLessThan(0.01);
    for (let i = 0; i < 50_000; i += 7) expect(filter.testAndAdd(`user${i}@company${i % 977}.example`)).toBe(true);
    let falsePositives = 0;
    for (let i = 0; i < 5_000; i++) if (filter.testAndAdd(`other${i}@elsewhere${i % 113}.example`)) falsePositives++;
    // 10 bits and 7 hashes per key: about 1% at the size it was made for.
    expect(falsePositives / 5_000).toBeLessThan(0.02);
  });

  it('works when the expected count is 0 or far too small (only more false positives)', () => {
    const filter = new SeenFilter(0);
    for (let i = 0; i < 1_000; i++) filter.testAndAdd(`a${i}@x.test`);
    for (let i = 0; i < 1_000; i++) expect(filter.testAndAdd(`a${i}@x.test`)).toBe(true);
  });
});
