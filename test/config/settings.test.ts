/**
 * Every setting of src/config/config.ts, one row each: its default, a valid value and what it
 * becomes, and a bad value's problem (one line naming the variable). A completeness check fails when
 * config.ts reads a variable this table does not cover, so a new setting comes with its row.
 * (The value parsers and the HELO identity are in config.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config/config.ts';
import type { HostNameSource } from '../../src/config/host-identity.ts';
import { isHygieneError } from '../../src/errors.ts';

const HOST: HostNameSource = { hostname: () => 'probe.example.net', hostsFile: () => null };

function load(env: Record<string, string>): Config {
  return loadConfig(env, {}, HOST);
}

function problemsOf(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (err) {
    if (isHygieneError(err, 'CONFIG_INVALID')) return [...err.context.problems];
    throw err;
  }
  return [];
}

/** Reads a dotted path of the config ("smtp.timeouts.connectMs"). */
function at(config: Config, where: string): unknown {
  return where.split('.').reduce<unknown>((value, key) => (value as Record<string, unknown>)[key], config);
}

/** `others`: other settings the bounds need (the pause may not exceed the longest pause). */
type IntRow = [variable: string, where: string, fallback: number, min: number, max: number, others?: Record<string, string>];
const INTEGER_SETTINGS: IntRow[] = [
  ['HYGIENE_DNS_TIMEOUT_MS', 'dns.timeoutMs', 5_000, 50, 60_000],
  ['HYGIENE_DNS_TRIES', 'dns.tries', 3, 1, 10],
  ['HYGIENE_DNS_CACHE_TTL_S', 'dns.cacheTtlSeconds', 3_600, 0, 7 * 86_400],
  ['HYGIENE_CONNECT_TIMEOUT_MS', 'smtp.timeouts.connectMs', 10_000, 50, 300_000],
  ['HYGIENE_GREETING_TIMEOUT_MS', 'smtp.timeouts.greetingMs', 30_000, 50, 600_000],
  ['HYGIENE_COMMAND_TIMEOUT_MS', 'smtp.timeouts.commandMs', 30_000, 50, 600_000],
  ['HYGIENE_MAX_SESSIONS_PER_MX', 'smtp.maxSessionsPerMx', 2, 1, 50],
  ['HYGIENE_RCPT_PER_SECOND_PER_MX', 'smtp.rcptPerSecondPerMx', 0, 0, 10_000],
  ['HYGIENE_ERROR_BUDGET', 'smtp.errorBudget', 9, 1, 100],
  ['HYGIENE_MAX_RCPT_PER_TRANSACTION', 'smtp.maxRcptPerTransaction', 100, 1, 1000],
  ['HYGIENE_MAX_RSET_PER_SESSION', 'smtp.maxRsetPerSession', 20, 0, 90],
  ['HYGIENE_PIPELINE_WINDOW', 'smtp.pipelineWindow', 50, 1, 100],
  ['HYGIENE_IDLE_SESSION_MS', 'smtp.idleSessionMs', 2_000, 0, 60_000],
  ['HYGIENE_BACKOFF_MS', 'smtp.backoffMs', 30_000, 0, 3_600_000],
  ['HYGIENE_MX_PAUSE_MS', 'smtp.pauseMs', 60_000, 100, 86_400_000, { HYGIENE_MX_PAUSE_MAX_MS: '604800000' }],
  ['HYGIENE_MX_PAUSE_MAX_MS', 'smtp.pauseMaxMs', 3_600_000, 100, 7 * 86_400_000, { HYGIENE_MX_PAUSE_MS: '100' }],
  ['HYGIENE_MX_PAUSE_RETRIES', 'smtp.pauseRetries', 6, 0, 100],
  ['HYGIENE_SESSIONS_PER_MINUTE_PER_MX', 'smtp.sessionsPerMinute', 60, 1, 1_000_000],
  ['HYGIENE_SESSION_BURST_PER_MX', 'smtp.sessionBurst', 5, 1, 10_000],
  ['HYGIENE_LEASE_TTL_MS', 'smtp.leaseTtlMs', 15_000, 1_000, 600_000],
  ['HYGIENE_SUGGEST_VARIANTS', 'smtp.suggestVariants', 0, 0, 20],
  ['HYGIENE_GREYLIST_RETRY_MS', 'greylist.retryDelayMs', 300_000, 0, 86_400_000],
  ['HYGIENE_GREYLIST_ATTEMPTS', 'greylist.maxAttempts', 3, 1, 20],
  ['HYGIENE_CACHE_TTL_S', 'cache.positiveTtlSeconds', 30 * 86_400, 0, 365 * 86_400],
  ['HYGIENE_NEGATIVE_CACHE_TTL_S', 'cache.negativeTtlSeconds', 3 * 86_400, 0, 365 * 86_400],
  ['HYGIENE_CONCURRENCY', 'queue.concurrency', 16, 1, 1_000],
  ['HYGIENE_JOB_SIZE', 'queue.jobSize', 200, 1, 10_000],
  ['HYGIENE_STALLED_INTERVAL_MS', 'queue.stalledIntervalMs', 30_000, 500, 600_000],
  ['HYGIENE_LOCK_DURATION_MS', 'queue.lockDurationMs', 30_000, 1_000, 600_000],
  ['HYGIENE_API_PORT', 'api.port', 8080, 0, 65_535],
  ['HYGIENE_UPLOAD_MAX_BYTES', 'api.uploadMaxBytes', 1024 ** 3, 1, 1024 ** 4],
  ['HYGIENE_API_RATE_LIMIT', 'api.rateLimitPerMinute', 120, 1, 1_000_000],
  ['HYGIENE_VERIFY_TIMEOUT_MS', 'api.verifyTimeoutMs', 30_000, 100, 600_000],
  ['HYGIENE_PARSE_LEASE_MS', 'api.parseLeaseMs', 15_000, 300, 600_000],
  ['HYGIENE_API_REQUEST_TIMEOUT_MS', 'api.requestTimeoutMs', 1_800_000, 1_000, 86_400_000],
  ['HYGIENE_API_UPLOAD_IDLE_TIMEOUT_MS', 'api.uploadIdleTimeoutMs', 60_000, 100, 3_600_000],
  ['HYGIENE_API_UPLOADS_PER_KEY', 'api.uploadsPerKey', 4, 1, 10_000],
  ['HYGIENE_API_AUTH_FAILURES', 'api.authFailures', 10, 1, 100_000],
  ['HYGIENE_API_AUTH_LOCKOUT_MS', 'api.authLockoutMs', 900_000, 1_000, 86_400_000],
  ['HYGIENE_API_SESSION_TTL_MS', 'api.sessionTtlMs', 28_800_000, 10_000, 30 * 86_400_000],
  ['HYGIENE_WEBHOOK_ATTEMPTS', 'webhook.attempts', 8, 1, 50],
  ['HYGIENE_WEBHOOK_BACKOFF_MS', 'webhook.backoffMs', 5_000, 10, 3_600_000],
  ['HYGIENE_WEBHOOK_TIMEOUT_MS', 'webhook.timeoutMs', 10_000, 100, 120_000],
  ['HYGIENE_WEBHOOK_CONCURRENCY', 'webhook.concurrency', 16, 1, 256],
];

