/**
 * Catch-all knowledge per domain (SMTP-FACTS: one random improbable local part, on the same session,
 * cached per domain). Only a 2xx to the probe makes a domain catch-all; a mailbox-not-found answer
 * makes it "no"; anything else (4xx, a policy block, a timeout) leaves it "unknown".
 *
 * In-process: one probe per domain, and every session waits for that answer before it reports an
 * accepted address of the domain. Across the fleet: definite answers are cached in Redis.
 * Key: {p}:catchall:{domain}  STRING "yes" | "no", TTL.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { catchAllKey } from '../store/redis-keys.ts';

import type { CatchAllState } from '../domain/probe-verdict.ts';

export type { CatchAllState };

interface Entry {
  state: CatchAllState | 'probing' | 'unprobed';
  waiters: Array<(state: CatchAllState) => void>;
  /** After a temporary answer (4xx, lost session) the domain may be probed again from this time on. */
  retryAt?: number;
}

/** Default for how long a temporary catch-all answer stands before the domain is probed again. */
const TRANSIENT_RETRY_MS = 10_000;

export class CatchAllRegistry {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly ttlSeconds: number,
    private readonly enabled: boolean,
    /** Keep it under the greylisting retry delay, so a greylisted probe is sent again with the retry. */
    private readonly transientRetryMs: number = TRANSIENT_RETRY_MS,
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
    if (!entry || entry.state === 'unprobed') return true;
    return entry.state === 'unknown' && entry.retryAt !== undefined && Date.now() >= entry.retryAt;
  }

  /** Claims the probe for a domain: true exactly once per unprobed domain. */
  claimProbe(domain: string): boolean {
    if (!this.enabled) return false;
    const entry = this.entries.get(domain) ?? { state: 'unprobed' as const, waiters: [] };
    this.entries.set(domain, entry);
    if (!this.needsProbe(domain)) return false;
    entry.state = 'probing';
    entry.retryAt = undefined;
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

  /**
   * Records the probe's answer and wakes every session waiting for it. A `transient` unknown (4xx such
   * as greylisting, a lost session) may be probed again later — with the same local part, so a
   * greylisting server lets the retry through.
   */
  settle(domain: string, state: CatchAllState, transient = false): void {
    const entry: Entry = this.entries.get(domain) ?? { state: 'unprobed', waiters: [] };
    entry.state = state;
    entry.retryAt = transient && state === 'unknown' ? Date.now() + this.transientRetryMs : undefined;
    this.entries.set(domain, entry);
    for (const wake of entry.waiters.splice(0)) wake(state);
    if (state !== 'unknown' && this.ttlSeconds > 0) {
      // A cache write: if Redis refuses it, the domain is only probed again by another process or run.
      this.redis.set(this.key(domain), state, 'EX', this.ttlSeconds).catch(() => undefined);
    }
  }

  private key(domain: string): string {
    return catchAllKey(this.keyPrefix, domain);
  }
}

/**
 * A local part no person would have: long, random-looking and clearly machine-made. Stable per
 * domain (a hash, not a fresh random value) so that a greylisting server, which keys on
 * (client, sender, recipient), accepts the probe when we come back after the greylisting delay.
 */
export function improbableLocalPart(domain: string): string {
  return `nx-${createHash('sha256').update(`list-hygiene catch-all probe ${domain}`).digest('hex').slice(0, 18)}`;
}
