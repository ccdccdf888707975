/** `hygiene status LIST_ID`: a list's state, progress and output paths. */
import { resolveRedisEndpoint, createRedisClient } from '../app/redis-connection.ts';
import { ListStore } from '../queue/list-store.ts';
import { HygieneError } from '../errors.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { describeWaits, summariseWaits } from './waiting-text.ts';

export const statusCommand: Command = {
  defaultLogLevel: 'warn',
  usage: 'Usage: hygiene status LIST_ID [--json]',
  options: { ...COMMON_OPTIONS, json: { type: 'boolean' } },
  async run({ config, flags, positionals }) {
    const listId = positionals[0];
    if (!listId) throw new HygieneError('USAGE', 'status takes a list id: hygiene status LIST_ID');
    const endpoint = await resolveRedisEndpoint(config.redisUrl, true);
    const redis = createRedisClient(endpoint.url, 'hygiene-status');
    try {
      const store = new ListStore(redis, config.keyPrefix);
      const list = await store.get(listId);
      if (!list) throw new HygieneError('LIST_NOT_FOUND', `No list ${listId} under prefix "${config.keyPrefix}".`);
      // What its delayed jobs wait for (greylisting retries, paused MX hosts), while it verifies.
      const waits = list.state === 'verifying' ? summariseWaits(await store.waiting(listId)) : [];
      if (flags.json === true) {
        const waiting = waits.map((w) => ({ ...w, dueAt: new Date(w.dueAt).toISOString() }));
        process.stdout.write(`${JSON.stringify({ ...list, ...(waiting.length > 0 ? { waiting } : {}) }, null, 2)}\n`);
      } else {
        const pct = list.uniqueAddresses ? Math.floor((100 * list.verified) / list.uniqueAddresses) : 100;
        process.stdout.write(
          `List ${list.id}: ${list.state}\n  input: ${list.input}\n  rows: ${list.rows}, unique addresses: ${list.uniqueAddresses}, verified: ${list.verified} (${pct}%)\n` +
            describeWaits(waits, Date.now())
              .map((line) => `  waiting: ${line}\n`)
              .join('') +
            (list.reportPath ? `  report: ${list.reportPath}\n` : '') +
            (list.error ? `  error: ${list.error}\n` : ''),
        );
      }
      return 0;
    } finally {
      redis.disconnect();
    }
  },
};
