/**
 * Redis key layout for one list (every key starts with the configured prefix, default "hygiene"):
 *
 *   {p}:list:{id}               HASH   list state: state, input, outDir, name, options, counts, timestamps
 *   {p}:list:{id}:first         HASH   de-dup key (lower-cased address) -> 0-based row index of its first occurrence
 *   {p}:list:{id}:domains       SET    domains with at least one unique address
 *   {p}:list:{id}:dom:{domain}  LIST   unique addresses of that domain, in file order
 *   {p}:list:{id}:jobs          SET    ids of every verify job of the list (retries included)
 *   {p}:list:{id}:done          SET    ids of verify jobs that finished
 *   {p}:list:{id}:verdicts      HASH   de-dup key -> Verdict JSON, or "#id" for a text shared by many (verdict-texts.ts)
 *   {p}:list:{id}:vtext         HASH   id -> Verdict JSON shared by several addresses
 *   {p}:list:{id}:owner         STRING id of the API process running the parse pass, with a TTL (lease)
 *   {p}:list:{id}:mxstats       HASH   "{mx}|{field}" -> counter (sessions, rcpt, replies by code, reconnects, ms, deferred);
 *                                      "{mx}|pause@{since}" -> "{until}|{reply}" per pause that made the list wait
 *   {p}:list:{id}:waiting       HASH   delayed verify job id -> ListWait JSON (list-store.ts): what that job's addresses
 *                                      wait for (greylisting/4xx retry, or a paused MX) and until when; the field is
 *                                      deleted when the job starts (issue 16: progress says what it waits for)
 *   {p}:lists                   ZSET   list ids by creation time
 *   {p}:tenant:{t}:lists        ZSET   ids of the lists tenant t uploaded through the API, by creation time
 *
 * Shared across lists:
 *   {p}:verdict:{key}           STRING Verdict JSON, TTL by outcome (verdict cache)
 *   {p}:mx:{domain}             STRING MX resolution JSON, TTL (DNS cache)
 *   {p}:mxlease:{mx}            ZSET   fleet-wide session leases per MX host (member -> expiry ms)
 *   {p}:mxpause:{server}        HASH   fleet-wide pause of an MX server that slowed us down (probe/mx-pause-store.ts)
 *   {p}:mxstarts:{server}       HASH   session-start token bucket of an MX server (probe/session-start-budget.ts)
 *   {p}:catchall:{domain}       STRING catch-all answer (probe/catch-all-registry.ts)
 *   {p}:bull:...                       BullMQ queues "verify" and "finalize" (BullMQ prefix "{p}:bull")
 *
 * The HTTP API:
 *   {p}:authfail:{address}      STRING failed authentications from one client address (or IPv6 /64), TTL
 *   {p}:session:{id}            STRING a dashboard session (JSON: tenant, key label, expiry), TTL
 *
 * All per-list keys are deleted by `deleteList` (and expire 7 days after the list finishes).
 */
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
  /** Delayed retry jobs and what they wait for (issue 16). */
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
export const authFailuresKey = (prefix: string, address: string): string => `${prefix}:authfail:${address}`;
export const dashboardSessionKey = (prefix: string, sessionId: string): string => `${prefix}:session:${sessionId}`;
export const verdictCacheKey = (prefix: string, key: string): string => `${prefix}:verdict:${key}`;
export const bullPrefix = (prefix: string): string => `${prefix}:bull`;

export const VERIFY_QUEUE = 'verify';
export const FINALIZE_QUEUE = 'finalize';
