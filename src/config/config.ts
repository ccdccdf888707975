/**
 * The one place where environment variables and command-line flags become configuration.
 * Everything is parsed, validated and frozen here, at start-up; invalid config lists every problem
 * at once (exit code 2). Nothing else in the code reads process.env.
 *
 * Every option is documented in docs/configuration.md with its default (the essentials in the README).
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
import { defaultHeloName, systemHostNames, type HostNameSource } from './host-identity.ts';
import { identitiesWithoutHelo, parseOutboundIdentities, type OutboundIdentity } from './outbound-identities.ts';
import {
  fqdnProblem,
  parseDnsServer,
  parseHeloName,
  parseListenHost,
  parseMailFrom,
  parsePort,
  parseRedisUrl,
  type DnsServer,
  type HeloName,
  type IpAddress,
  type MailFrom,
  type Parsed,
  type Port,
} from './setting-values.ts';

export type { HeloName, MailFrom } from './setting-values.ts';
export type { OutboundIdentity } from './outbound-identities.ts';

export type TlsMode = 'opportunistic' | 'required' | 'off';

export interface Config {
  redisUrl: string;
  /** True when REDIS_URL/--redis-url was given: then we never start a private redis-server. */
  redisUrlExplicit: boolean;
  /** Prefix of every Redis key and BullMQ queue we own. */
  keyPrefix: string;
  dataDir: string;
  logLevel: string;
  dns: {
    servers: DnsServer[];
    timeoutMs: number;
    tries: number;
    cacheTtlSeconds: number;
    /**
     * Well-known names resolved when the first domains of a run all fail to resolve: if they fail
     * too, the resolver is ours to fix (HYGIENE_DNS_CANARIES; empty = that check is off).
     */
    canaries: string[];
  };
  smtp: {
    port: Port;
    /** undefined when not set and the host has no public FQDN: commands that probe stop (probeIdentity). */
    heloName: HeloName | undefined;
    mailFrom: MailFrom | undefined;
    /** Why heloName/mailFrom is missing: the one line a probing command stops with. */
    identityProblem: string | undefined;
    /** The local address of the first identity (identities[0]), when it is a local-address one (doctor, probe). */
    localAddress: IpAddress | undefined;
    /**
     * Outbound identities (HYGIENE_SMTP_PROXY, HYGIENE_LOCAL_ADDRESS, HYGIENE_IDENTITIES_FILE; see
     * outbound-identities.ts), never empty: `direct` when none is configured. The engine keeps one
     * pool per (MX host, identity) and routes probes among them (probe/smtp-verifier.ts).
     */
    identities: readonly OutboundIdentity[];
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
    /**
     * A server that slows *us* down (rate limits, "too many connections/recipients from", "try again
     * later" at greeting/EHLO/MAIL) pauses that MX fleet-wide: first for pauseMs, doubling (with
     * jitter) each time it happens again, up to pauseMaxMs. Probes waiting for it become delayed
     * retries, at most pauseRetries times each.
     */
    pauseMs: number;
    pauseMaxMs: number;
    pauseRetries: number;
    /** Session starts per minute per MX server address, fleet-wide (token bucket; burst sessionBurst). */
    sessionsPerMinute: number;
    sessionBurst: number;
    /** Probe one improbable local part per domain to detect catch-all domains. */
    catchAllProbe: boolean;
    /** A session lease of a crashed process frees its slot after this long. */
    leaseTtlMs: number;
    /** For mailbox_not_found: probe up to this many close spellings and suggest one that exists (0 = off). */
    suggestVariants: number;
  };
  greylist: { retryDelayMs: number; maxAttempts: number };
  /** Verdict cache: facts only (unknown verdicts are never cached; see domain/fault-owner.ts). */
  cache: { positiveTtlSeconds: number; negativeTtlSeconds: number };
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

/** Default well-known names for the DNS sanity check (HYGIENE_DNS_CANARIES). */
export const DEFAULT_DNS_CANARIES = ['gmail.com', 'outlook.com', 'yahoo.com'];

function intOption(problems: Problems, name: string, raw: string | boolean | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const text = String(raw);
  if (!/^-?\d+$/.test(text.trim())) {
    problems.list.push(`${name} must be a whole number between ${min} and ${max}, got "${text}" (e.g. ${name}=${fallback})`);
    return fallback;
  }
  const value = Number(text);
  if (value < min || value > max) {
    problems.list.push(`${name} must be between ${min} and ${max}, got ${value} (e.g. ${name}=${fallback})`);
    return fallback;
  }
  return value;
}

