/**
 * The one place where environment variables and command-line flags become configuration.
 * Everything is parsed, validated and frozen here, at start-up; invalid config lists every problem
 * at once (exit code 2). Nothing else in the code reads process.env.
 *
 * Every option is documented in the README's configuration table with its default.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HygieneError } from '../errors.ts';
import { parseRejectPolicy, type RejectPolicy } from '../domain/routing-policy.ts';
import { providersSetting } from '../providers/provider-file.ts';
import type { ProviderTable } from '../providers/provider-table.ts';
import { parseApiKeys, type ApiKey } from './api-keys.ts';

export type TlsMode = 'opportunistic' | 'required' | 'off';

export interface Config {
  redisUrl: string;
  /** True when REDIS_URL/--redis-url was given: then we never start a private redis-server. */
  redisUrlExplicit: boolean;
  /** Prefix of every Redis key and BullMQ queue we own. */
  keyPrefix: string;
  dataDir: string;
  logLevel: string;
  dns: { servers: string[]; timeoutMs: number; tries: number; cacheTtlSeconds: number };
  smtp: {
    port: number;
    heloName: string;
    mailFrom: string;
    localAddress: string | undefined;
    tls: TlsMode;
    /** Extra trusted CA certificates (PEM, from HYGIENE_TLS_CA_FILE) for tls 'required', on top of the system's. */
    tlsCa: string | undefined;
    timeouts: { connectMs: number; greetingMs: number; commandMs: number };
    maxSessionsPerMx: number;
    /** RCPT commands per second per MX host, fleet-wide; 0 = no limit beyond the session cap. */
    rcptPerSecondPerMx: number;
    /** Rejections a session may collect before we QUIT and reconnect (Postfix soft limit is 10). */
    errorBudget: number;
    maxRcptPerTransaction: number;
    maxRsetPerSession: number;
    pipelineWindow: number;
    /** Keep an idle session open this long for the next batch to the same MX. */
    idleSessionMs: number;
    /** After a 421 or a dropped connection, wait this long before reconnecting to that MX. */
    backoffMs: number;
    /** Probe one improbable local part per domain to detect catch-all domains. */
    catchAllProbe: boolean;
    /** A session lease of a crashed process frees its slot after this long. */
    leaseTtlMs: number;
    /** For mailbox_not_found: probe up to this many close spellings and suggest one that exists (0 = off). */
    suggestVariants: number;
  };
  greylist: { retryDelayMs: number; maxAttempts: number };
  cache: { positiveTtlSeconds: number; negativeTtlSeconds: number; unknownTtlSeconds: number };
  queue: { concurrency: number; jobSize: number; stalledIntervalMs: number; lockDurationMs: number };
  output: { rejectPolicy: RejectPolicy; neutraliseFormulas: boolean };
  /** `hygiene api` (HTTP API). */
  api: {
    port: number;
    host: string;
    /** Accepted API keys with their tenants (HYGIENE_API_KEYS, HYGIENE_API_ADMIN_KEYS; see api-keys.ts); empty = every request is refused. */
    keys: ApiKey[];
    /** Uploads larger than this are refused with 413. */
    uploadMaxBytes: number;
    /** Requests per minute per API key (per client address when no key was given). */
    rateLimitPerMinute: number;
    /** POST /v1/verify answers within this bound (unknown/timeout past it). */
    verifyTimeoutMs: number;
    /**
     * An uploaded list's parse pass runs under a lease renewed every third of this; an API process
     * takes over a list in its parse pass whose lease has lapsed (its process died).
     */
    parseLeaseMs: number;
    /** Probe MX hosts on loopback/private/reserved addresses for API work (HYGIENE_API_ALLOW_PRIVATE_MX). */
    allowPrivateMx: boolean;
    /** A request (an upload's whole body included) must have arrived within this (408 past it). */
    requestTimeoutMs: number;
    /** An upload with no byte arriving for this long is cut off (408). */
    uploadIdleTimeoutMs: number;
    /** Uploads in flight at once per API key and API process (429 beyond). */
    uploadsPerKey: number;
    /** Failed authentications from one client address within authLockoutMs before it is locked out (429). */
    authFailures: number;
    authLockoutMs: number;
    /** Whose X-Forwarded-For to believe for the client address (HYGIENE_API_TRUST_PROXY): false, true, a hop count or addresses/CIDRs. */
    trustProxy: boolean | number | string[];
    /** Life of a dashboard login session (HYGIENE_API_SESSION_TTL_MS). */
    sessionTtlMs: number;
  };
  /** Webhooks on list completion or failure. */
  webhook: {
    /** HMAC-SHA256 key of X-Hygiene-Signature; webhooks are refused while it is unset. */
    secret: string | undefined;
    /** Allow loopback, private and link-local targets (tests, private networks). */
    allowPrivate: boolean;
    /** Delivery attempts (exponential backoff between them). */
    attempts: number;
    /** First retry delay; doubles each attempt. */
    backoffMs: number;
    /** One total deadline per delivery attempt (not an idle timeout). */
    timeoutMs: number;
    /** Deliveries in flight at once per API process. */
    concurrency: number;
  };
  /** Big providers and gateways: the built-in table with HYGIENE_PROVIDERS_FILE laid over it (docs/providers.md). */
  providers: ProviderTable;
}

