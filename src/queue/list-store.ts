/**
 * List state in Redis (layout in store/redis-keys.ts). A thin typed layer: read and write the list hash,
 * record verdicts, and decide — atomically — when every verify job of a list is done.
 */
import type { Redis } from 'ioredis';
import type { Verdict } from '../domain/verdict.ts';
import { claimKeyLease, releaseKeyLease, renewKeyLease } from './key-lease.ts';
import { loadLuaScript, PACK_SEPARATOR, runScript } from './lua-script.ts';
import { listActivityKeys, listKeys, listsIndexKey, tenantListsIndexKey } from '../store/redis-keys.ts';
import { resolveVerdictTexts, VERDICT_REF_MARK } from './verdict-texts.ts';

export type ListState = 'parsing' | 'enqueuing' | 'verifying' | 'collecting' | 'done' | 'failed';

export interface ListOptions {
  emailColumn?: string;
  reject: string;
  neutraliseFormulas: boolean;
  webhookUrl?: string;
  /** Re-verification (scheduled runs, verify --max-age): cached verdicts older than this are probed again. */
  maxVerdictAgeMs?: number;
  /** Uploaded through the HTTP API: MX hosts on private addresses are refused (VerifyBatch.refusePrivateMx). */
  refusePrivateMx?: boolean;
  /** verify --no-cache: the verdict cache is not read (fresh answers are still written to it). */
  skipCache?: boolean;
}

/**
 * What the parse pass read (stored as inputSha256, inputBytes, inputLayout): the collector proves it
 * reads the same bytes the same way before it writes anything (see csv/input-digest.ts).
 */
export interface InputIdentity {
  sha256: string;
  bytes: number;
  /** ListInput.layout: dialect, header, email column, width. */
  layout: string;
}

export interface ListRecord {
  id: string;
  state: ListState;
  input: string;
  name: string;
  outDir: string;
  options: ListOptions;
  createdAt: string;
  parsedAt?: string;
  enqueuedAt?: string;
  finishedAt?: string;
  rows: number;
  uniqueAddresses: number;
  verified: number;
  /** Addresses saved as mailbox_not_found; undefined for lists created before it was counted. */
  notFound?: number;
  jobs: number;
  /** Undefined for lists parsed before it was recorded. */
  inputIdentity?: InputIdentity;
  error?: string;
  /** The error's code when the list failed with a coded error (INPUT_CHANGED, or a stop for our own fault: OUTBOUND_SMTP_BLOCKED, DNS_FAILED...). */
  errorCode?: string;
  reportPath?: string;
  cleanedPath?: string;
  rejectedPath?: string;
  /** The API tenant that uploaded the list (config/api-keys.ts); unset for CLI, watch and schedule lists. */
  tenant?: string;
}

/**
 * What the addresses of one delayed verify job wait for (stored per job in {p}:list:{id}:waiting):
 * a retry the server asked for (greylisting, another 4xx, a busy greeting), or an MX paused
 * fleet-wide because it slowed us down. Read by progress and `hygiene status`.
 */
export interface ListWait {
  kind: 'retry' | 'paused';
  /** When the job is due (ms since epoch). */
  dueAt: number;
  /** The addresses by what they are waiting on: the verdict reason they would get now, and the MX. */
  groups: Array<{ reason: string; mx?: string; addresses: number }>;
}

/** A page of lists, newest first; `next` continues after the last one. */
export interface ListPage {
  lists: ListRecord[];
  next?: string;
}

/** A page cursor ("{score}.{id}") as the index position it stands for; undefined when absent or malformed. */
function decodePageCursor(cursor: string | undefined): { score: number; id: string } | undefined {
  const match = /^(\d{1,16})\.([0-9a-f]{1,64})$/.exec(cursor ?? '');
  return match ? { score: Number(match[1]), id: match[2]! } : undefined;
}

/** Seconds the per-list keys live after the list finishes (the verdict cache lives on separately). */
export const FINISHED_LIST_TTL_SECONDS = 7 * 86_400;

export class ListStore {
  constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {}

  keys(listId: string) {
    return listKeys(this.prefix, listId);
  }

