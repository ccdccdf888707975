/**
 * Every Redis key and stored field format of list-hygiene, in one module (like BullMQ's
 * classes/queue-keys.ts): nothing else builds a key. Every key starts with the configured prefix
 * (HYGIENE_PREFIX, default "hygiene"); {p} below.
 *
 * One list:
 *   {p}:list:{id}               HASH   list state: state, input, outDir, name, options, counts, timestamps
 *   {p}:list:{id}:first         HASH   de-dup key (lower-cased address) -> 0-based row index of its first occurrence
 *   {p}:list:{id}:domains       SET    domains with at least one unique address
 *   {p}:list:{id}:dom:{domain}  LIST   unique addresses of that domain, in file order
 *   {p}:list:{id}:jobs          SET    ids of every verify job of the list (retries included)
 *   {p}:list:{id}:done          SET    ids of verify jobs that finished
 *   {p}:list:{id}:verdicts      HASH   de-dup key -> Verdict JSON, or "#id" for a text shared by many (verdict-texts.ts)
 *   {p}:list:{id}:vtext         HASH   id -> Verdict JSON shared by several addresses
 *   {p}:list:{id}:owner         STRING id of the API process running the parse pass, with a TTL (lease)
 *   {p}:list:{id}:mxstats       HASH   per-MX counters for the report (format: MX_STATS below)
 *   {p}:list:{id}:waiting       HASH   delayed verify job id -> ListWait JSON (queue/list-store.ts): what that job's
 *                                      addresses wait for (greylisting/4xx retry, or a paused MX) and until when;
 *                                      the field is deleted when the job starts (progress says what it waits for)
 *   {p}:lists                   ZSET   list ids by creation time
 *   {p}:tenant:{t}:lists        ZSET   ids of the lists tenant t uploaded through the API, by creation time
 *   {p}:listrun:{name}          STRING run counter of `hygiene verify` for one input name (output names), TTL 30 days
 *   All per-list keys are deleted by `deleteList` (and expire 7 days after the list finishes).
 *
 * Shared across lists (caches):
 *   {p}:verdict:{address}       STRING Verdict JSON, TTL by outcome (verdict cache)
 *   {p}:mx:{domain}             STRING MX resolution JSON, TTL (DNS cache)
 *   {p}:catchall:{domain}       STRING "yes" | "no", TTL (catch-all answers)
 *
 * Fleet-wide limits of one mail server, all keyed by its LimitKey (probe/limit-key.ts: today the
 * server's first address; with providers and outbound identities, (provider or server, identity)):
 *   {p}:mxlease:{limit}         ZSET   session leases (token -> expiry ms)           probe/mx-lease*.lua
 *   {p}:mxstarts:{limit}        HASH   session-start token bucket: tokens, at        probe/session-start-take.lua
 *   {p}:mxpause:{limit}         HASH   pause: since, until, level, reason, detail, kind   probe/mx-pause.lua
 *   {p}:rate:{limit}:{second}   STRING RCPTs sent in that second (HYGIENE_RCPT_PER_SECOND_PER_MX), TTL 2 s
 *   {p}:rate:{limit}:{w}s:{i}   STRING RCPTs sent in window i of w seconds (a provider profile's rate), TTL 2w s
 *   {p}:senderblock:{limit}     HASH   sender-block breaker: until, level, at, signature, reply  probe/sender-block-trip.lua
 *   {p}:rcptrule:{server}       STRING RCPTs per transaction the server takes (learned from 452 4.5.3), TTL 7 days;
 *                                      {server} is the provider slug or first address (no identity: it is the server's rule)
 *
 * Suppression (bounces/):
 *   {p}:suppression             HASH   address -> SuppressionEntry JSON
 *   {p}:softbounces             HASH   address -> soft-bounce count
 *
 * Schedules (schedule/):
 *   {p}:schedules               HASH   schedule id -> ScheduleRecord JSON
 *   {p}:schedule:{id}:snapshot       HASH  address -> status of the last finished run ("next": being written)
 *   {p}:schedule:{id}:runs           LIST  run summaries, newest first
 *   {p}:schedule:{id}:lock           STRING lease of the process running one of its runs
 *   {p}:schedule:{id}:run:{runAt}    HASH  marker of one run: listId, done, summary
 *
 * The HTTP API:
 *   {p}:authfail:{address}      STRING failed authentications from one client address (or IPv6 /64), TTL
 *   {p}:session:{id}            STRING a dashboard session (JSON: tenant, key label, expiry), TTL
 *   {p}:ratelimit:{key}         @fastify/rate-limit counters (its own format), per API key or client address
 *
 * BullMQ:
 *   {p}:bull:...                       queues "verify" and "finalize" (BullMQ prefix "{p}:bull")
 */
import type { MxReport } from '../collector/report.ts';

export interface ListKeys {
  list: string;
  first: string;
  domains: string;
  domain: (domain: string) => string;
  domainPattern: string;
  jobs: string;
  done: string;
  verdicts: string;
  /** Verdict texts shared by several addresses (see verdict-texts.ts). */
  vtext: string;
  mxStats: string;
  /** Delayed retry jobs and what they wait for (progress and `hygiene status`). */
  waiting: string;
  /** Lease of the process running the list's parse pass (API uploads; see list-starter.ts). */
  owner: string;
}

