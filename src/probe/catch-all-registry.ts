/**
 * Catch-all knowledge per domain (SMTP-FACTS: one random improbable local part, on the same session,
 * cached per domain). Only a 2xx to the probe makes a domain catch-all; a mailbox-not-found answer
 * makes it "no"; anything else (4xx, a policy block, a timeout) leaves it "unknown".
 *
 * In-process: one probe per domain, and every session waits for that answer before it reports an
 * accepted address of the domain. Across the fleet: definite answers are cached in Redis.
 * Key: {p}:catchall:{domain}  STRING "yes" | "no", TTL.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

import type { CatchAllState } from '../domain/probe-verdict.ts';

export type { CatchAllState };

interface Entry {
  state: CatchAllState | 'probing' | 'unprobed';
  waiters: Array<(state: CatchAllState) => void>;
}

export class CatchAllRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
    private readonly enabled: boolean,
  ) {}

  /** Loads cached answers for these domains (one round trip). */
  async preload(domains: string[]): Promise<void> {
    const missing = domains.filter((d) => !this.entries.has(d));
    if (missing.length === 0) return;
    const values = await this.redis.mget(...missing.map((d) => this.key(d)));
    missing.forEach((domain, i) => {
      if (this.entries.has(domain)) return;
      const value = values[i];
      const state: Entry['state'] = !this.enabled ? 'unknown' : value === 'yes' || value === 'no' ? value : 'unprobed';
      this.entries.set(domain, { state, waiters: [] });
    });
  }

  /** Known answer, or undefined while unprobed or probing. */
  known(domain: string): CatchAllState | undefined {
    const entry = this.entries.get(domain);
    if (!entry) return this.enabled ? undefined : 'unknown';
    return entry.state === 'probing' || entry.state === 'unprobed' ? undefined : entry.state;
  }

  /** True when nobody has probed (or is probing) this domain yet. */
  needsProbe(domain: string): boolean {
    if (!this.enabled) return false;
    const entry = this.entries.get(domain);
    return !entry || entry.state === 'unprobed';
  }

  /** Claims the probe for a domain: true exactly once per unprobed domain. */
  claimProbe(domain: string): boolean {
    if (!this.enabled) return false;
    const entry = this.entries.get(domain) ?? { state: 'unprobed' as const, waiters: [] };
    this.entries.set(domain, entry);
    if (entry.state !== 'unprobed') return false;
    entry.state = 'probing';
    return true;
  }

  /** Waits for the domain's answer (immediately when known). */
  wait(domain: string): Promise<CatchAllState> {
    const known = this.known(domain);
    if (known) return Promise.resolve(known);
    const entry = this.entries.get(domain);
    if (!entry) return Promise.resolve('unknown');
    return new Promise((resolve) => entry.waiters.push(resolve));
  }

  settle(domain: string, state: CatchAllState): void {
    const entry = this.entries.get(domain) ?? { state: 'unprobed' as const, waiters: [] };
    entry.state = state;
    this.entries.set(domain, entry);
    for (const wake of entry.waiters.splice(0)) wake(state);
    if (state !== 'unknown' && this.ttlSeconds > 0) {
      this.redis.set(this.key(domain), state, 'EX', this.ttlSeconds).catch(() => undefined);
    }
  }

  private key(domain: string): string {
    return `${this.keyPrefix}:catchall:${domain}`;
  }
}

/** A local part no person would have: long, random, and clearly machine-made. */
export function improbableLocalPart(): string {
  return `nx-${randomBytes(9).toString('hex')}`;
}