  async create(record: Pick<ListRecord, 'id' | 'input' | 'name' | 'outDir' | 'options' | 'tenant'>): Promise<void> {
    const keys = this.keys(record.id);
    const now = new Date().toISOString();
    const multi = this.redis.multi();
    if (record.tenant !== undefined) multi.hset(keys.list, 'tenant', record.tenant).zadd(tenantListsIndexKey(this.prefix, record.tenant), Date.now(), record.id);
    await multi
      .hset(keys.list, {
        id: record.id,
        state: 'parsing',
        input: record.input,
        name: record.name,
        outDir: record.outDir,
        options: JSON.stringify(record.options),
        createdAt: now,
        rows: 0,
        uniqueAddresses: 0,
        verified: 0,
        notFound: 0,
      })
      .zadd(listsIndexKey(this.prefix), Date.now(), record.id)
      .exec();
  }

  async get(listId: string): Promise<ListRecord | null> {
    const raw = await this.redis.hgetall(this.keys(listId).list);
    if (!raw.id) return null;
    return {
      id: raw.id,
      state: (raw.state ?? 'parsing') as ListState,
      input: raw.input ?? '',
      name: raw.name ?? '',
      outDir: raw.outDir ?? '',
      options: JSON.parse(raw.options ?? '{}') as ListOptions,
      createdAt: raw.createdAt ?? '',
      parsedAt: raw.parsedAt,
      enqueuedAt: raw.enqueuedAt,
      finishedAt: raw.finishedAt,
      rows: Number(raw.rows ?? 0),
      uniqueAddresses: Number(raw.uniqueAddresses ?? 0),
      verified: Number(raw.verified ?? 0),
      notFound: raw.notFound === undefined ? undefined : Number(raw.notFound),
      jobs: Number(raw.jobs ?? 0),
      inputIdentity: raw.inputSha256 === undefined ? undefined : { sha256: raw.inputSha256, bytes: Number(raw.inputBytes ?? -1), layout: raw.inputLayout ?? '' },
      error: raw.error,
      errorCode: raw.errorCode,
      reportPath: raw.reportPath,
      cleanedPath: raw.cleanedPath,
      rejectedPath: raw.rejectedPath,
      tenant: raw.tenant,
    };
  }

