import { describe, expect, it } from 'vitest';
import { DomainCounter, type DomainReport } from '../../src/collector/report.ts';

describe('DomainCounter.top', () => {
  it('gives the largest domains first, ties by name, like a full sort would', () => {
    let seed = 5;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let n = 0; n < 200; n++) {
      const counter = new DomainCounter();
      const all = new Map<string, DomainReport>();
      const spread = 1 + Math.floor(random() * 60);
      for (let i = 0; i < 300; i++) {
        const domain = `d${Math.floor(random() * spread)}.test`;
        counter.add(domain, 'unknown');
        const entry = all.get(domain) ?? { domain, rows: 0, byStatus: {}, byOutcome: {} };
        entry.rows += 1;
        entry.byStatus.unknown = (entry.byStatus.unknown ?? 0) + 1;
        entry.byOutcome!.unknown = (entry.byOutcome!.unknown ?? 0) + 1;
        all.set(domain, entry);
      }
      const sorted = [...all.values()].sort((a, b) => b.rows - a.rows || (a.domain < b.domain ? -1 : 1));
      expect(counter.top()).toEqual(sorted.slice(0, 20));
      expect(counter.top(3)).toEqual(sorted.slice(0, 3));
    }
  });
});