/** true/false (also 1/0, yes/no, on/off); anything else is a problem, never a silent "true". */
function boolOption(problems: Problems, name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  const text = raw.trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  problems.list.push(`${name} must be true or false, got "${raw}" (e.g. ${name}=${String(fallback)})`);
  return fallback;
}

/** Runs one setting's parser; a problem names the setting, what was wrong and a valid example. */
function setting<T>(problems: Problems, name: string, raw: string, parsed: Parsed<T>, example: string): T | undefined {
  if (parsed.ok) return parsed.value;
  problems.list.push(`${name} "${raw}" ${parsed.problem} (e.g. ${name}=${example})`);
  return undefined;
}

function listOf(raw: string | boolean | undefined): string[] {
  return typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : [];
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

/**
 * Builds the frozen Config; throws HygieneError('CONFIG_INVALID') listing every problem, one line
 * each, naming the variable and a valid example. A missing HELO name is not a problem here (commands
 * that never probe must still run): it is `smtp.identityProblem`, which probeIdentity() turns into
 * the one line a probing command stops with.
 */
export function loadConfig(env: NodeJS.ProcessEnv, flags: FlagValues = {}, hostNames: HostNameSource = systemHostNames): Config {
  const problems: Problems = { list: [] };
  const redisRaw = pick(flags, 'redis-url', env, 'REDIS_URL');
  const redisUrl = typeof redisRaw === 'string' && redisRaw !== '' ? redisRaw : 'redis://127.0.0.1:6379';
  setting(problems, 'REDIS_URL', redisUrl, parseRedisUrl(redisUrl), 'redis://127.0.0.1:6379');

  const keyPrefix = String(pick(flags, 'prefix', env, 'HYGIENE_PREFIX') ?? 'hygiene');
  if (!/^[A-Za-z0-9_.{}-]{1,64}$/.test(keyPrefix)) problems.list.push(`HYGIENE_PREFIX may only use letters, digits, _ . - and {} (got "${keyPrefix}"; e.g. HYGIENE_PREFIX=hygiene)`);

  const { heloName, mailFrom, mailFromExplicit, identityProblem } = smtpIdentity(problems, flags, env, hostNames);

  const tlsRaw = flags['require-tls'] === true ? 'required' : String(env.HYGIENE_TLS ?? 'opportunistic');
  if (!['opportunistic', 'required', 'off'].includes(tlsRaw)) problems.list.push(`HYGIENE_TLS must be opportunistic, required or off, got "${tlsRaw}" (e.g. HYGIENE_TLS=opportunistic)`);
  const tlsCa = caFileOption(problems, env.HYGIENE_TLS_CA_FILE);

  const logLevel = String(pick(flags, 'log-level', env, 'LOG_LEVEL') ?? 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) problems.list.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${logLevel}" (e.g. LOG_LEVEL=info)`);

  // --reject extends HYGIENE_REJECT, which extends the built-in default (a leading "=" replaces).
  let rejectPolicy: RejectPolicy | undefined;
  try {
    rejectPolicy = parseRejectPolicy(env.HYGIENE_REJECT, undefined, 'HYGIENE_REJECT');
    if (typeof flags.reject === 'string') rejectPolicy = parseRejectPolicy(flags.reject, rejectPolicy, '--reject');
  } catch (err) {
    problems.list.push(`${(err as Error).message} (e.g. --reject risky,-duplicate adds risky and keeps duplicates; --reject =undeliverable replaces the list)`);
  }

  const proxiesRaw = pick(flags, 'smtp-proxy', env, 'HYGIENE_SMTP_PROXY');
  const localAddressRaw = pick(flags, 'local-address', env, 'HYGIENE_LOCAL_ADDRESS');
  const identities = parseOutboundIdentities(
    {
      proxies: typeof proxiesRaw === 'string' ? proxiesRaw : undefined,
      localAddresses: typeof localAddressRaw === 'string' ? localAddressRaw : undefined,
      file: env.HYGIENE_IDENTITIES_FILE,
    },
    { heloName, mailFrom, mailFromExplicit },
    problems.list,
  );

  const portRaw = pick(flags, 'smtp-port', env, 'HYGIENE_SMTP_PORT');
  const smtpPort = typeof portRaw === 'string' && portRaw !== '' ? (setting(problems, 'HYGIENE_SMTP_PORT', portRaw, parsePort(portRaw), '25') ?? (25 as Port)) : (25 as Port);

  const dnsServers: DnsServer[] = [];
  for (const item of listOf(pick(flags, 'dns-servers', env, 'HYGIENE_DNS_SERVERS'))) {
    const server = setting(problems, 'HYGIENE_DNS_SERVERS', item, parseDnsServer(item), '1.1.1.1,8.8.8.8');
    if (server !== undefined) dnsServers.push(server);
  }
  const canaries = env.HYGIENE_DNS_CANARIES === undefined ? DEFAULT_DNS_CANARIES : listOf(env.HYGIENE_DNS_CANARIES);
  for (const name of canaries) {
    const problem = fqdnProblem(name);
    if (problem !== null) problems.list.push(`HYGIENE_DNS_CANARIES "${name}" ${problem} (e.g. HYGIENE_DNS_CANARIES=${DEFAULT_DNS_CANARIES.join(',')})`);
  }

  const apiKeys = parseApiKeys(env.HYGIENE_API_KEYS, env.HYGIENE_API_ADMIN_KEYS, problems.list);
  const apiHostRaw = String(pick(flags, 'host', env, 'HYGIENE_API_HOST') ?? '127.0.0.1');
  const apiHost = setting(problems, 'HYGIENE_API_HOST', apiHostRaw, parseListenHost(apiHostRaw), '127.0.0.1') ?? '127.0.0.1';
  const webhookSecret = env.HYGIENE_WEBHOOK_SECRET !== undefined && env.HYGIENE_WEBHOOK_SECRET !== '' ? env.HYGIENE_WEBHOOK_SECRET : undefined;
  if (webhookSecret !== undefined && webhookSecret.length < 16) problems.list.push('HYGIENE_WEBHOOK_SECRET must be at least 16 characters (secret not shown; e.g. HYGIENE_WEBHOOK_SECRET=$(openssl rand -hex 24))');
  const trustProxyRaw = String(env.HYGIENE_API_TRUST_PROXY ?? 'false').trim();
  let trustProxy: boolean | number | string[] = false;
  if (trustProxyRaw === 'true' || trustProxyRaw === 'false') trustProxy = trustProxyRaw === 'true';
  else if (/^\d{1,2}$/.test(trustProxyRaw)) trustProxy = Number(trustProxyRaw);
  else {
    trustProxy = trustProxyRaw.split(',').map((s) => s.trim()).filter(Boolean);
    if (trustProxy.length === 0 || !trustProxy.every((s) => /^[0-9a-f:.]+(\/\d{1,3})?$/i.test(s))) {
      problems.list.push(`HYGIENE_API_TRUST_PROXY must be true, false, a number of hops or a comma list of addresses/CIDRs, got "${trustProxyRaw}" (e.g. HYGIENE_API_TRUST_PROXY=10.0.0.0/8)`);
    }
  }

  const pauseMs = intOption(problems, 'HYGIENE_MX_PAUSE_MS', env.HYGIENE_MX_PAUSE_MS, 60_000, 100, 86_400_000);
  const pauseMaxMs = intOption(problems, 'HYGIENE_MX_PAUSE_MAX_MS', env.HYGIENE_MX_PAUSE_MAX_MS, 3_600_000, 100, 7 * 86_400_000);
  if (pauseMaxMs < pauseMs) problems.list.push(`HYGIENE_MX_PAUSE_MAX_MS (${pauseMaxMs}) must be at least HYGIENE_MX_PAUSE_MS (${pauseMs}) (e.g. HYGIENE_MX_PAUSE_MAX_MS=3600000)`);

  const config: Config = {
    redisUrl,
    redisUrlExplicit: typeof redisRaw === 'string' && redisRaw !== '',
    keyPrefix,
    dataDir: path.resolve(String(pick(flags, 'data-dir', env, 'HYGIENE_DATA_DIR') ?? path.join(os.homedir(), '.list-hygiene'))),
    logLevel,
    dns: {
      servers: dnsServers,
      timeoutMs: intOption(problems, 'HYGIENE_DNS_TIMEOUT_MS', env.HYGIENE_DNS_TIMEOUT_MS, 5_000, 50, 60_000),
      tries: intOption(problems, 'HYGIENE_DNS_TRIES', env.HYGIENE_DNS_TRIES, 3, 1, 10),
      cacheTtlSeconds: intOption(problems, 'HYGIENE_DNS_CACHE_TTL_S', env.HYGIENE_DNS_CACHE_TTL_S, 3_600, 0, 7 * 86_400),
      canaries,
    },
    smtp: {
      port: smtpPort,
      heloName,
      mailFrom,
      identityProblem,
      localAddress: identities[0]?.localAddress,
      identities,
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
      pauseMs,
      pauseMaxMs,
      pauseRetries: intOption(problems, 'HYGIENE_MX_PAUSE_RETRIES', env.HYGIENE_MX_PAUSE_RETRIES, 6, 0, 100),
      sessionsPerMinute: intOption(problems, 'HYGIENE_SESSIONS_PER_MINUTE_PER_MX', env.HYGIENE_SESSIONS_PER_MINUTE_PER_MX, 60, 1, 1_000_000),
      sessionBurst: intOption(problems, 'HYGIENE_SESSION_BURST_PER_MX', env.HYGIENE_SESSION_BURST_PER_MX, 5, 1, 10_000),
      catchAllProbe: flags['no-catch-all'] !== true && boolOption(problems, 'HYGIENE_CATCH_ALL_PROBE', env.HYGIENE_CATCH_ALL_PROBE, true),
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
    },
    queue: {
      concurrency: intOption(problems, 'HYGIENE_CONCURRENCY', pick(flags, 'concurrency', env, 'HYGIENE_CONCURRENCY'), 16, 1, 1_000),
      jobSize: intOption(problems, 'HYGIENE_JOB_SIZE', env.HYGIENE_JOB_SIZE, 200, 1, 10_000),
      stalledIntervalMs: intOption(problems, 'HYGIENE_STALLED_INTERVAL_MS', env.HYGIENE_STALLED_INTERVAL_MS, 30_000, 500, 600_000),
      lockDurationMs: intOption(problems, 'HYGIENE_LOCK_DURATION_MS', env.HYGIENE_LOCK_DURATION_MS, 30_000, 1_000, 600_000),
    },
    output: {
      rejectPolicy: rejectPolicy ?? parseRejectPolicy(undefined),
      neutraliseFormulas: flags['no-formula-guard'] !== true && boolOption(problems, 'HYGIENE_FORMULA_GUARD', env.HYGIENE_FORMULA_GUARD, true),
    },
    api: {
      port: intOption(problems, 'HYGIENE_API_PORT', pick(flags, 'port', env, 'HYGIENE_API_PORT'), 8080, 0, 65_535),
      host: apiHost,
      keys: apiKeys,
      uploadMaxBytes: intOption(problems, 'HYGIENE_UPLOAD_MAX_BYTES', env.HYGIENE_UPLOAD_MAX_BYTES, 1024 ** 3, 1, 1024 ** 4),
      rateLimitPerMinute: intOption(problems, 'HYGIENE_API_RATE_LIMIT', env.HYGIENE_API_RATE_LIMIT, 120, 1, 1_000_000),
      verifyTimeoutMs: intOption(problems, 'HYGIENE_VERIFY_TIMEOUT_MS', env.HYGIENE_VERIFY_TIMEOUT_MS, 30_000, 100, 600_000),
      parseLeaseMs: intOption(problems, 'HYGIENE_PARSE_LEASE_MS', env.HYGIENE_PARSE_LEASE_MS, 15_000, 300, 600_000),
      allowPrivateMx: boolOption(problems, 'HYGIENE_API_ALLOW_PRIVATE_MX', env.HYGIENE_API_ALLOW_PRIVATE_MX, false),
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
      allowPrivate: boolOption(problems, 'HYGIENE_WEBHOOK_ALLOW_PRIVATE', env.HYGIENE_WEBHOOK_ALLOW_PRIVATE, false),
      attempts: intOption(problems, 'HYGIENE_WEBHOOK_ATTEMPTS', env.HYGIENE_WEBHOOK_ATTEMPTS, 8, 1, 50),
      backoffMs: intOption(problems, 'HYGIENE_WEBHOOK_BACKOFF_MS', env.HYGIENE_WEBHOOK_BACKOFF_MS, 5_000, 10, 3_600_000),
      timeoutMs: intOption(problems, 'HYGIENE_WEBHOOK_TIMEOUT_MS', env.HYGIENE_WEBHOOK_TIMEOUT_MS, 10_000, 100, 120_000),
      concurrency: intOption(problems, 'HYGIENE_WEBHOOK_CONCURRENCY', env.HYGIENE_WEBHOOK_CONCURRENCY, 16, 1, 256),
    },
    providers: providersSetting('HYGIENE_PROVIDERS_FILE', env.HYGIENE_PROVIDERS_FILE, problems.list),
  };
  pinnedIdentityProblems(config, problems);

  if (problems.list.length > 0) {
    // One line per problem (main.ts prints each after "hygiene: ").
    throw new HygieneError('CONFIG_INVALID', problems.list.join('\n'), { problems: problems.list });
  }
  return deepFreeze(config);
}

const HELO_EXAMPLE = 'HYGIENE_HELO_NAME=verify.example.com';

/** HELO name and sender: set explicitly (then checked), or derived; a missing one is only a problem for commands that probe. */
function smtpIdentity(
  problems: Problems,
  flags: FlagValues,
  env: NodeJS.ProcessEnv,
  hostNames: HostNameSource,
): { heloName: HeloName | undefined; mailFrom: MailFrom | undefined; mailFromExplicit: boolean; identityProblem: string | undefined } {
  let heloName: HeloName | undefined;
  let identityProblem: string | undefined;
  const heloRaw = pick(flags, 'helo-name', env, 'HYGIENE_HELO_NAME');
  if (typeof heloRaw === 'string' && heloRaw !== '') {
    heloName = setting(problems, 'HYGIENE_HELO_NAME', heloRaw, parseHeloName(heloRaw), 'verify.example.com (this host\'s public FQDN, whose PTR points back to it)');
  } else {
    const derived = defaultHeloName(hostNames);
    heloName = derived.name ?? undefined;
    if (heloName === undefined) {
      identityProblem =
        `HYGIENE_HELO_NAME is not set and this host's name "${derived.hostname}" is not a public fully qualified domain name (nor does /etc/hosts give one): ` +
        `set HYGIENE_HELO_NAME to this host's public FQDN, whose PTR points back to it, e.g. ${HELO_EXAMPLE}`;
    }
  }
  let mailFrom: MailFrom | undefined;
  const mailFromRaw = pick(flags, 'mail-from', env, 'HYGIENE_MAIL_FROM');
  if (typeof mailFromRaw === 'string' && mailFromRaw !== '') {
    mailFrom = setting(problems, 'HYGIENE_MAIL_FROM', mailFromRaw, parseMailFrom(mailFromRaw), 'verify@example.com (a real address that accepts mail)');
  } else if (heloName !== undefined) {
    const derived = parseMailFrom(`verify@${heloName}`);
    if (derived.ok) mailFrom = derived.value;
    else identityProblem ??= `HYGIENE_MAIL_FROM is not set and cannot be derived from the HELO name ${heloName}: set it to a real address that accepts mail, e.g. HYGIENE_MAIL_FROM=verify@example.com`;
  }
  return { heloName, mailFrom, mailFromExplicit: typeof mailFromRaw === 'string' && mailFromRaw !== '', identityProblem };
}

/** A provider pinned to identities (its "identities" in the provider file) must name configured ones. */
function pinnedIdentityProblems(config: Config, problems: Problems): void {
  const known = new Set<string>(config.smtp.identities.map((identity) => identity.id));
  for (const provider of config.providers.providers) {
    const missing = (provider.identities ?? []).filter((id) => !known.has(id));
    if (missing.length === 0) continue;
    problems.list.push(
      `HYGIENE_PROVIDERS_FILE: provider "${provider.slug}" is pinned to outbound identities that are not configured: ${missing.join(', ')} (configured: ${[...known].join(', ')}; name identities with #id=NAME, e.g. HYGIENE_SMTP_PROXY=socks5://203.0.113.5:1080#id=${missing[0]})`,
    );
  }
}

/** What a probing command needs: a HELO name and a sender. */
export interface ProbeIdentity {
  heloName: HeloName;
  mailFrom: MailFrom;
}

/**
 * The HELO name and sender for commands that talk SMTP; throws CONFIG_INVALID (exit code 2) with one
 * line naming HYGIENE_HELO_NAME (or HYGIENE_MAIL_FROM) when the configuration has none. Called at
 * start-up by every command that probes, before anything is enqueued, and by the runtime before it
 * builds an SMTP verifier, so no way in can probe without them.
 */
export function probeIdentity(config: Config): ProbeIdentity {
  const { identities, identityProblem } = config.smtp;
  const lacking = identitiesWithoutHelo(identities);
  const engine = identities[0];
  if (lacking.length > 0 || engine?.heloName === undefined || engine.mailFrom === undefined) {
    const which = identities.length > 1 || engine?.kind !== 'direct' ? ` (outbound identities without one: ${lacking.map((i) => i.id).join(', ')}; or give each its own with #helo=NAME)` : '';
    const problem = `${identityProblem ?? 'HYGIENE_HELO_NAME and HYGIENE_MAIL_FROM are needed to probe (e.g. HYGIENE_HELO_NAME=verify.example.com)'}${which}`;
    throw new HygieneError('CONFIG_INVALID', problem, { problems: [problem] });
  }
  return { heloName: engine.heloName, mailFrom: engine.mailFrom };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
