/**
 * `hygiene demo` (npm run demo): the product working with no internet. Starts a simulated mail world
 * on loopback (a DNS server and Postfix-like SMTP servers; samples/world.json by default), points the
 * verifier at it, runs `verify samples/contacts.csv --out results/`, and prints what the servers saw
 * (sessions per MX, error-limit penalties, DATA commands: always 0).
 *
 * `hygiene demo --keep` then keeps the world running and prints the `export` lines that point every
 * other command (verify, watch, api, probe, doctor, schedule, cache) at it, until Ctrl-C;
 * `hygiene world` does the same without the sample run.
 *
 * Redis keys: the prefix is HYGIENE_PREFIX (or --prefix) when the user gives one, else the demo's own
 * (`hygiene-demo`, `hygiene-demo-<world>` for another world, so two worlds' cached MX answers never
 * meet). Nothing is ever cleared unless --fresh asks for it; the sample run asks the servers anyway
 * (it ignores cached verdicts and catch-all answers, like `verify --no-cache`).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config/config.ts';
import { deleteKeysWithPrefix, resolveRedisEndpoint, type RedisEndpoint } from '../app/redis-connection.ts';
import { HygieneError } from '../errors.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../world/mail-world.ts';
import { COMMON_OPTIONS, type Command, type CommandContext } from './command.ts';
import { onShutdownSignal } from './shutdown.ts';
import { runVerify } from './verify-command.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** The worlds that ship in samples/, by name (--world NAME), each with the contacts written for it. */
const NAMED_WORLDS: Readonly<Record<string, { world: string; input: string }>> = {
  demo: { world: 'samples/world.json', input: 'samples/contacts.csv' },
  providers: { world: 'samples/world-providers.json', input: 'samples/contacts-providers.csv' },
};

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

/** A value as one shell word: as is when it is plain, else in single quotes. */
export function shellWord(value: string): string {
  return /^[A-Za-z0-9_.,:/@%+=-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
}

interface WorldChoice {
  name: string;
  worldFile: string;
  input: string;
}

function chooseWorld(flags: CommandContext['flags']): WorldChoice {
  const world = typeof flags.world === 'string' ? flags.world : 'demo';
  const named = NAMED_WORLDS[world];
  const input = typeof flags.input === 'string' ? flags.input : undefined;
  if (named) return { name: world, worldFile: path.join(ROOT, named.world), input: input ?? path.join(ROOT, named.input) };
  const base = path.basename(world).replace(/\.json$/i, '');
  const name = base === 'world' ? 'demo' : base.replace(/^world-/, '');
  return { name, worldFile: world, input: input ?? path.join(ROOT, NAMED_WORLDS.demo!.input) };
}

/** The user's prefix (HYGIENE_PREFIX or --prefix) when given, else the demo's own for this world. */
function demoPrefix(ctx: CommandContext, world: WorldChoice): { prefix: string; own: boolean } {
  const given = typeof ctx.flags.prefix === 'string' ? ctx.flags.prefix : ctx.env.HYGIENE_PREFIX;
  if (given !== undefined && given !== '') return { prefix: given, own: false };
  const suffix = world.name === 'demo' ? '' : `-${world.name.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 40)}`;
  return { prefix: `hygiene-demo${suffix}`, own: true };
}

function intFlag(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new HygieneError('USAGE', `${name} must be a port number (0-65535), got "${String(value)}"`);
  return n;
}

async function runDemo(ctx: CommandContext, mode: { sampleRun: boolean; keep: boolean }): Promise<number> {
  const { flags } = ctx;
  const choice = chooseWorld(flags);
  const { prefix, own } = demoPrefix(ctx, choice);
  const world: MailWorld = await startMailWorld(await loadWorldSpecFile(choice.worldFile), {
    smtpPort: intFlag(flags['smtp-port'], '--smtp-port'),
    dnsPort: intFlag(flags['dns-port'], '--dns-port'),
  });
  let endpoint: RedisEndpoint | undefined;
  let stopping: Promise<void> | undefined;
  /** Once, whatever calls it first (the end of a run, an error, Ctrl-C). */
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      await world.stop();
      await endpoint?.stop?.();
    })());
  try {
    // One Redis for the whole session: a private redis-server, if one had to be started, stays up
    // as long as the world does (every other command is pointed at it).
    endpoint = await resolveRedisEndpoint(ctx.config.redisUrl, ctx.config.redisUrlExplicit);
    const shareRedis = endpoint.private || ctx.config.redisUrlExplicit;
    const settings: Record<string, string> = {
      ...(shareRedis ? { REDIS_URL: endpoint.url } : {}),
      HYGIENE_PREFIX: prefix,
      ...demoEnvironment(world.dnsServers, world.smtpPort),
    };
    const config = loadConfig({ ...ctx.env, ...settings, REDIS_URL: endpoint.url }, { ...flags, prefix: undefined, 'dns-servers': undefined, 'smtp-port': undefined });
    if (flags.fresh === true) {
      await deleteKeysWithPrefix(endpoint.url, prefix);
      process.stdout.write(`Cleared every Redis key under "${prefix}:" (--fresh).\n`);
    }
    process.stdout.write(`Simulated mail world up (${path.relative(process.cwd(), choice.worldFile) || choice.worldFile}): DNS ${world.dnsServers.join(', ')}, SMTP port ${world.smtpPort} on 127.x.y.z; Redis ${endpoint.url}${endpoint.private ? ' (private)' : ''}, prefix "${prefix}"${own ? '' : ' (yours: nothing is cleared)'}\n`);
    if (world.tlsUnavailable) process.stdout.write(`STARTTLS is off in this demo: ${world.tlsUnavailable}\n`);
    process.stdout.write('\n');
    let code = 0;
    if (mode.sampleRun) {
      // Ask the servers even when this prefix has answers cached: the demo shows probing.
      code = await runVerify(config, { file: choice.input, outDir: typeof flags.out === 'string' ? flags.out : 'results', localWorkers: true, json: flags.json === true, syntaxOnly: false, skipCache: true });
      printServerStats(world);
    }
    if (!mode.keep) return code;
    printExports(settings, choice);
    await new Promise<void>((resolve) => {
      // Ctrl-C (or SIGTERM): the world's servers and a private redis-server stop, then the process exits.
      onShutdownSignal(async () => {
        await stopAll();
        resolve();
      });
    });
    return code;
  } finally {
    await stopAll();
  }
}

