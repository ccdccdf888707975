/**
 * `hygiene cache stats|clear`: what the fleet has cached about the mail world (verdicts, catch-all
 * and MX answers), and forgetting it: all of it, one domain's, or one address's (src/probe/cache-admin.ts).
 */
import { createRedisClient, resolveRedisEndpoint } from '../app/redis-connection.ts';
import { cleanText } from '../bounces/bounce-event.ts';
import { normaliseDomain } from '../dns/mx-resolver.ts';
import { parseEmailAddress } from '../domain/email-address.ts';
import { HygieneError } from '../errors.ts';
import { AGE_BUCKETS, cacheStats, clearCaches, type CacheScope, type CacheStats } from '../probe/cache-admin.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';

function formatStats(prefix: string, stats: CacheStats): string {
  const list = (counts: Record<string, number>): string =>
    Object.entries(counts)
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || '-';
  return [
    `Verdict cache (prefix "${prefix}"): ${stats.verdicts} addresses`,
    `  by status: ${list(stats.byStatus)}`,
    `  by reason: ${list(stats.byReason)}`,
    `  by age:    ${AGE_BUCKETS.map((b) => `${b} ${stats.byAge[b]}`).join(', ')}`,
    `Catch-all answers: ${stats.catchAll} domains`,
    `MX answers: ${stats.mx} domains`,
    '',
  ].join('\n');
}

function scopeOf(flags: Record<string, string | boolean | undefined>): CacheScope {
  const domain = typeof flags.domain === 'string' ? flags.domain : undefined;
  const address = typeof flags.address === 'string' ? flags.address : undefined;
  if (domain !== undefined && address !== undefined) throw new HygieneError('USAGE', 'cache clear takes --domain or --address, not both');
  if (address !== undefined) {
    const parsed = parseEmailAddress(address);
    if (!parsed.ok) throw new HygieneError('USAGE', `"${cleanText(address, 100)}" is not a valid address: ${parsed.detail}`);
    return { kind: 'address', key: parsed.key };
  }
  if (domain !== undefined) {
    const normalised = normaliseDomain(domain);
    if (normalised === '' || !parseEmailAddress(`x@${normalised}`).ok) throw new HygieneError('USAGE', `"${cleanText(domain, 100)}" is not a valid domain`);
    return { kind: 'domain', domain: normalised };
  }
  return { kind: 'all' };
}

export const cacheCommand: Command = {
  defaultLogLevel: 'warn',
  usage: `Usage:
  hygiene cache stats [--json]
  hygiene cache clear [--domain DOMAIN | --address ADDRESS] [--json]

stats: cached verdicts by status, by reason and by age, and how many domains have cached catch-all
and MX answers. clear: forgets cached verdicts, catch-all and MX answers, all of them, or those of
one domain (its verdicts, catch-all and MX answers), or one address's verdict; the next run asks the
servers again. (verify --no-cache or --max-age DURATION ignores cached verdicts for one run.)`,
  options: { ...COMMON_OPTIONS, json: { type: 'boolean' }, domain: { type: 'string' }, address: { type: 'string' } },
  async run({ config, flags, positionals }) {
    const [sub, ...rest] = positionals;
    if ((sub !== 'stats' && sub !== 'clear') || rest.length > 0) throw new HygieneError('USAGE', 'cache needs a subcommand: stats or clear (hygiene cache --help)');
    if (sub === 'stats' && (flags.domain !== undefined || flags.address !== undefined)) throw new HygieneError('USAGE', 'cache stats takes no --domain or --address');
    const scope = sub === 'clear' ? scopeOf(flags) : undefined;
    // The fleet's caches live in its Redis: never a private one here.
    const endpoint = await resolveRedisEndpoint(config.redisUrl, true);
    const redis = createRedisClient(endpoint.url, 'hygiene-cache');
    redis.on('error', () => undefined);
    try {
      if (scope === undefined) {
        const stats = await cacheStats(redis, config.keyPrefix);
        process.stdout.write(flags.json === true ? `${JSON.stringify(stats, null, 2)}\n` : formatStats(config.keyPrefix, stats));
        return 0;
      }
      const cleared = await clearCaches(redis, config.keyPrefix, scope);
      const what = scope.kind === 'all' ? 'everything cached' : scope.kind === 'domain' ? scope.domain : scope.key;
      process.stdout.write(
        flags.json === true
          ? `${JSON.stringify({ scope, cleared }, null, 2)}\n`
          : `Cleared ${cleared.verdicts} cached verdicts, ${cleared.catchAll} catch-all and ${cleared.mx} MX answers (${what}).\n`,
      );
      return 0;
    } finally {
      await redis.quit().catch(() => redis.disconnect());
    }
  },
};