export function listKeys(prefix: string, listId: string): ListKeys {
  const base = `${prefix}:list:${listId}`;
  return {
    list: base,
    first: `${base}:first`,
    domains: `${base}:domains`,
    domain: (domain: string) => `${base}:dom:${domain}`,
    domainPattern: `${base}:dom:*`,
    jobs: `${base}:jobs`,
    done: `${base}:done`,
    verdicts: `${base}:verdicts`,
    vtext: `${base}:vtext`,
    mxStats: `${base}:mxstats`,
    waiting: `${base}:waiting`,
    owner: `${base}:owner`,
  };
}

export const listsIndexKey = (prefix: string): string => `${prefix}:lists`;
export const tenantListsIndexKey = (prefix: string, tenant: string): string => `${prefix}:tenant:${tenant}:lists`;
export const listRunKey = (prefix: string, name: string): string => `${prefix}:listrun:${name}`;
export const authFailuresKey = (prefix: string, address: string): string => `${prefix}:authfail:${address}`;
export const dashboardSessionKey = (prefix: string, sessionId: string): string => `${prefix}:session:${sessionId}`;
/** The namespace @fastify/rate-limit puts its keys under. */
export const apiRateLimitNamespace = (prefix: string): string => `${prefix}:ratelimit:`;
export const bullPrefix = (prefix: string): string => `${prefix}:bull`;
export const VERIFY_QUEUE = 'verify';
export const FINALIZE_QUEUE = 'finalize';
/** Every key of one prefix (SCAN MATCH patterns escape the prefix: it is matched literally). */
export const everyKeyPattern = (prefix: string): string => `${globLiteral(prefix)}:*`;

// ---- caches
export const verdictCacheKey = (prefix: string, address: string): string => `${prefix}:verdict:${address}`;
/** Every cached verdict, or those of one domain (a SCAN MATCH pattern; the domain is glob-escaped). */
export const verdictCachePattern = (prefix: string, domain?: string): string => `${globLiteral(prefix)}:verdict:*${domain === undefined ? '' : `@${globLiteral(domain)}`}`;
export const mxCacheKey = (prefix: string, domain: string): string => `${prefix}:mx:${domain}`;
export const mxCachePattern = (prefix: string): string => `${globLiteral(prefix)}:mx:*`;
export const catchAllKey = (prefix: string, domain: string): string => `${prefix}:catchall:${domain}`;
export const catchAllPattern = (prefix: string): string => `${globLiteral(prefix)}:catchall:*`;

// ---- fleet-wide limits of one mail server (by its LimitKey)
export const mxLeaseKey = (prefix: string, limitKey: string): string => `${prefix}:mxlease:${limitKey}`;
export const sessionStartKey = (prefix: string, limitKey: string): string => `${prefix}:mxstarts:${limitKey}`;
export const mxPauseKey = (prefix: string, limitKey: string): string => `${prefix}:mxpause:${limitKey}`;
/** One fixed window of the RCPT rate: the one-second window keeps its old form ({p}:rate:{limit}:{second}). */
export const rcptRateKey = (prefix: string, limitKey: string, windowIndex: number, windowSeconds = 1): string =>
  windowSeconds === 1 ? `${prefix}:rate:${limitKey}:${windowIndex}` : `${prefix}:rate:${limitKey}:${windowSeconds}s:${windowIndex}`;
/** Learned session rule of a server (provider or first address): RCPTs per transaction it takes (mx-session-pool.ts). */
export const rcptRuleKey = (prefix: string, server: string): string => `${prefix}:rcptrule:${server}`;
/** Sender-block breaker of one limit key (sender-block-store.ts). */
export const senderBlockKey = (prefix: string, limitKey: string): string => `${prefix}:senderblock:${limitKey}`;

// ---- suppression
export const suppressionKey = (prefix: string): string => `${prefix}:suppression`;
export const softBounceKey = (prefix: string): string => `${prefix}:softbounces`;

// ---- schedules
export function scheduleKeys(prefix: string, id: string) {
  const base = `${prefix}:schedule:${id}`;
  return {
    snapshot: `${base}:snapshot`,
    nextSnapshot: `${base}:snapshot:next`,
    runs: `${base}:runs`,
    /** Lease of the process running one of the schedule's runs (runs never overlap). */
    lock: `${base}:lock`,
    run: (runAt: number) => `${base}:run:${runAt}`,
    runPattern: `${base}:run:*`,
  };
}
export const schedulesKey = (prefix: string): string => `${prefix}:schedules`;

/** A string matched literally by a Redis glob pattern. */
export function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * MX_STATS: the per-list, per-MX report counters in {p}:list:{id}:mxstats, written by the runtime
 * (app/runtime.ts) and read by the collector, both through these functions.
 *   "{mx}|sessions" "{mx}|rcpts" "{mx}|reconnects" "{mx}|ms" "{mx}|deferred" "{mx}|code:{NNN}"  counters (HINCRBY)
 *   "{mx}|pause@{since}" -> "{until}|{reply}"   one field per pause that made the list wait (HSETNX:
 *                                               the same pause seen by several processes counts once)
 */
