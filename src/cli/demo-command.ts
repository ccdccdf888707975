/**
 * `hygiene demo` (npm run demo): the product working with no internet. Starts the simulated mail
 * world of samples/world.json on loopback (a DNS server and Postfix-like SMTP servers), points the
 * verifier at it, runs `verify samples/contacts.csv --out results/`, and prints what the servers saw
 * (sessions per MX, error-limit penalties, DATA commands: always 0).
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/config.ts';
import { deleteKeysWithPrefix, resolveRedisEndpoint } from '../app/redis-connection.ts';
import { loadWorldSpecFile, startMailWorld } from '../world/mail-world.ts';
import { COMMON_OPTIONS, type Command } from './command.ts';
import { runVerify } from './verify-command.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Settings that make the simulated world quick to show: short greylisting and backoff. */
export function demoEnvironment(dnsServers: string[], smtpPort: number): Record<string, string> {
  return {
    HYGIENE_DNS_SERVERS: dnsServers.join(','),
    HYGIENE_SMTP_PORT: String(smtpPort),
    HYGIENE_HELO_NAME: 'verifier.demo.test',
    HYGIENE_MAIL_FROM: 'verify@demo.test',
    HYGIENE_GREYLIST_RETRY_MS: '2500',
    HYGIENE_BACKOFF_MS: '1000',
    HYGIENE_CONNECT_TIMEOUT_MS: '2000',
    HYGIENE_GREETING_TIMEOUT_MS: '5000',
    HYGIENE_COMMAND_TIMEOUT_MS: '5000',
    HYGIENE_DNS_TIMEOUT_MS: '500',
    HYGIENE_DNS_TRIES: '1',
    HYGIENE_PREFIX: 'hygiene-demo',
    // The simulated world's MX hosts live on 127.0.0.1, which the API refuses by default.
    HYGIENE_API_ALLOW_PRIVATE_MX: 'true',
    // Our own simulated servers: short pauses, and no session-start budget to spare them (the
    // defaults, 60 s pauses and 60 session starts a minute per server, protect real ones).
    HYGIENE_MX_PAUSE_MS: '1000',
    HYGIENE_MX_PAUSE_MAX_MS: '5000',
    HYGIENE_SESSIONS_PER_MINUTE_PER_MX: '100000',
    HYGIENE_SESSION_BURST_PER_MX: '1000',
    // The simulated DNS serves the world's names only: no well-known name is there to ask.
    HYGIENE_DNS_CANARIES: '',
  };
}

export const demoCommand: Command = {
  defaultLogLevel: 'warn',
  usage: `Usage: hygiene demo [--world FILE] [--input FILE] [--out DIR]

Runs the whole product against a simulated mail world on loopback (no internet, no Docker).
Defaults: --world samples/world.json --input samples/contacts.csv --out results/`,
  options: { ...COMMON_OPTIONS, world: { type: 'string' }, input: { type: 'string' }, out: { type: 'string', short: 'o' }, json: { type: 'boolean' } },
  async run({ env, flags }) {
    const worldFile = typeof flags.world === 'string' ? flags.world : path.join(ROOT, 'samples/world.json');
    const input = typeof flags.input === 'string' ? flags.input : path.join(ROOT, 'samples/contacts.csv');
    const outDir = typeof flags.out === 'string' ? flags.out : 'results';
    const world = await startMailWorld(await loadWorldSpecFile(worldFile));
    try {
      const config = loadConfig({ ...env, ...demoEnvironment(world.dnsServers, world.smtpPort) }, { ...flags, prefix: undefined, 'dns-servers': undefined, 'smtp-port': undefined });
      // A demo shows probing: forget verdicts, DNS and catch-all answers of earlier demo runs.
      const endpoint = await resolveRedisEndpoint(config.redisUrl, config.redisUrlExplicit);
      if (!endpoint.private) await deleteKeysWithPrefix(endpoint.url, config.keyPrefix);
      await endpoint.stop?.();
      process.stdout.write(`Simulated mail world up: DNS ${world.dnsServers.join(', ')}, SMTP port ${world.smtpPort} on 127.0.0.x\n`);
      if (world.tlsUnavailable) process.stdout.write(`STARTTLS is off in this demo: ${world.tlsUnavailable}\n`);
      process.stdout.write('\n');
      const code = await runVerify(config, { file: input, outDir, localWorkers: true, json: flags.json === true, syntaxOnly: false });
      const stats = world.stats();
      process.stdout.write('\nWhat the simulated mail servers saw:\nMX host                     sessions  max at once  RCPTs  penalties  421s  DATA\n');
      for (const [host, s] of Object.entries(stats)) {
        process.stdout.write(
          `${host.padEnd(27)} ${String(s.sessionsOpened).padStart(8)} ${String(s.maxConcurrentSessions).padStart(12)} ${String(s.rcptCount).padStart(6)} ${String(s.penalties).padStart(10)} ${String(s.hardLimitHits).padStart(5)} ${String(s.dataSeen).padStart(5)}\n`,
        );
      }
      return code;
    } finally {
      await world.stop();
    }
  },
};