type BoolRow = [variable: string, where: string, fallback: boolean];
const BOOLEAN_SETTINGS: BoolRow[] = [
  ['HYGIENE_CATCH_ALL_PROBE', 'smtp.catchAllProbe', true],
  ['HYGIENE_FORMULA_GUARD', 'output.neutraliseFormulas', true],
  ['HYGIENE_API_ALLOW_PRIVATE_MX', 'api.allowPrivateMx', false],
  ['HYGIENE_WEBHOOK_ALLOW_PRIVATE', 'webhook.allowPrivate', false],
];

/** Settings with their own parser: [variable, default (where, value), a good value and what it becomes, a bad value]. */
type OtherRow = [variable: string, where: string, fallback: unknown, good: string, parsed: unknown, bad: string];
const OTHER_SETTINGS: OtherRow[] = [
  ['REDIS_URL', 'redisUrl', 'redis://127.0.0.1:6379', 'redis://10.0.0.2:6380/1', 'redis://10.0.0.2:6380/1', 'http://127.0.0.1'],
  ['HYGIENE_PREFIX', 'keyPrefix', 'hygiene', 'team-a', 'team-a', 'has space'],
  ['LOG_LEVEL', 'logLevel', 'info', 'debug', 'debug', 'loud'],
  ['HYGIENE_TLS', 'smtp.tls', 'opportunistic', 'required', 'required', 'always'],
  ['HYGIENE_SMTP_PORT', 'smtp.port', 25, '2525', 2525, '70000'],
  ['HYGIENE_LOCAL_ADDRESS', 'smtp.localAddress', undefined, '192.0.2.10', '192.0.2.10', 'my-host'],
  ['HYGIENE_HELO_NAME', 'smtp.heloName', 'probe.example.net', 'verify.example.com', 'verify.example.com', 'localhost'],
  ['HYGIENE_MAIL_FROM', 'smtp.mailFrom', 'verify@probe.example.net', 'bounce@example.com', 'bounce@example.com', 'verify@localhost'],
  ['HYGIENE_DNS_SERVERS', 'dns.servers', [], '1.1.1.1,[2606:4700:4700::1111]:53', ['1.1.1.1', '[2606:4700:4700::1111]:53'], 'dns.google'],
  ['HYGIENE_API_HOST', 'api.host', '127.0.0.1', '0.0.0.0', '0.0.0.0', 'not a host!'],
  ['HYGIENE_API_TRUST_PROXY', 'api.trustProxy', false, '10.0.0.0/8, 192.0.2.1', ['10.0.0.0/8', '192.0.2.1'], 'some proxies'],
  ['HYGIENE_WEBHOOK_SECRET', 'webhook.secret', undefined, 'a-secret-of-24-characters', 'a-secret-of-24-characters', 'short'],
  ['HYGIENE_TLS_CA_FILE', 'smtp.tlsCa', undefined, '', undefined, '/nonexistent/ca.pem'],
];