export type MxStatsCounter = 'sessions' | 'rcpts' | 'reconnects' | 'ms' | 'deferred' | `code:${number}`;

export const mxStatsField = (mx: string, counter: MxStatsCounter): string => `${mx}|${counter}`;
export const mxStatsPauseField = (mx: string, since: number): string => `${mx}|pause@${since}`;
export const mxStatsPauseValue = (until: number, reply: string): string => `${until}|${reply}`;

/** One MX's counters of a list, as read back: the report's per-MX entry, every field present. */
export type MxStats = Required<MxReport>;

export function parseMxStats(raw: Record<string, string>): MxStats[] {
  const byMx = new Map<string, MxStats>();
  for (const [field, value] of Object.entries(raw)) {
    const cut = field.lastIndexOf('|');
    const mx = field.slice(0, cut);
    const name = field.slice(cut + 1);
    const entry: MxStats = byMx.get(mx) ?? { mx, sessions: 0, rcpts: 0, reconnects: 0, repliesByCode: {}, durationMs: 0, pauses: 0, pausedMs: 0, pauseReasons: [], deferred: 0 };
    const n = Number(value);
    if (name.startsWith('pause@')) {
      const split = value.indexOf('|');
      const until = Number(value.slice(0, split));
      const reason = value.slice(split + 1);
      entry.pauses += 1;
      entry.pausedMs += Math.max(0, until - Number(name.slice(6)));
      if (reason !== '' && entry.pauseReasons.length < 3 && !entry.pauseReasons.includes(reason)) entry.pauseReasons.push(reason);
    } else if (name === 'deferred') entry.deferred = n;
    else if (name.startsWith('code:')) entry.repliesByCode[name.slice(5)] = n;
    else if (name === 'sessions') entry.sessions = n;
    else if (name === 'rcpts') entry.rcpts = n;
    else if (name === 'reconnects') entry.reconnects = n;
    else if (name === 'ms') entry.durationMs = n;
    byMx.set(mx, entry);
  }
  return [...byMx.values()].sort((a, b) => a.mx.localeCompare(b.mx));
}

// ---- Issues 14/15, the surface side: per-provider and per-identity report counters and sender-block
// alerts of one list (written by app/mx-stats-recorder.ts, read by the collector). Kept apart from
// MX_STATS so a provider or identity name can never be read back as an MX host.
//   {p}:list:{id}:provstats   HASH  "p|{provider}|{counter}" and "i|{identity}|{counter}" -> count (HINCRBY);
//                                   counter: sessions | rcpts | cooldowns
//   {p}:list:{id}:alerts      HASH  alert id "{provider or mx}|{identity}|{level}|{cooldownUntil}" -> SenderAlert JSON
//                                   (HSETNX: one block seen by several processes is one alert, one webhook)
// Both are expired and deleted with the list's other keys (queue/list-store.ts).

export interface ListActivityKeys {
  providerStats: string;
  alerts: string;
}

export function listActivityKeys(prefix: string, listId: string): ListActivityKeys {
  const base = `${prefix}:list:${listId}`;
  return { providerStats: `${base}:provstats`, alerts: `${base}:alerts` };
}

export type ActivityCounter = 'sessions' | 'rcpts' | 'cooldowns';
export const ACTIVITY_COUNTERS: readonly ActivityCounter[] = ['sessions', 'rcpts', 'cooldowns'];

export const providerStatsField = (provider: string, counter: ActivityCounter): string => `p|${provider}|${counter}`;
export const identityStatsField = (identity: string, counter: ActivityCounter): string => `i|${identity}|${counter}`;
export const alertField = (scope: string, identity: string, level: number, cooldownUntil: number): string => `${scope}|${identity}|${level}|${cooldownUntil}`;

/** Counters per provider and per identity, as read back from {p}:list:{id}:provstats. */
export interface ActivityStats {
  providers: Map<string, Record<ActivityCounter, number>>;
  identities: Map<string, Record<ActivityCounter, number>>;
}

export function parseActivityStats(raw: Record<string, string>): ActivityStats {
  const stats: ActivityStats = { providers: new Map(), identities: new Map() };
  for (const [field, value] of Object.entries(raw)) {
    const kind = field.slice(0, 2);
    const cut = field.lastIndexOf('|');
    const name = field.slice(2, cut);
    const counter = field.slice(cut + 1) as ActivityCounter;
    if ((kind !== 'p|' && kind !== 'i|') || !ACTIVITY_COUNTERS.includes(counter) || name === '') continue;
    const into = kind === 'p|' ? stats.providers : stats.identities;
    const entry = into.get(name) ?? { sessions: 0, rcpts: 0, cooldowns: 0 };
    entry[counter] += Number(value) || 0;
    into.set(name, entry);
  }
  return stats;
}