function printServerStats(world: MailWorld): void {
  const stats = world.stats();
  // The host column is as wide as the longest name (the provider world's run past 40 characters).
  const width = Math.max(27, ...Object.keys(stats).map((host) => host.length));
  process.stdout.write(`\nWhat the simulated mail servers saw:\n${'MX host'.padEnd(width)} sessions  max at once  RCPTs  penalties  421s  DATA\n`);
  for (const [host, s] of Object.entries(stats)) {
    process.stdout.write(
      `${host.padEnd(width)} ${String(s.sessionsOpened).padStart(8)} ${String(s.maxConcurrentSessions).padStart(12)} ${String(s.rcptCount).padStart(6)} ${String(s.penalties).padStart(10)} ${String(s.hardLimitHits).padStart(5)} ${String(s.dataSeen).padStart(5)}\n`,
    );
  }
}

/** The export lines (every other line a shell comment, so the whole block can be pasted as it is). */
function printExports(settings: Record<string, string>, choice: WorldChoice): void {
  const key = `demo-${randomBytes(18).toString('base64url')}`;
  const adminKey = `admin-${randomBytes(18).toString('base64url')}`;
  const all: Record<string, string> = { ...settings, HYGIENE_API_KEYS: `demo:${key}`, HYGIENE_API_ADMIN_KEYS: `ops:${adminKey}` };
  const input = path.relative(process.cwd(), choice.input) || choice.input;
  const lines = [
    '',
    '# The simulated mail world keeps running. To point every other command at it, paste these lines',
    '# into another shell (in this project folder):',
    ...Object.entries(all).map(([name, value]) => `export ${name}=${shellWord(value)}`),
    '# Then, for example:',
    '#   hygiene probe jane@acme.test                       (the live SMTP conversation)',
    `#   hygiene verify ${input} --out results/`,
    '#   hygiene doctor --domain acme.test',
    '#   hygiene watch /tmp/hygiene-watch                   (drop CSVs into /tmp/hygiene-watch/inbox)',
    `#   hygiene api   and   curl -H "x-api-key: ${key}" -H 'content-type: text/csv' --data-binary @${input} http://127.0.0.1:8080/v1/lists`,
    `#   hygiene schedule add ${input} --every 1h --out results/ ; hygiene schedule run`,
    '#   hygiene cache stats',
    '# Ctrl-C here stops the world.',
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

const DEMO_OPTIONS = {
  ...COMMON_OPTIONS,
  world: { type: 'string' },
  input: { type: 'string' },
  out: { type: 'string', short: 'o' },
  json: { type: 'boolean' },
  keep: { type: 'boolean' },
  fresh: { type: 'boolean' },
  'dns-port': { type: 'string' },
} as const;

const WORLD_FLAGS = `  --world NAME|FILE  the simulated world: "demo" (samples/world.json, the default), "providers"
                     (samples/world-providers.json: Gmail, Microsoft 365, Yahoo, gateways under their
                     real MX names, with samples/contacts-providers.csv), or a world JSON file
  --fresh            first delete every Redis key under the prefix (never done otherwise)
  --smtp-port N      the port every simulated MX listens on (default: a free one)
  --dns-port N       the simulated DNS server's port on 127.0.0.1 (default: a free one)
  --prefix P         Redis key prefix (or HYGIENE_PREFIX; default hygiene-demo, hygiene-demo-<world>)`;

export const demoCommand: Command = {
  defaultLogLevel: 'warn',
  usage: `Usage: hygiene demo [--world NAME|FILE] [--input FILE] [--out DIR] [--keep] [options]

Runs the whole product against a simulated mail world on loopback (no internet, no Docker):
verifies --input (default: the world's sample contacts) into --out (default results/) and shows
what the simulated servers saw.

  --keep             then keep the world running and print the export lines that point every other
                     command (verify, watch, api, probe, doctor, schedule, cache) at it, until Ctrl-C
  --input FILE       the list to verify (default samples/contacts.csv)
  --out, -o DIR      where the results go (default results/)
  --json             the report as JSON (as verify --json)
${WORLD_FLAGS}`,
  options: DEMO_OPTIONS,
  run: (ctx) => runDemo(ctx, { sampleRun: true, keep: ctx.flags.keep === true }),
};

/** `hygiene world`: the world of `demo --keep`, without the sample run. */
export const worldCommand: Command = {
  defaultLogLevel: 'warn',
  usage: `Usage: hygiene world [--world NAME|FILE] [options]

Starts the simulated mail world of "hygiene demo" on loopback and keeps it running until Ctrl-C,
printing the export lines that point every other command (verify, watch, api, probe, doctor,
schedule, cache) at it. Like "hygiene demo --keep" without the sample run.

${WORLD_FLAGS}`,
  options: DEMO_OPTIONS,
  run: (ctx) => runDemo(ctx, { sampleRun: false, keep: true }),
};
