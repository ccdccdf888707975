/** `hygiene suppress list|add|remove`: the suppression list (src/bounces/suppression-store.ts). */
import { createRedisClient, resolveRedisEndpoint } from '../app/redis-connection.ts';
import { cleanText } from '../bounces/bounce-event.ts';
import { createSuppressionStore, describeSuppression, type SuppressionEntry } from '../bounces/suppression-store.ts';
import { parseEmailAddress } from '../domain/email-address.ts';
import { HygieneError } from '../errors.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';

export const suppressCommand: Command = {
  defaultLogLevel: 'warn',
  usage: `Usage:
  hygiene suppress list [--json]
  hygiene suppress add ADDRESS... [--reason TEXT]
  hygiene suppress remove ADDRESS...

Suppressed addresses are answered undeliverable/suppressed by every verification, without probing.`,
  options: { ...COMMON_OPTIONS, json: { type: 'boolean' }, reason: { type: 'string' } },
  async run({ config, flags, positionals }) {
    const [sub, ...args] = positionals;
    if (sub !== 'list' && sub !== 'add' && sub !== 'remove') throw new HygieneError('USAGE', 'suppress needs a subcommand: list, add or remove');
    if (sub !== 'list' && args.length === 0) throw new HygieneError('USAGE', `suppress ${sub} takes one or more addresses`);
    const parsed = args.map((a) => {
      const p = parseEmailAddress(a);
      if (!p.ok) throw new HygieneError('USAGE', `"${cleanText(a, 100)}" is not a valid address`);
      return p;
    });
    const endpoint = await resolveRedisEndpoint(config.redisUrl, true);
    const redis = createRedisClient(endpoint.url, 'hygiene-suppress');
    redis.on('error', () => undefined);
    const store = createSuppressionStore(redis, config.keyPrefix);
    try {
      if (sub === 'list') {
        if (flags.json) {
          const all: Array<SuppressionEntry & { key: string }> = [];
          for await (const [key, entry] of store.entries()) all.push({ key, ...entry });
          process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
        } else {
          let n = 0;
          for await (const [key, entry] of store.entries()) {
            process.stdout.write(`${key}\t${describeSuppression(entry)}\n`);
            n += 1;
          }
          if (n === 0) process.stdout.write('The suppression list is empty.\n');
        }
        return 0;
      }
      if (sub === 'add') {
        const reason = typeof flags.reason === 'string' ? cleanText(flags.reason) : '';
        const addedAt = new Date().toISOString();
        const added = await store.add(parsed.map((p) => [p.key, { address: p.address, reason, source: 'manual', via: 'manual', addedAt }]));
        process.stdout.write(`${added} added, ${parsed.length - added} already on the list (updated)\n`);
        return 0;
      }
      const removed = await store.remove(parsed.map((p) => p.key));
      process.stdout.write(`${removed} removed${removed < parsed.length ? `, ${parsed.length - removed} were not on the list` : ''}\n`);
      return 0;
    } finally {
      await redis.quit().catch(() => redis.disconnect());
    }
  },
};
