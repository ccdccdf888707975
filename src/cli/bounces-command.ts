/** `hygiene bounces FILE...`: hard bounces from mail logs and DSN messages go to the suppression list. */
import { createRedisClient, resolveRedisEndpoint } from '../app/redis-connection.ts';
import { importBounceFiles } from '../bounces/bounce-import.ts';
import { createSuppressionStore } from '../bounces/suppression-store.ts';
import { HygieneError } from '../errors.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';

export const bouncesCommand: Command = {
  defaultLogLevel: 'warn',
  usage: `Usage: hygiene bounces FILE... [--json]

Reads Postfix and Exim mail logs (plain or .gz, streamed) and RFC 3464 bounce messages (one message
or an mbox per file). Hard bounces (5.1.x bad address, 5.2.1 disabled mailbox, or a 5xx saying the
user is unknown) are added to the suppression list with the date, FILE:LINE and the log line; later
verifications answer those addresses undeliverable/suppressed without probing. Soft bounces
(deferrals, 4.x.x) are counted, not suppressed; other permanent failures (5.7.x policy, 5.2.2 full)
are counted and ignored. Manage the list with "hygiene suppress".`,
  options: { ...COMMON_OPTIONS, json: { type: 'boolean' } },
  async run({ config, flags, positionals }) {
    if (positionals.length === 0) throw new HygieneError('USAGE', 'bounces takes one or more log or bounce files: hygiene bounces /var/log/mail.log*');
    const endpoint = await resolveRedisEndpoint(config.redisUrl, true);
    const redis = createRedisClient(endpoint.url, 'hygiene-bounces');
    redis.on('error', () => undefined);
    try {
      const summary = await importBounceFiles(positionals, { store: createSuppressionStore(redis, config.keyPrefix) });
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      } else {
        for (const f of summary.files) {
          process.stdout.write(`${f.file}\t${f.format}${f.gzip ? ' (gzip)' : ''}\t${f.lines} lines\t${f.hard} hard\t${f.soft} soft\t${f.other} other${f.invalidRecipients ? `\t${f.invalidRecipients} invalid recipients` : ''}\n`);
        }
        process.stdout.write(`${summary.hard} hard bounces (${summary.newlySuppressed} newly suppressed), ${summary.soft} soft bounces counted, ${summary.other} other failures ignored\n`);
      }
      return 0;
    } finally {
      await redis.quit().catch(() => redis.disconnect());
    }
  },
};
