/**
 * Which provider runs a mail server: matched on its MX host names (label-boundary suffixes,
 * case-insensitive, a trailing root dot tolerated), else on its greeting banner. Pure. The suffix
 * table is compiled once into a Map, so a lookup costs one Map probe per label of the host name.
 *
 * Look-alikes never match: "evilgoogle.com" is not under "google.com", "google.com.evil.test" is not
 * either, and a name that is not a valid host name (empty labels, non-ASCII, spaces, over-long
 * labels) matches nothing.
 */
import type { GreetingPattern, Provider, ProviderTable } from './provider-table.ts';

export interface ProviderMatch {
  provider: Provider;
  /** The segment of the pattern that matched ("business", "consumer", ...), null when not told apart. */
  segment: string | null;
  via: 'mx' | 'greeting';
  /** The MX host name that matched (normalised), or the host name the greeting named. */
  host: string;
}

/** The part of an MX resolution the matcher reads (structurally the MxResolution of src/dns). */
export type DomainMxAnswer = { kind: 'hosts'; hosts: ReadonlyArray<{ exchange: string; preference: number }> } | { kind: 'none' };

export interface ProviderMatcher {
  /**
   * The provider of the first of these host names that matches one, in the order given (callers
   * pass the most preferred MX hosts, or the one host a session talks to); else the provider the
   * greeting names; else null.
   */
  providerOf(mxHostNames: readonly string[], greeting?: string): ProviderMatch | null;
  /**
   * The provider of a domain: decided by its most preferred MX hosts only (a backup MX at a big
   * provider does not make the domain theirs), tried in name order so equal preferences in random
   * order give the same answer every time. Null for a domain without MX hosts or at no known provider.
   */
  providerForDomain(resolution: DomainMxAnswer, greeting?: string): ProviderMatch | null;
  bySlug(slug: string): Provider | undefined;
}

interface SuffixEntry {
  provider: Provider;
  segment: string | null;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Lower case, without one trailing root dot; null when it is not a valid host name. */
export function normaliseHostName(name: string): string | null {
  const lower = name.trim().toLowerCase();
  const host = lower.endsWith('.') ? lower.slice(0, -1) : lower;
  if (host.length === 0 || host.length > 253) return null;
  for (const label of host.split('.')) if (!LABEL.test(label)) return null;
  return host;
}

export function compileProviderMatcher(table: ProviderTable): ProviderMatcher {
  const suffixes = new Map<string, SuffixEntry>();
  const greetings: Array<{ pattern: GreetingPattern; provider: Provider }> = [];
  const slugs = new Map<string, Provider>();
  for (const provider of table.providers) {
    slugs.set(provider.slug, provider);
    for (const m of provider.mx) suffixes.set(m.suffix, { provider, segment: m.segment });
    for (const pattern of provider.greetings) greetings.push({ pattern, provider });
  }

  /** Longest suffix first: the whole name, then without its first label, and so on. */
  function lookup(host: string): SuffixEntry | undefined {
    let candidate = host;
    for (;;) {
      const hit = suffixes.get(candidate);
      if (hit !== undefined) return hit;
      const dot = candidate.indexOf('.');
      if (dot < 0) return undefined;
      candidate = candidate.slice(dot + 1);
    }
  }

  function underSuffix(host: string, suffix: string): boolean {
    return host === suffix || host.endsWith(`.${suffix}`);
  }

  function byGreeting(greeting: string): ProviderMatch | null {
    // "220 mx.google.com ESMTP ..." or "220-..." lines joined: the first word after the code names the host.
    const text = greeting.toLowerCase();
    const first = /^\d{3}[ -]?\s*(\S+)/.exec(text)?.[1] ?? '';
    const named = normaliseHostName(first);
    for (const { pattern, provider } of greetings) {
      if (pattern.hostSuffix !== null && (named === null || !underSuffix(named, pattern.hostSuffix))) continue;
      if (!pattern.includes.every((s) => text.includes(s))) continue;
      return { provider, segment: pattern.segment, via: 'greeting', host: named ?? '' };
    }
    return null;
  }

  function providerOf(mxHostNames: readonly string[], greeting?: string): ProviderMatch | null {
    for (const name of mxHostNames) {
      const host = normaliseHostName(name);
      if (host === null) continue;
      const hit = lookup(host);
      if (hit !== undefined) return { provider: hit.provider, segment: hit.segment, via: 'mx', host };
    }
    return greeting === undefined || greeting === '' ? null : byGreeting(greeting);
  }

  return {
    providerOf,
    providerForDomain(resolution, greeting) {
      if (resolution.kind !== 'hosts' || resolution.hosts.length === 0) return null;
      const best = Math.min(...resolution.hosts.map((h) => h.preference));
      const names = resolution.hosts
        .filter((h) => h.preference === best)
        .map((h) => h.exchange)
        .sort();
      return providerOf(names, greeting);
    },
    bySlug: (slug) => slugs.get(slug),
  };
}