describe('integer settings: default, bounds, bad values', () => {
  it.each(INTEGER_SETTINGS)('%s → %s (default %d, %d..%d)', (variable, where, fallback, min, max, others = {}) => {
    expect(at(load({}), where)).toBe(fallback);
    expect(at(load({ ...others, [variable]: String(min) }), where)).toBe(min);
    expect(at(load({ ...others, [variable]: String(max) }), where)).toBe(max);
    for (const bad of [String(max + 1), 'ten', '1.5']) {
      const problems = problemsOf({ ...others, [variable]: bad });
      expect(problems, bad).toHaveLength(1);
      expect(problems[0]).toContain(variable);
      expect(problems[0]).toContain(`e.g. ${variable}=`);
    }
    if (min > 0) expect(problemsOf({ ...others, [variable]: String(min - 1) })[0]).toContain(variable);
  });
});

describe('boolean settings', () => {
  it.each(BOOLEAN_SETTINGS)('%s → %s (default %s)', (variable, where, fallback) => {
    expect(at(load({}), where)).toBe(fallback);
    for (const yes of ['true', '1', 'yes', 'ON']) expect(at(load({ [variable]: yes }), where)).toBe(true);
    for (const no of ['false', '0', 'no', 'off']) expect(at(load({ [variable]: no }), where)).toBe(false);
    const problems = problemsOf({ [variable]: 'maybe' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${variable} must be true or false`));
  });
});

describe('settings with their own parser', () => {
  it.each(OTHER_SETTINGS)('%s → %s', (variable, where, fallback, good, parsed, bad) => {
    expect(at(load({}), where)).toEqual(fallback);
    if (good !== '') expect(at(load({ [variable]: good }), where)).toEqual(parsed);
    const problems = problemsOf({ [variable]: bad });
    expect(problems.length, bad).toBeGreaterThanOrEqual(1);
    expect(problems.join('\n')).toContain(variable);
  });

  it('HYGIENE_DNS_CANARIES: well-known names by default, empty turns the check off, each name checked', () => {
    expect(load({}).dns.canaries.length).toBeGreaterThan(0);
    expect(load({ HYGIENE_DNS_CANARIES: '' }).dns.canaries).toEqual([]);
    expect(load({ HYGIENE_DNS_CANARIES: 'example.com,example.net' }).dns.canaries).toEqual(['example.com', 'example.net']);
    expect(problemsOf({ HYGIENE_DNS_CANARIES: 'localhost' })[0]).toContain('HYGIENE_DNS_CANARIES');
  });
  it('HYGIENE_REJECT: the rejected-file policy, a bad category named', () => {
    expect(load({}).output.rejectPolicy).toBeDefined();
    expect(problemsOf({ HYGIENE_REJECT: 'undeliverable,nonsense' }).join('\n')).toMatch(/nonsense/);
  });
  it('HYGIENE_API_KEYS / HYGIENE_API_ADMIN_KEYS: none by default, tenants and admins parsed', () => {
    expect(load({}).api.keys).toEqual([]);
    const keys = load({ HYGIENE_API_KEYS: 'acme:key-one-0123456789abcdef', HYGIENE_API_ADMIN_KEYS: 'admin-key-0123456789abcdef' }).api.keys;
    expect(keys.length).toBe(2);
  });
  it('HYGIENE_PROVIDERS_FILE: the built-in table by default, a missing file named', () => {
    expect(load({}).providers).toBeDefined();
    expect(problemsOf({ HYGIENE_PROVIDERS_FILE: '/nonexistent/providers.json' }).join('\n')).toContain('HYGIENE_PROVIDERS_FILE');
  });
  it('HYGIENE_SMTP_PROXY / HYGIENE_IDENTITIES_FILE: one direct identity by default, a proxy parsed, bad ones named (details: test/config/outbound-identities.test.ts)', () => {
    expect(load({}).smtp.identities.map((i) => i.kind)).toEqual(['direct']);
    expect(load({ HYGIENE_SMTP_PROXY: 'socks5://127.0.0.1:1080' }).smtp.identities.map((i) => i.kind)).toEqual(['socks5']);
    expect(problemsOf({ HYGIENE_SMTP_PROXY: 'http://127.0.0.1:3128' }).join('\n')).toContain('HYGIENE_SMTP_PROXY');
    expect(problemsOf({ HYGIENE_IDENTITIES_FILE: '/nonexistent/identities.txt' }).join('\n')).toContain('HYGIENE_IDENTITIES_FILE');
  });
  it('HYGIENE_MX_PAUSE_MAX_MS below HYGIENE_MX_PAUSE_MS is a problem naming both', () => {
    const problems = problemsOf({ HYGIENE_MX_PAUSE_MS: '5000', HYGIENE_MX_PAUSE_MAX_MS: '1000' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/HYGIENE_MX_PAUSE_MAX_MS .* HYGIENE_MX_PAUSE_MS/);
  });
  it('HYGIENE_DATA_DIR: ~/.list-hygiene by default, made absolute', () => {
    expect(load({}).dataDir).toMatch(/\.list-hygiene$/);
    expect(load({ HYGIENE_DATA_DIR: 'rel/dir' }).dataDir).toMatch(/^\/.*rel\/dir$/);
  });
});

describe('the configuration as a whole', () => {
  it('lists every problem at once, one line each naming its variable', () => {
    const problems = problemsOf({ HYGIENE_CONCURRENCY: '0', HYGIENE_TLS: 'always', HYGIENE_FORMULA_GUARD: 'maybe', REDIS_URL: 'http://x', HYGIENE_HELO_NAME: 'vm' });
    expect(problems).toHaveLength(5);
    for (const variable of ['HYGIENE_CONCURRENCY', 'HYGIENE_TLS', 'HYGIENE_FORMULA_GUARD', 'REDIS_URL', 'HYGIENE_HELO_NAME']) expect(problems.some((p) => p.startsWith(variable)), variable).toBe(true);
    for (const problem of problems) expect(problem).not.toContain('\n');
  });
  it('is frozen', () => {
    const config = load({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.smtp.timeouts)).toBe(true);
  });
  it('covers every variable config.ts reads (a new setting needs its row here)', () => {
    const source = readFileSync(new URL('../../src/config/config.ts', import.meta.url), 'utf8');
    const read = new Set([...source.matchAll(/\b(HYGIENE_[A-Z0-9_]+|REDIS_URL|LOG_LEVEL)\b/g)].map((m) => m[1]!));
    const covered = new Set([
      ...INTEGER_SETTINGS.map((r) => r[0]),
      ...BOOLEAN_SETTINGS.map((r) => r[0]),
      ...OTHER_SETTINGS.map((r) => r[0]),
      'HYGIENE_DNS_CANARIES',
      'HYGIENE_REJECT',
      'HYGIENE_API_KEYS',
      'HYGIENE_API_ADMIN_KEYS',
      'HYGIENE_PROVIDERS_FILE',
      'HYGIENE_DATA_DIR',
      'HYGIENE_SMTP_PROXY',
      'HYGIENE_IDENTITIES_FILE',
    ]);
    expect([...read].filter((name) => !covered.has(name)).sort()).toEqual([]);
  });
});
