/**
 * An MxResolver that caches another one's answers in Redis and merges concurrent lookups of the
 * same domain inside this process.
 *
 * Redis key layout:
 *   ${keyPrefix}:mx:${domain}   STRING  JSON of the MxResolution (domain = lower-case A-label)
 *                               TTL: ttlSeconds          for { kind: 'hosts' }
 *                                    negativeTtlSeconds  for { kind: 'none', status: 'undeliverable' }
 *                                    unknownTtlSeconds   for { kind: 'none', status: 'unknown' } (0 = not cached)
 *                               An answer of kind 'none' is cached only while mayCacheNegative() says so (the
 *                               run's fault guard: only once our resolver has proven it tells the truth).
 *
 * Equal-preference hosts are re-shuffled on every read so the load still spreads while the entry
 * lives (RFC 5321 §5.1). The cache is an optimisation: when Redis fails, the inner resolver answers.
 */
import type { Redis } from 'ioredis';
import { mxCacheKey } from '../store/redis-keys.ts';
import { normaliseDomain, orderMxHosts, type MxHost, type MxResolution, type MxResolver } from './mx-resolver.ts';

export interface CachedMxResolverOptions {
  keyPrefix: string;
  ttlSeconds: number;
  negativeTtlSeconds: number;
  unknownTtlSeconds: number;
  /** Whether a negative answer (no such domain, no mail server, null MX) may be cached now. Default: always. */
  mayCacheNegative?: () => boolean;
  /** Shuffle source for equal preferences. Default Math.random. */
  random?: () => number;
}


export function createCachedMxResolver(inner: MxResolver, redis: Redis, options: CachedMxResolverOptions): MxResolver {
  const random = options.random ?? Math.random;
  const inFlight = new Map<string, Promise<MxResolution>>();

  function ttlFor(resolution: MxResolution): number {
    if (resolution.kind === 'hosts') return options.ttlSeconds;
    if (options.mayCacheNegative && !options.mayCacheNegative()) return 0;
    return resolution.status === 'undeliverable' ? options.negativeTtlSeconds : options.unknownTtlSeconds;
  }

  async function lookup(domain: string): Promise<MxResolution> {
    const key = mxCacheKey(options.keyPrefix, domain);
    // Cache unavailable: resolve through DNS, as on a miss.
    const cached = await redis.get(key).catch(() => null);
    const parsed = cached === null ? null : parseCached(cached);
    if (parsed !== null) {
      return parsed.kind === 'hosts' ? { ...parsed, hosts: orderMxHosts(parsed.hosts, random) } : parsed;
    }
    const resolution = await inner.resolve(domain);
    const ttl = ttlFor(resolution);
    // A cache write Redis refuses only costs a DNS lookup next time.
    if (ttl > 0) await redis.set(key, JSON.stringify(resolution), 'EX', ttl).catch(() => undefined);
    return resolution;
  }

  return {
    resolve(input: string): Promise<MxResolution> {
      const domain = normaliseDomain(input);
      const pending = inFlight.get(domain);
      if (pending !== undefined) return pending;
      const promise = lookup(domain).finally(() => inFlight.delete(domain));
      inFlight.set(domain, promise);
      return promise;
    },
  };
}

/** Checks a cached value at the boundary: anything malformed is a cache miss. */
function parseCached(text: string): MxResolution | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  if (r.kind === 'hosts') {
    if (!Array.isArray(r.hosts) || typeof r.implicit !== 'boolean') return null;
    const hosts: MxHost[] = [];
    for (const h of r.hosts as unknown[]) {
      if (typeof h !== 'object' || h === null) return null;
      const { exchange, preference, addresses } = h as Record<string, unknown>;
      if (typeof exchange !== 'string' || typeof preference !== 'number' || !Array.isArray(addresses)) return null;
      if (!addresses.every((a): a is string => typeof a === 'string')) return null;
      hosts.push({ exchange, preference, addresses });
    }
    return { kind: 'hosts', hosts, implicit: r.implicit };
  }
  if (r.kind === 'none') {
    const status = r.status;
    const reason = r.reason;
    if (status !== 'undeliverable' && status !== 'unknown') return null;
    if (reason !== 'null_mx' && reason !== 'no_such_domain' && reason !== 'no_mail_server' && reason !== 'dns_error') return null;
    if (typeof r.detail !== 'string') return null;
    return { kind: 'none', status, reason, detail: r.detail };
  }
  return null;
}