/** Flags as parsed from the command line (strings as typed; validated here). */
export type FlagValues = Record<string, string | boolean | undefined>;

interface Problems {
  list: string[];
}

function intOption(problems: Problems, name: string, raw: string | boolean | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const text = String(raw);
  if (!/^-?\d+$/.test(text.trim())) {
    problems.list.push(`${name} must be a whole number, got "${text}"`);
    return fallback;
  }
  const value = Number(text);
  if (value < min || value > max) {
    problems.list.push(`${name} must be between ${min} and ${max}, got ${value}`);
    return fallback;
  }
  return value;
}

const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
const SIMPLE_ADDRESS = /^[^\s<>@\r\n]{1,64}@[a-z0-9.-]{1,253}$/i;

function hostPortList(problems: Problems, name: string, raw: string | undefined): string[] {
  if (!raw || raw.trim() === '') return [];
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    const match = /^(\[[0-9a-f:.]+\]|[^:\s]+)(?::(\d{1,5}))?$/i.exec(item);
    const port = match?.[2] === undefined ? 53 : Number(match[2]);
    if (!match || port < 1 || port > 65535) problems.list.push(`${name}: "${item}" is not host[:port]`);
  }
  return items;
}

/** HYGIENE_TLS_CA_FILE: PEM certificates a verified TLS session also trusts (a private CA, a test CA). */
function caFileOption(problems: Problems, file: string | undefined): string | undefined {
  if (file === undefined || file === '') return undefined;
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (err) {
    problems.list.push(`HYGIENE_TLS_CA_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return undefined;
  }
  try {
    new X509Certificate(pem);
  } catch {
    problems.list.push(`HYGIENE_TLS_CA_FILE: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    return undefined;
  }
  return pem;
}

function pick(flags: FlagValues, flag: string, env: NodeJS.ProcessEnv, envName: string): string | boolean | undefined {
  return flags[flag] ?? env[envName];
}

/** Builds the frozen Config; throws HygieneError('CONFIG_INVALID') listing every problem. */
export function loadConfig(env: NodeJS.ProcessEnv, flags: FlagValues = {}): Config {
  const problems: Problems = { list: [] };
  const redisRaw = pick(flags, 'redis-url', env, 'REDIS_URL');
  const redisUrl = typeof redisRaw === 'string' && redisRaw !== '' ? redisRaw : 'redis://127.0.0.1:6379';
  if (!/^rediss?:\/\//.test(redisUrl)) problems.list.push(`REDIS_URL must start with redis:// or rediss://, got "${redisUrl}"`);

  const keyPrefix = String(pick(flags, 'prefix', env, 'HYGIENE_PREFIX') ?? 'hygiene');
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(keyPrefix)) problems.list.push(`HYGIENE_PREFIX may only use letters, digits, _ . - (got "${keyPrefix}")`);

  // A real FQDN matters: many MTAs reject or tarpit an EHLO name that does not resolve (SMTP-FACTS).
  const heloName = String(pick(flags, 'helo-name', env, 'HYGIENE_HELO_NAME') ?? os.hostname());
  if (!HOSTNAME.test(heloName)) problems.list.push(`HYGIENE_HELO_NAME must be a host name (ideally an FQDN whose PTR matches your IP), got "${heloName}"`);
  const mailFrom = String(pick(flags, 'mail-from', env, 'HYGIENE_MAIL_FROM') ?? `verify@${heloName.includes('.') ? heloName : `${heloName}.localdomain`}`);
  if (!SIMPLE_ADDRESS.test(mailFrom)) problems.list.push(`HYGIENE_MAIL_FROM must be a plain address like verify@example.com, got "${mailFrom}"`);

  const tlsRaw = flags['require-tls'] === true ? 'required' : String(env.HYGIENE_TLS ?? 'opportunistic');
  if (!['opportunistic', 'required', 'off'].includes(tlsRaw)) problems.list.push(`HYGIENE_TLS must be opportunistic, required or off, got "${tlsRaw}"`);
  const tlsCa = caFileOption(problems, env.HYGIENE_TLS_CA_FILE);

  const logLevel = String(pick(flags, 'log-level', env, 'LOG_LEVEL') ?? 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) problems.list.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${logLevel}"`);

  let rejectPolicy: RejectPolicy | undefined;
  try {
    rejectPolicy = parseRejectPolicy(typeof flags.reject === 'string' ? flags.reject : env.HYGIENE_REJECT);
  } catch (err) {
    problems.list.push((err as Error).message);
  }

  const localAddressRaw = pick(flags, 'local-address', env, 'HYGIENE_LOCAL_ADDRESS');
  const localAddress = typeof localAddressRaw === 'string' && localAddressRaw !== '' ? localAddressRaw : undefined;

  const apiKeys = parseApiKeys(env.HYGIENE_API_KEYS, env.HYGIENE_API_ADMIN_KEYS, problems.list);
  const apiHost = String(pick(flags, 'host', env, 'HYGIENE_API_HOST') ?? '127.0.0.1');
  if (!HOSTNAME.test(apiHost) && !/^[0-9a-f:.]+$/i.test(apiHost)) problems.list.push(`HYGIENE_API_HOST must be a host name or IP address, got "${apiHost}"`);
  const webhookSecret = env.HYGIENE_WEBHOOK_SECRET !== undefined && env.HYGIENE_WEBHOOK_SECRET !== '' ? env.HYGIENE_WEBHOOK_SECRET : undefined;
  if (webhookSecret !== undefined && webhookSecret.length < 16) problems.list.push('HYGIENE_WEBHOOK_SECRET must be at least 16 characters (secret not shown)');
  const trustProxyRaw = String(env.HYGIENE_API_TRUST_PROXY ?? 'false').trim();
  let trustProxy: boolean | number | string[] = false;
  if (trustProxyRaw === 'true' || trustProxyRaw === 'false') trustProxy = trustProxyRaw === 'true';
  else if (/^\d{1,2}$/.test(trustProxyRaw)) trustProxy = Number(trustProxyRaw);
  else {
    trustProxy = trustProxyRaw.split(',').map((s) => s.trim()).filter(Boolean);
    if (trustProxy.length === 0 || !trustProxy.every((s) => /^[0-9a-f:.]+(\/\d{1,3})?$/i.test(s))) {
      problems.list.push(`HYGIENE_API_TRUST_PROXY must be true, false, a number of hops or a comma list of addresses/CIDRs, got "${trustProxyRaw}"`);
    }
  }
  const allowPrivateMxRaw = env.HYGIENE_API_ALLOW_PRIVATE_MX ?? 'false';
  if (!['true', 'false'].includes(allowPrivateMxRaw)) problems.list.push(`HYGIENE_API_ALLOW_PRIVATE_MX must be true or false, got "${allowPrivateMxRaw}"`);
  const allowPrivateRaw = env.HYGIENE_WEBHOOK_ALLOW_PRIVATE ?? 'false';
  if (!['true', 'false'].includes(allowPrivateRaw)) problems.list.push(`HYGIENE_WEBHOOK_ALLOW_PRIVATE must be true or false, got "${allowPrivateRaw}"`);

  const config: Config = {
    redisUrl,
    redisUrlExplicit: typeof redisRaw === 'string' && redisRaw !== '',
    keyPrefix,
    dataDir: path.resolve(String(pick(flags, 'data-dir', env, 'HYGIENE_DATA_DIR') ?? path.join(os.homedir(), '.list-hygiene'))),
    logLevel,
    dns: {
      servers: hostPortList(problems, 'HYGIENE_DNS_SERVERS', (pick(flags, 'dns-servers', env, 'HYGIENE_DNS_SERVERS') as string | undefined) ?? undefined),
      timeoutMs: intOption(problems, 'HYGIENE_DNS_TIMEOUT_MS', env.HYGIENE_DNS_TIMEOUT_MS, 5_000, 50, 60_000),
      tries: intOption(problems, 'HYGIENE_DNS_TRIES', env.HYGIENE_DNS_TRIES, 3, 1, 10),
      cacheTtlSeconds: intOption(problems, 'HYGIENE_DNS_CACHE_TTL_S', env.HYGIENE_DNS_CACHE_TTL_S, 3_600, 0, 7 * 86_400),
    },
    smtp: {
      port: intOption(problems, 'HYGIENE_SMTP_PORT', pick(flags, 'smtp-port', env, 'HYGIENE_SMTP_PORT'), 25, 1, 65_535),
      heloName,
      mailFrom,
      localAddress,
      tls: tlsRaw as TlsMode,
      tlsCa,
      timeouts: {
        connectMs: intOption(problems, 'HYGIENE_CONNECT_TIMEOUT_MS', env.HYGIENE_CONNECT_TIMEOUT_MS, 10_000, 50, 300_000),
        greetingMs: intOption(problems, 'HYGIENE_GREETING_TIMEOUT_MS', env.HYGIENE_GREETING_TIMEOUT_MS, 30_000, 50, 600_000),
        commandMs: intOption(problems, 'HYGIENE_COMMAND_TIMEOUT_MS', env.HYGIENE_COMMAND_TIMEOUT_MS, 30_000, 50, 600_000),
      },
      maxSessionsPerMx: intOption(problems, 'HYGIENE_MAX_SESSIONS_PER_MX', pick(flags, 'max-sessions-per-mx', env, 'HYGIENE_MAX_SESSIONS_PER_MX'), 2, 1, 50),
      rcptPerSecondPerMx: intOption(problems, 'HYGIENE_RCPT_PER_SECOND_PER_MX', env.HYGIENE_RCPT_PER_SECOND_PER_MX, 0, 0, 10_000),
      errorBudget: intOption(problems, 'HYGIENE_ERROR_BUDGET', env.HYGIENE_ERROR_BUDGET, 9, 1, 100),
      maxRcptPerTransaction: intOption(problems, 'HYGIENE_MAX_RCPT_PER_TRANSACTION', env.HYGIENE_MAX_RCPT_PER_TRANSACTION, 100, 1, 1000),
      maxRsetPerSession: intOption(problems, 'HYGIENE_MAX_RSET_PER_SESSION', env.HYGIENE_MAX_RSET_PER_SESSION, 20, 0, 90),
      pipelineWindow: intOption(problems, 'HYGIENE_PIPELINE_WINDOW', env.HYGIENE_PIPELINE_WINDOW, 50, 1, 100),
      idleSessionMs: intOption(problems, 'HYGIENE_IDLE_SESSION_MS', env.HYGIENE_IDLE_SESSION_MS, 2_000, 0, 60_000),
      backoffMs: intOption(problems, 'HYGIENE_BACKOFF_MS', env.HYGIENE_BACKOFF_MS, 30_000, 0, 3_600_000),
      catchAllProbe: flags['no-catch-all'] !== true && env.HYGIENE_CATCH_ALL_PROBE !== 'false',
      leaseTtlMs: intOption(problems, 'HYGIENE_LEASE_TTL_MS', env.HYGIENE_LEASE_TTL_MS, 15_000, 1_000, 600_000),
      suggestVariants: intOption(problems, 'HYGIENE_SUGGEST_VARIANTS', pick(flags, 'suggest-variants', env, 'HYGIENE_SUGGEST_VARIANTS'), 0, 0, 20),
    },
    greylist: {
      retryDelayMs: intOption(problems, 'HYGIENE_GREYLIST_RETRY_MS', env.HYGIENE_GREYLIST_RETRY_MS, 300_000, 0, 86_400_000),
      maxAttempts: intOption(problems, 'HYGIENE_GREYLIST_ATTEMPTS', env.HYGIENE_GREYLIST_ATTEMPTS, 3, 1, 20),
    },
    cache: {
      positiveTtlSeconds: intOption(problems, 'HYGIENE_CACHE_TTL_S', env.HYGIENE_CACHE_TTL_S, 30 * 86_400, 0, 365 * 86_400),
      negativeTtlSeconds: intOption(problems, 'HYGIENE_NEGATIVE_CACHE_TTL_S', env.HYGIENE_NEGATIVE_CACHE_TTL_S, 3 * 86_400, 0, 365 * 86_400),
      unknownTtlSeconds: intOption(problems, 'HYGIENE_UNKNOWN_CACHE_TTL_S', env.HYGIENE_UNKNOWN_CACHE_TTL_S, 3_600, 0, 30 * 86_400),
    },
    queue: {
      concurrency: intOption(problems, 'HYGIENE_CONCURRENCY', pick(flags, 'concurrency', env, 'HYGIENE_CONCURRENCY'), 16, 1, 1_000),
      jobSize: intOption(problems, 'HYGIENE_JOB_SIZE', env.HYGIENE_JOB_SIZE, 200, 1, 10_000),
      stalledIntervalMs: intOption(problems, 'HYGIENE_STALLED_INTERVAL_MS', env.HYGIENE_STALLED_INTERVAL_MS, 30_000, 500, 600_000),
      lockDurationMs: intOption(problems, 'HYGIENE_LOCK_DURATION_MS', env.HYGIENE_LOCK_DURATION_MS, 30_000, 1_000, 600_000),
    },
    output: {
      rejectPolicy: rejectPolicy ?? parseRejectPolicy(undefined),
      neutraliseFormulas: flags['no-formula-guard'] !== true && env.HYGIENE_FORMULA_GUARD !== 'false',
    },
    api: {
      port: intOption(problems, 'HYGIENE_API_PORT', pick(flags, 'port', env, 'HYGIENE_API_PORT'), 8080, 0, 65_535),
      host: apiHost,
      keys: apiKeys,
      uploadMaxBytes: intOption(problems, 'HYGIENE_UPLOAD_MAX_BYTES', env.HYGIENE_UPLOAD_MAX_BYTES, 1024 ** 3, 1, 1024 ** 4),
      rateLimitPerMinute: intOption(problems, 'HYGIENE_API_RATE_LIMIT', env.HYGIENE_API_RATE_LIMIT, 120, 1, 1_000_000),
      verifyTimeoutMs: intOption(problems, 'HYGIENE_VERIFY_TIMEOUT_MS', env.HYGIENE_VERIFY_TIMEOUT_MS, 30_000, 100, 600_000),
      parseLeaseMs: intOption(problems, 'HYGIENE_PARSE_LEASE_MS', env.HYGIENE_PARSE_LEASE_MS, 15_000, 300, 600_000),
      allowPrivateMx: allowPrivateMxRaw === 'true',
      requestTimeoutMs: intOption(problems, 'HYGIENE_API_REQUEST_TIMEOUT_MS', env.HYGIENE_API_REQUEST_TIMEOUT_MS, 1_800_000, 1_000, 86_400_000),
      uploadIdleTimeoutMs: intOption(problems, 'HYGIENE_API_UPLOAD_IDLE_TIMEOUT_MS', env.HYGIENE_API_UPLOAD_IDLE_TIMEOUT_MS, 60_000, 100, 3_600_000),
      uploadsPerKey: intOption(problems, 'HYGIENE_API_UPLOADS_PER_KEY', env.HYGIENE_API_UPLOADS_PER_KEY, 4, 1, 10_000),
      authFailures: intOption(problems, 'HYGIENE_API_AUTH_FAILURES', env.HYGIENE_API_AUTH_FAILURES, 10, 1, 100_000),
      authLockoutMs: intOption(problems, 'HYGIENE_API_AUTH_LOCKOUT_MS', env.HYGIENE_API_AUTH_LOCKOUT_MS, 900_000, 1_000, 86_400_000),
      trustProxy,
      sessionTtlMs: intOption(problems, 'HYGIENE_API_SESSION_TTL_MS', env.HYGIENE_API_SESSION_TTL_MS, 28_800_000, 10_000, 30 * 86_400_000),
    },
    webhook: {
      secret: webhookSecret,
      allowPrivate: allowPrivateRaw === 'true',
      attempts: intOption(problems, 'HYGIENE_WEBHOOK_ATTEMPTS', env.HYGIENE_WEBHOOK_ATTEMPTS, 8, 1, 50),
      backoffMs: intOption(problems, 'HYGIENE_WEBHOOK_BACKOFF_MS', env.HYGIENE_WEBHOOK_BACKOFF_MS, 5_000, 10, 3_600_000),
      timeoutMs: intOption(problems, 'HYGIENE_WEBHOOK_TIMEOUT_MS', env.HYGIENE_WEBHOOK_TIMEOUT_MS, 10_000, 100, 120_000),
      concurrency: intOption(problems, 'HYGIENE_WEBHOOK_CONCURRENCY', env.HYGIENE_WEBHOOK_CONCURRENCY, 16, 1, 256),
    },
    providers: providersSetting('HYGIENE_PROVIDERS_FILE', env.HYGIENE_PROVIDERS_FILE, problems.list),
  };

  if (problems.list.length > 0) {
    throw new HygieneError('CONFIG_INVALID', `Invalid configuration:\n  - ${problems.list.join('\n  - ')}`, { problems: problems.list });
  }
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
