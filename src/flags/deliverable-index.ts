/**
 * Deliverable local parts per domain of one list, read from the list's verdict hash
 * ({p}:list:{id}:verdicts, field = lower-cased address, value = Verdict JSON; see store/redis-keys.ts)
 * with HSCAN, for local-part suggestions. Memory stays bounded on huge lists: only domains that
 * also have a mailbox_not_found verdict are kept, at most `perDomain` local parts each and
 * `total` overall (a suggestion is a convenience; missing one on a 10M-row list is acceptable).
 */
import type { Redis } from 'ioredis';
import { suggestLocalPart } from './local-part-suggestion.ts';
import { loadLuaScript, runScript } from '../queue/lua-script.ts';

export interface DeliverableIndexLimits {
  perDomain: number;
  total: number;
}

export const DEFAULT_DELIVERABLE_LIMITS: Readonly<DeliverableIndexLimits> = Object.freeze({ perDomain: 2_000, total: 200_000 });

export class DeliverableIndex {
  constructor(private readonly byDomain: ReadonlyMap<string, readonly string[]>) {}

  get domains(): number {
    return this.byDomain.size;
  }

  /** The full suggested address for a mailbox_not_found address, or undefined. */
  suggest(local: string, domain: string): string | undefined {
    const locals = this.byDomain.get(domain);
    if (!locals) return undefined;
    const local2 = suggestLocalPart(local, locals);
    return local2 === undefined ? undefined : `${local2}@${domain}`;
  }
}

/** deliverable-index-scan-verdicts.lua (KEYS and ARGV in its header). */
const SCAN_VERDICTS_LUA = loadLuaScript(new URL('./deliverable-index-scan-verdicts.lua', import.meta.url));

export async function buildDeliverableIndex(redis: Redis, verdictsKey: string, vtextKey: string, limits: DeliverableIndexLimits = DEFAULT_DELIVERABLE_LIMITS): Promise<DeliverableIndex> {
  const deliverable = new Map<string, string[]>();
  const notFoundDomains = new Set<string>();
  let kept = 0;
  let cursor = '0';
  do {
    const [next, ...flat] = (await runScript(redis, SCAN_VERDICTS_LUA, [verdictsKey, vtextKey], [cursor, 5_000])) as string[];
    cursor = next ?? '0';
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const key = flat[i]!;
      const kind = flat[i + 1]!;
      const at = key.lastIndexOf('@');
      if (at <= 0) continue;
      const domain = key.slice(at + 1);
      if (kind === 'n') {
        notFoundDomains.add(domain);
        continue;
      }
      if (kept >= limits.total) continue;
      const locals = deliverable.get(domain) ?? [];
      if (locals.length >= limits.perDomain) continue;
      locals.push(key.slice(0, at));
      deliverable.set(domain, locals);
      kept += 1;
    }
  } while (cursor !== '0');
  for (const domain of deliverable.keys()) if (!notFoundDomains.has(domain)) deliverable.delete(domain);
  return new DeliverableIndex(deliverable);
}