  /**
   * Lists newest first: one tenant's (API uploads) or, with `tenant` null, every list. `cursor` is a
   * page's `next`: the index score and id of the last list returned (lists created in the same
   * millisecond share a score and come in descending id order). Ids whose list has expired are
   * dropped from the index on the way.
   */
  async page(tenant: string | null, limit: number, cursor?: string): Promise<ListPage> {
    const index = tenant === null ? listsIndexKey(this.prefix) : tenantListsIndexKey(this.prefix, tenant);
    let last = decodePageCursor(cursor);
    const lists: ListRecord[] = [];
    const batch = Math.max(2 * limit, 50);
    for (let round = 0; round < 20 && lists.length < limit; round++) {
      const raw = await this.redis.zrevrangebyscore(index, last ? String(last.score) : '+inf', '-inf', 'WITHSCORES', 'LIMIT', 0, batch);
      const entries: Array<{ id: string; score: number }> = [];
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const entry = { id: raw[i]!, score: Number(raw[i + 1]) };
        if (!last || entry.score < last.score || entry.id < last.id) entries.push(entry);
      }
      const records = await Promise.all(entries.map((e) => this.get(e.id)));
      const gone = entries.filter((_, i) => records[i] === null).map((e) => e.id);
      if (gone.length > 0) await this.redis.zrem(index, ...gone);
      for (const [i, entry] of entries.entries()) {
        if (lists.length === limit) break;
        last = entry;
        const record = records[i];
        if (record) lists.push(record);
      }
      if (raw.length < 2 * batch) break; // the index has nothing older
    }
    return { lists, ...(lists.length === limit && last ? { next: `${last.score}.${last.id}` } : {}) };
  }

  async update(listId: string, fields: Record<string, string | number>): Promise<void> {
    await this.redis.hset(this.keys(listId).list, fields);
  }

  async setState(listId: string, state: ListState, fields: Record<string, string | number> = {}): Promise<void> {
    await this.redis.hset(this.keys(listId).list, { state, ...fields });
  }

  /** The parse pass is over: record what it read, and move on to enqueuing. */
  async markParsed(listId: string, input: InputIdentity): Promise<void> {
    await this.setState(listId, 'enqueuing', { parsedAt: new Date().toISOString(), inputSha256: input.sha256, inputBytes: input.bytes, inputLayout: input.layout });
  }

  /** Drops everything the parse pass wrote, so an interrupted parse can start again from row 0. */
  async resetParse(listId: string): Promise<void> {
    const keys = this.keys(listId);
    await this.dropDomainLists(listId);
    await this.redis.pipeline().del(keys.first, keys.domains).hset(keys.list, { rows: 0, uniqueAddresses: 0 }).exec();
  }

  /**
   * Deletes the per-domain address lists (not :domains itself), walking :domains with SSCAN and
   * unlinking a page of keys per command: a list with many domains costs a few commands, not one
   * per domain, and Redis is never blocked for long.
   */
  private async dropDomainLists(listId: string): Promise<void> {
    const keys = this.keys(listId);
    let cursor = '0';
    do {
      const [next, domains] = await this.redis.sscan(keys.domains, cursor, 'COUNT', 1000);
      cursor = next;
      if (domains.length > 0) await this.redis.unlink(...domains.map((domain) => keys.domain(domain)));
    } while (cursor !== '0');
  }

  /**
   * Records verdicts; returns how many addresses got their first verdict (for progress).
   *
   * One script call with everything packed in two arguments: a job's verdicts as ~400 separate
   * arguments made building and writing the command most of a verify job's own CPU. A verdict
   * object given for several addresses (a verifier's answer for a whole domain, every syntax-only
   * verdict) is serialised once and stored once (see verdict-texts.ts).
   */
  async saveVerdicts(listId: string, verdicts: Map<string, Verdict>): Promise<number> {
    if (verdicts.size === 0) return 0;
    const keys = this.keys(listId);
    const uses = new Map<Verdict, number>();
    for (const verdict of verdicts.values()) uses.set(verdict, (uses.get(verdict) ?? 0) + 1);
    // Per verdict object: its JSON (used once) or '#n', n its 1-based place among the shared texts.
    const stored = new Map<Verdict, string>();
    const shared: string[] = [];
    for (const [verdict, count] of uses) {
      const json = JSON.stringify(verdict);
      if (count > 1) {
        shared.push(json);
        stored.set(verdict, `${VERDICT_REF_MARK}${shared.length}`);
      } else stored.set(verdict, json);
    }
    const pairs: string[] = [];
    let notFound = 0;
    for (const [key, verdict] of verdicts) {
      pairs.push(key, stored.get(verdict)!);
      if (verdict.reason === 'mailbox_not_found') notFound += 1;
    }
    return Number(await runScript(this.redis, SAVE_VERDICTS, [keys.verdicts, keys.list, keys.vtext], [shared.join(PACK_SEPARATOR), pairs.join(PACK_SEPARATOR), notFound]));
  }

  /** The keys among `addressKeys` that already have a verdict. */
  async verifiedKeys(listId: string, addressKeys: string[]): Promise<Set<string>> {
    const found = new Set<string>();
    if (addressKeys.length === 0) return found;
    const values = await this.redis.hmget(this.keys(listId).verdicts, ...addressKeys);
    addressKeys.forEach((key, i) => {
      if (values[i]) found.add(key);
    });
    return found;
  }

  async readVerdicts(listId: string, addressKeys: string[]): Promise<Map<string, Verdict>> {
    const found = new Map<string, Verdict>();
    if (addressKeys.length === 0) return found;
    const keys = this.keys(listId);
    const values = await resolveVerdictTexts(this.redis, keys.vtext, await this.redis.hmget(keys.verdicts, ...addressKeys), new Map());
    addressKeys.forEach((key, i) => {
      const value = values[i];
      if (value) found.set(key, JSON.parse(value) as Verdict);
    });
    return found;
  }

  /**
   * Marks a verify job done (idempotent) and answers whether the whole list is now verified: every
   * job id registered in :jobs is in :done and the producer has finished enqueuing. Atomic, so two
   * workers finishing the last two jobs at once cannot both miss (or both trigger) completion —
   * and the finalize job id is deterministic anyway.
   */
  async markJobDone(listId: string, jobId: string | null): Promise<boolean> {
    const keys = this.keys(listId);
    const result = await runScript(this.redis, MARK_DONE, [keys.list, keys.jobs, keys.done], [jobId ?? '']);
    return result === 1;
  }

  /** Records what a delayed job's addresses wait for; call before the job is added, so its start always finds it. */
  async noteWaiting(listId: string, jobId: string, wait: ListWait): Promise<void> {
    await this.redis.hset(this.keys(listId).waiting, jobId, JSON.stringify(wait));
  }

  /** The job started: its addresses no longer wait. */
  async clearWaiting(listId: string, jobId: string): Promise<void> {
    await this.redis.hdel(this.keys(listId).waiting, jobId);
  }

  /** What the list's delayed jobs wait for (one small hash: a field per delayed job not yet started). */
  async waiting(listId: string): Promise<ListWait[]> {
    const raw = await this.redis.hvals(this.keys(listId).waiting);
    const waits: ListWait[] = [];
    for (const value of raw) {
      try {
        waits.push(JSON.parse(value) as ListWait);
      } catch {
        // A field that is not our JSON (written by hand): not something to show.
      }
    }
    return waits;
  }

  async registerJobs(listId: string, jobIds: string[]): Promise<void> {
    if (jobIds.length > 0) await this.redis.sadd(this.keys(listId).jobs, ...jobIds);
  }

  async expireList(listId: string, seconds = FINISHED_LIST_TTL_SECONDS): Promise<void> {
    const keys = this.keys(listId);
    // Domain lists are only needed to build jobs; drop them now to give the memory back.
    await this.dropDomainLists(listId);
    const pipeline = this.redis.pipeline();
    // Nothing waits any more once the list is done.
    pipeline.del(keys.waiting);
    const activity = listActivityKeys(this.prefix, listId);
    for (const key of [keys.first, keys.domains, keys.jobs, keys.done, keys.verdicts, keys.vtext, keys.mxStats, activity.providerStats, activity.alerts, keys.list]) pipeline.expire(key, seconds);
    await pipeline.exec();
  }

  /** Takes the list's parse lease for `ttlMs` if nobody holds it (see key-lease.ts). */
  claimOwner(listId: string, owner: string, ttlMs: number): Promise<boolean> {
    return claimKeyLease(this.redis, this.keys(listId).owner, owner, ttlMs);
  }

  renewOwner(listId: string, owner: string, ttlMs: number): Promise<boolean> {
    return renewKeyLease(this.redis, this.keys(listId).owner, owner, ttlMs);
  }

  releaseOwner(listId: string, owner: string): Promise<void> {
    return releaseKeyLease(this.redis, this.keys(listId).owner, owner);
  }

  async deleteList(listId: string): Promise<void> {
    const keys = this.keys(listId);
    const tenant = await this.redis.hget(keys.list, 'tenant');
    await this.dropDomainLists(listId);
    const pipeline = this.redis.pipeline();
    if (tenant) pipeline.zrem(tenantListsIndexKey(this.prefix, tenant), listId);
    const activity = listActivityKeys(this.prefix, listId);
    pipeline.del(keys.first, keys.domains, keys.jobs, keys.done, keys.verdicts, keys.vtext, keys.mxStats, activity.providerStats, activity.alerts, keys.waiting, keys.owner, keys.list);
    pipeline.zrem(listsIndexKey(this.prefix), listId);
    await pipeline.exec();
  }
}

/** list-store-save-verdicts.lua (KEYS and ARGV in its header). */
const SAVE_VERDICTS = loadLuaScript(new URL('./list-store-save-verdicts.lua', import.meta.url));

/** list-store-mark-done.lua (KEYS and ARGV in its header). */
const MARK_DONE = loadLuaScript(new URL('./list-store-mark-done.lua', import.meta.url));
