/**
 * One pool per MX host and process: a queue of RCPT probes served by at most `maxSessionsPerMx`
 * SMTP sessions (each holding a fleet-wide lease), reused across jobs, lists and domains that share
 * the host. This is the scheduling side (which host, how many sessions, leases, budgets, pauses,
 * what the host has told us about itself); one session's life is pooled-session.ts, the shape of
 * each window window-planner.ts (pure), the reading of its replies window-replies.ts, and what a
 * reply or failure means domain/reply-meaning.ts and domain/failure-meaning.ts. Every per-server
 * limit is counted under one LimitKey (limit-key.ts). The politeness rules of SMTP-FACTS.md:
 *
 * - Error budget: every 4xx/5xx reply counts (Postfix counts every rejected RCPT and only resets on
 *   an accepted message, which we never send). A pipelined window is never larger than the budget
 *   left, so even a window of rejections cannot reach `smtpd_soft_error_limit`; at the budget we QUIT
 *   and reconnect.
 * - ≤ maxRcptPerTransaction RCPTs per transaction (RFC 5321 §4.5.3.1.8 guarantees 100), RSET and a new
 *   MAIL between transactions, a cap on RSETs per session (Postfix counts RSET beyond
 *   smtpd_junk_command_limit as errors).
 * - `452 4.5.3`: start a new transaction and retry the address. `421` or a drop: the session is over;
 *   answered addresses keep their verdicts, the rest go back to the queue and are probed on a new
 *   session after a backoff. No address is probed again once answered.
 * - A refused connection or a 5xx greeting marks the host down for a while: queued probes are
 *   handed back to the caller, which moves them to the next MX by preference.
 * - A reply that slows *us* down (domain/fault-owner.ts judgeReply: anvil's "too many recipients
 *   from [ip]", "too many connections", "try again later" at the greeting/EHLO/MAIL, a 4xx greeting)
 *   pauses the server fleet-wide (mx-pause-store.ts, exponential backoff): the session QUITs, and
 *   every probe waiting for the server is handed back as 'paused' (the worker turns it into a delayed
 *   retry due when the pause ends) instead of being retried in a loop. A pause another process set
 *   is honoured before every session and every window.
 * - Every connect attempt takes a token from the fleet-wide session-start budget of the server
 *   (session-start-budget.ts), whatever the reason for the session: no bug can become a flood.
 *
 * Failure safety (issue 13): every await that can reject runs inside the runner's error handling;
 * every probe taken into a window is settled on every path (answered, deferred, handed back, or
 * given up after MAX_LOSSES); a runner whose Redis fails (lease, budget, pause, rate) backs off
 * exponentially with jitter and logs once per interval (backoff.ts) instead of restarting at once;
 * a session whose lease could not be renewed ends before its next window, so the fleet never
 * exceeds the per-server cap; a probe's resolve runs once whatever happens.
 */
import type { Logger } from 'pino';
import type { HeloName, MailFrom } from '../config/setting-values.ts';
import {
  catchAllStateOf,
  combinedHostCause,
  hostFailureCause,
  lostSessionMeaning,
  senderRefusedMeaning,
  type HostFailureCause,
  type SessionFailure,
} from '../domain/failure-meaning.ts';
import type { CatchAllState, ProbeResult } from '../domain/probe-verdict.ts';
import { judgeReply, type ProviderContext, type ReplyClass, type ReplyJudgement, type ReplyStage } from '../domain/reply-meaning.ts';
import type { ProviderMatch, ProviderMatcher } from '../providers/provider-matcher.ts';
import type { BlockSignature, ProviderTable } from '../providers/provider-table.ts';
import { replyToText, type SmtpReply } from '../domain/smtp-reply.ts';
import type { AddressToVerify } from '../domain/verifier.ts';
import { HygieneError, isHygieneError, isSmtpError } from '../errors.ts';
import { mailFrom, quit, rcptTo, rset } from '../smtp/smtp-commands.ts';
import { isProxyFailure, type SmtpConnector } from '../smtp/smtp-connector.ts';
import { SmtpSession, type SmtpSessionOptions, type TranscriptEntry } from '../smtp/smtp-session.ts';
import { Backoff, createTroubleLog, sleep, type TroubleLog } from './backoff.ts';
import { improbableLocalPart, type CatchAllRegistry } from './catch-all-registry.ts';
import { limitKeyOf, serverOfKey, type LimitKey } from './limit-key.ts';
import { cooldownMs, limitPolicy, type LimitPolicy } from './limit-policy.ts';
import type { MxLease, MxLeaseManager } from './mx-lease.ts';
import type { MxPause, MxPauseStore } from './mx-pause-store.ts';
import { PooledSession, type SessionEnd } from './pooled-session.ts';
import type { RcptRateLimiter } from './rcpt-rate-limiter.ts';
import type { ClientAnswer } from './refusal-guard.ts';
import type { SenderBlockStore, SenderRest } from './sender-block-store.ts';
import type { SessionRuleStore } from './session-rule-store.ts';
import type { SessionStartBudget } from './session-start-budget.ts';
import { readRcpts, readSetup } from './window-replies.ts';
import { fillWindow, windowCommands, type WindowPlan } from './window-planner.ts';

export type { HostFailureCause };

export interface PoolSmtpSettings {
  port: number;
  heloName: HeloName;
  mailFrom: MailFrom;
  localAddress: string | undefined;
  /** The way out (the outbound identity's: direct, or a SOCKS5 proxy); default direct from localAddress. */
  connector?: SmtpConnector;
  /** Id of the outbound identity these settings belong to (config/outbound-identities.ts); default "direct". */
  identity?: string;
  /** Fleet-wide per-server limits of servers of no known provider (limit-policy.ts). */
  sessionsPerMinute?: number;
  sessionBurst?: number;
  rcptPerSecondPerMx?: number;
  tls: SmtpSessionOptions['tls'];
  tlsCa?: string;
  timeouts: SmtpSessionOptions['timeouts'];
  maxSessionsPerMx: number;
  errorBudget: number;
  maxRcptPerTransaction: number;
  maxRsetPerSession: number;
  pipelineWindow: number;
  idleSessionMs: number;
  backoffMs: number;
}

/** What became of one probe on this host: a ProbeResult, or "use the next MX". */
export type RcptResult =
  | ProbeResult
  | { kind: 'host-failed'; mx: string; detail: string; cause: HostFailureCause; reply?: SmtpReply }
  /** Not asked: the server is paused (it slowed us down); ask again when the pause ends. */
  | { kind: 'paused'; mx: string; pause: MxPause }
  /**
   * Not asked: this identity rests for this provider or server (the sender-block breaker tripped):
   * ask through another identity, or when the rest ends.
   */
  | { kind: 'resting'; mx: string; identity: string; provider: string | null; rest: SenderRest; detail: string };

export interface ProbeRequest {
  listId: string;
  address: AddressToVerify;
  resolve: (result: RcptResult) => void;
  /** How many sessions this probe was in when they died. */
  losses: number;
}

export interface PoolStats {
  sessions: number;
  maxConcurrentSessions: number;
  rcpts: number;
  roundTrips: number;
  reconnects: number;
  errors: number;
}

export interface PoolEvents {
  /** A session served its first probe of a list. */
  onSessionForList?: (mx: string, listId: string) => void;
  onReply?: (mx: string, listId: string, code: number) => void;
  onReconnect?: (mx: string, listId: string) => void;
  onSessionClosed?: (mx: string, listIds: ReadonlySet<string>, durationMs: number) => void;
  /** Time spent waiting for one window's replies, for the lists that had probes in it. */
  onExchange?: (mx: string, listIds: ReadonlySet<string>, durationMs: number) => void;
  onTranscript?: (mx: string, entry: TranscriptEntry) => void;
  /** Outcome of one TCP connect to one address of the MX (connectivity guard, `hygiene doctor`):
   *  ok = the TCP connection was made (whatever the greeting said); timeout = the connect timed out. */
  onConnectResult?: (mx: string, host: string, result: { ok: boolean; timeout: boolean }) => void;
  /** How the server treated *us*: refused us (IP, HELO, sender) or answered about a mailbox (fault guard). */
  onClientAnswer?: (mx: string, answer: ClientAnswer) => void;
  /** A pause of this MX sent probes of these lists back (count per list) to be retried when it ends. */
  onPause?: (mx: string, deferredByList: ReadonlyMap<string, number>, pause: MxPause) => void;
  /** This MX could not be used for a probe of the list (the verifier tries the next one): why (`hygiene probe` shows it). */
  onMxNotUsed?: (mx: string, listId: string, why: string) => void;
  /**
   * A server refused *us* (our IP listed, our HELO, our rate: a provider block signature) and the
   * circuit breaker rested this (provider or server, identity) until `cooldownUntil` (issue 14/15).
   * Fed to the CLI summary's SENDER BLOCKED alert, report.json `alerts`, metrics and the
   * `sender.blocked` webhook.
   */
  onSenderBlock?: (block: SenderBlockEvent) => void;
  /** Per-list, per-identity and per-provider counters for the report (issue 15 visibility). */
  onIdentityActivity?: (activity: IdentityActivity) => void;
}

export interface SenderBlockEvent {
  /** Provider slug ("microsoft"), or null when the server matched no provider. */
  provider: string | null;
  /** The MX host whose reply tripped the breaker. */
  mx: string;
  /** Outbound identity id (config/outbound-identities.ts) the block is about. */
  identity: string;
  /** The block signature's id in the provider table, when one matched. */
  signature: string | null;
  /** The DNS blocklist the reply names ("zen.spamhaus.org"), when it names one. */
  blocklist: string | null;
  /** Whom the block is about: ip, network, helo, sender or rate. */
  about: string;
  severity: 'block' | 'throttle';
  /** The server's reply, as text. */
  reply: string;
  /** What it means, and what the user can do (provider table `means` / `action`). */
  means: string;
  action: string | null;
  /** Epoch ms until which this identity rests for this provider or server; escalation level (1 = first). */
  cooldownUntil: number;
  level: number;
  /** Lists with probes that got unknown/policy_block or were re-routed because of it. */
  listIds: readonly string[];
}

export interface IdentityActivity {
  listId: string;
  identity: string;
  provider: string | null;
  /** session: a session served this list; rcpt: one RCPT answered; block: a sender block; cooldown: probes waited for or were re-routed from a resting identity. */
  what: 'session' | 'rcpt' | 'block' | 'cooldown';
  count?: number;
}

export interface MxSessionPoolDeps {
  settings: PoolSmtpSettings;
  /** The provider table: profiles (limits), reply meanings and block signatures (issue 14). */
  providers?: ProviderTable;
  /** Its matcher: a host whose name matched no provider may name one in its greeting. */
  matcher?: ProviderMatcher;
  /** Learned session rules (one RCPT per transaction), fleet-wide. */
  rules?: SessionRuleStore;
  /** The sender-block breaker, fleet-wide. */
  blocks?: SenderBlockStore;
  leases: MxLeaseManager;
  rateLimiter: RcptRateLimiter;
  /** Fleet-wide pauses of servers that slow us down. */
  pauses: MxPauseStore;
  /** Fleet-wide budget of session starts per server. */
  sessionStarts: SessionStartBudget;
  catchAll: CatchAllRegistry;
  logger: Logger;
  /** Shared by every pool of the process: a Redis failure seen by many pools is logged once per interval. */
  trouble?: TroubleLog;
  events?: PoolEvents;
  openSession?: (options: SmtpSessionOptions) => Promise<SmtpSession>;
  now?: () => number;
}

/** How long a host that refused us (policy) keeps its answer before we ask it again. */
const POLICY_BLOCK_HOLD_MS = 10 * 60_000;

/** Probes lost in this many dead sessions are given up (unknown) instead of being tried again. */
const MAX_LOSSES = 3;

type WindowItem = ({ kind: 'probe'; request: ProbeRequest } | { kind: 'catch-all'; domain: string; listId: string }) & {
  /** Set once the item is answered, deferred, handed back or given up: an item is settled once. */
  settled?: boolean;
};

/** What one window led to, for the loop that serves sessions under a lease. */
interface WindowOutcome {
  /** The server answered something: the runner is making progress. */
  progressed: boolean;
  /** The session must end, and how. */
  end?: SessionEnd;
  /** The session was lost with items unanswered (they went back to the queue). */
  lost?: { why: string; hostCause: HostFailureCause; sessionHadAnswers: boolean };
  /** The host was paused: stop serving it. */
  stop?: boolean;
  /** Every reply came, in step (losses in a row start again from zero). */
  inStep?: boolean;
}

/** One answered RCPT of a window, for notePolicy. */
interface PolicyEvidence {
  domain: string;
  reply: SmtpReply;
  replyClass: ReplyClass;
}

/** Why a session could not be opened to any address of the host. */
interface HostUnusable {
  detail: string;
  cause: HostFailureCause;
  /** The server's refusal at the greeting or EHLO, when one answered. */
  reply?: SmtpReply;
  stage?: Extract<ReplyStage, 'greeting' | 'ehlo'>;
}

/** The address a window item asks about (the catch-all probe's is improbable by design). */
function windowAddress(item: WindowItem): string {
  return item.kind === 'probe' ? item.request.address.address : `${improbableLocalPart(item.domain)}@${item.domain}`;
}

function itemList(item: WindowItem): string {
  return item.kind === 'probe' ? item.request.listId : item.listId;
}

function itemDomain(item: WindowItem): string {
  return item.kind === 'probe' ? item.request.address.domain : item.domain;
}

/** Resolves every request with the same result; how many per list (for the events). */
function resolveAll(requests: readonly ProbeRequest[], result: RcptResult): Map<string, number> {
  const byList = new Map<string, number>();
  for (const request of requests) {
    byList.set(request.listId, (byList.get(request.listId) ?? 0) + 1);
    request.resolve(result);
  }
  return byList;
}

/** A probe's resolve runs once, whatever path settles it. */
function once(request: ProbeRequest): ProbeRequest {
  let done = false;
  const resolve = request.resolve;
  request.resolve = (result) => {
    if (done) return;
    done = true;
    resolve(result);
  };
  return request;
}

export class MxSessionPool {
  private readonly queue: ProbeRequest[] = [];
  private runners = 0;
  private activeSessions = 0;
  private downUntil = 0;
  private downDetail = '';
  private downCause: HostFailureCause = 'refused';
  private downReply: SmtpReply | undefined;
  /** STARTTLS failed here once: like Postfix's "may" TLS level, go on in plain text. */
  private plaintextOnly = false;
  /** Its replies fell out of step with our commands once: never pipeline to it again (see noteDesync). */
  private pipeliningOff = false;
  /** The host refused *us* (client/HELO/sender/blocklist): the same answer for every address. */
  private policyBlock: { until: number; reply: SmtpReply; detail: string } | null = null;
  private policyStrikes = 0;
  /** The pause in force for this server, as last seen (ours or another process's). */
  private pause: MxPause | null = null;
  /** Domains this host refuses to relay for: every address of the domain gets the same answer. */
  private readonly relayDenied = new Map<string, { reply: SmtpReply; detail: string }>();
  private readonly wakers = new Set<() => void>();
  private closing = false;
  private readonly abort = new AbortController();
  /** Runners that end without answering anything are started again only after this backs off. */
  private readonly respawn = new Backoff({ firstMs: 100, maxMs: 30_000 });
  private respawnTimer: NodeJS.Timeout | null = null;
  private readonly trouble: TroubleLog;
  /** The key of every fleet-wide limit of this server (lease, session starts, RCPT rate, pause, sender block). */
  readonly limitKey: LimitKey;
  /** How much the fleet may ask of that key (the provider's profile, or the per-MX settings). */
  readonly policy: LimitPolicy;
  /** The outbound identity this pool's sessions go out through. */
  readonly identity: string;
  /** The provider as reply meanings see it: the name match, or the greeting's when the name matched none. */
  private replyProvider: ProviderMatch | null;
  /** RCPTs per transaction the server taught us (452 4.5.3), fleet-wide; null = none learned. */
  private learnedRcptPerTransaction: number | null = null;
  /** The sender-block rest in force for this key, as last seen (ours or another process's). */
  private rest: SenderRest | null = null;
  readonly stats: PoolStats = { sessions: 0, maxConcurrentSessions: 0, rcpts: 0, roundTrips: 0, reconnects: 0, errors: 0 };

  constructor(
    readonly mx: string,
    private readonly addresses: readonly string[],
    private readonly deps: MxSessionPoolDeps,
    /** The provider the MX host's name matched (provider-matcher.ts), null when none: it keys the limits. */
    readonly provider: ProviderMatch | null = null,
  ) {
    this.identity = deps.settings.identity ?? 'direct';
    this.limitKey = limitKeyOf({ mx, addresses, provider: provider?.provider.slug ?? null, identity: this.identity });
    const s = deps.settings;
    this.policy = limitPolicy(provider?.provider.profile ?? null, {
      maxSessionsPerMx: s.maxSessionsPerMx,
      sessionsPerMinute: s.sessionsPerMinute ?? 60,
      sessionBurst: s.sessionBurst ?? 5,
      rcptPerSecondPerMx: s.rcptPerSecondPerMx ?? 0,
      maxRcptPerTransaction: s.maxRcptPerTransaction,
    }, deps.providers?.defaultProfile.blockCooldownMinutes);
    this.replyProvider = provider;
    this.trouble = deps.trouble ?? createTroubleLog(deps.logger);
  }

  /** Slug of the provider of this MX (by name, else by greeting), null when none. */
  get providerSlug(): string | null {
    return this.replyProvider?.provider.slug ?? null;
  }

  /** True while this identity rests for this provider or server (as last seen). */
  get resting(): SenderRest | null {
    return this.rest && this.now() < this.rest.until ? this.rest : null;
  }

  /** What reply meanings read with: the provider table and this server's provider. */
  private get providerContext(): ProviderContext | undefined {
    return this.deps.providers ? { table: this.deps.providers, match: this.replyProvider } : undefined;
  }

  private judge(stage: ReplyStage, reply: SmtpReply): ReplyJudgement {
    return judgeReply(stage, reply, {}, this.providerContext);
  }

  /** The window limits of this server: the settings with the RCPTs per transaction of its profile and what it taught us. */
  private windowLimits(): PoolSmtpSettings {
    const s = this.deps.settings;
    const taught = this.learnedRcptPerTransaction ?? Number.POSITIVE_INFINITY;
    return { ...s, maxRcptPerTransaction: Math.max(1, Math.min(this.policy.rcptPerTransaction, taught)) };
  }

  get queued(): number {
    return this.queue.length;
  }

  submit(requests: ProbeRequest[]): void {
    requests = requests.map(once);
    const now = this.now();
    if (this.pause && now < this.pause.until) {
      this.defer(requests, this.pause);
      return;
    }
    if (this.closing || now < this.downUntil) {
      for (const request of requests) request.resolve(this.downResult(this.downDetail || `${this.mx} is not in use`));
      return;
    }
    const rest = this.resting;
    if (rest) {
      this.handBackResting(requests, rest);
      return;
    }
    this.queue.push(...requests);
    for (const wake of this.wakers) wake();
    this.ensureRunners();
  }

  /** Stops taking work; open sessions QUIT once their current window is answered. */
  async close(): Promise<void> {
    this.closing = true;
    this.abort.abort();
    if (this.respawnTimer) clearTimeout(this.respawnTimer);
    this.respawnTimer = null;
    for (const wake of this.wakers) wake();
    while (this.runners > 0) await sleep(20);
    this.failQueued({ kind: 'host-failed', mx: this.mx, detail: 'The verifier is shutting down.', cause: 'refused' });
  }

  /** Hands queued probes back unanswered (the run stopped: a fault guard tripped). */
  abandonQueued(detail: string): void {
    this.failQueued({ kind: 'gave-up', mx: this.mx, reason: 'smtp_error', detail, retryable: false });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private ensureRunners(): void {
    if (this.respawnTimer) return;
    // The provider's (or server's) sessions at once; the fleet-wide lease enforces it across MX names and processes.
    const max = this.policy.sessionsAtOnce;
    // A second session only when there is more work than one window: fewer sessions is politer.
    while (this.runners < max && this.queue.length > 0 && (this.runners === 0 || this.queue.length > this.deps.settings.pipelineWindow * this.runners)) {
      this.runners += 1;
      void this.runner().then((servedAny) => {
        this.runners -= 1;
        if (this.queue.length === 0 || this.closing) return;
        if (servedAny) {
          this.respawn.reset();
          this.ensureRunners();
          return;
        }
        // A runner that ended without answering anything is not restarted at once: a loop that
        // restarts itself backs off (exponential, with jitter, at most 30 s).
        this.respawnTimer ??= setTimeout(() => {
          this.respawnTimer = null;
          this.ensureRunners();
        }, this.respawn.next());
      });
    }
  }

  private failQueued(result: RcptResult): void {
    for (const request of this.queue.splice(0)) request.resolve(result);
  }

  /** Sends probes back as 'paused' (the worker retries them when the pause ends). */
  private defer(requests: ProbeRequest[], pause: MxPause): void {
    const byList = resolveAll(requests, { kind: 'paused', mx: this.mx, pause });
    if (byList.size > 0) this.deps.events?.onPause?.(this.mx, byList, pause);
  }

  /**
   * A window's items and the queue, taken back unasked: probes are returned (to be handed back),
   * catch-all probes are left for a later session.
   */
  private takeBack(items: WindowItem[]): ProbeRequest[] {
    const requests: ProbeRequest[] = [];
    for (const item of items) {
      item.settled = true;
      if (item.kind === 'probe') requests.push(item.request);
      else this.deps.catchAll.settle(item.domain, 'unknown', true);
    }
    return [...requests, ...this.queue.splice(0)];
  }

  /** Window items go back too: probes deferred, catch-all probes left for a later session. */
  private deferItems(items: WindowItem[], pause: MxPause): void {
    this.defer(this.takeBack(items), pause);
  }

  /** The pause in force (another process's too), or null. One Redis read. */
  private async pauseInForce(): Promise<MxPause | null> {
    const pause = await this.deps.pauses.current(this.limitKey);
    this.pause = pause;
    return pause;
  }

  /** The sender-block rest in force for this key (another process's too), or null. One Redis read. */
  private async restInForce(): Promise<SenderRest | null> {
    if (!this.deps.blocks) return null;
    const rest = await this.deps.blocks.current(this.limitKey);
    this.rest = rest;
    return rest;
  }

  /** Sends probes back unasked: this identity rests here (the verifier routes them to another, or waits). */
  private handBackResting(requests: ProbeRequest[], rest: SenderRest): void {
    const detail = `${this.mx} refused identity ${this.identity} (${rest.reply || rest.signature}); it rests for ${this.providerSlug ?? this.mx} until ${new Date(rest.until).toISOString()}`;
    const byList = resolveAll(requests, { kind: 'resting', mx: this.mx, identity: this.identity, provider: this.providerSlug, rest, detail });
    for (const [listId, count] of byList) this.deps.events?.onIdentityActivity?.({ listId, identity: this.identity, provider: this.providerSlug, what: 'cooldown', count });
  }

  /** Window items go back too: probes handed back resting, catch-all probes left for a later session, and the queue. */
  private handBackRestingItems(items: WindowItem[], rest: SenderRest): void {
    this.handBackResting(this.takeBack(items), rest);
  }

  /**
   * A block signature answered us: trip the breaker of this (provider or server, identity) fleet-wide
   * with the profile's escalating cooldown, and say so once per trip (onSenderBlock).
   */
  private async tripBreaker(signature: BlockSignature, reply: SmtpReply, lists: ReadonlySet<string>): Promise<SenderRest> {
    const text = replyToText(reply);
    const ladderMs = this.policy.blockCooldownMinutes.map((_, i) => cooldownMs(this.policy.blockCooldownMinutes, i + 1));
    let rest: SenderRest;
    let tripped = true;
    if (this.deps.blocks) ({ rest, tripped } = await this.deps.blocks.trip(this.limitKey, { signature: signature.id, reply: text, ladderMs }));
    else rest = { key: this.limitKey, since: this.now(), until: this.now() + (ladderMs[0] ?? 15 * 60_000), level: 1, signature: signature.id, reply: text };
    this.rest = rest;
    if (tripped) {
      this.deps.logger.error(
        { mx: this.mx, provider: this.providerSlug, identity: this.identity, signature: signature.id, blocklist: signature.blocklist, until: new Date(rest.until).toISOString(), level: rest.level, reply: text },
        `SENDER BLOCKED: ${this.providerSlug ?? this.mx} refuses identity ${this.identity}: ${signature.means}`,
      );
      for (const listId of lists) this.deps.events?.onIdentityActivity?.({ listId, identity: this.identity, provider: this.providerSlug, what: 'block' });
      this.deps.events?.onSenderBlock?.(this.senderBlockEvent(signature, 'block', text, rest, lists));
    }
    return rest;
  }

  /** A throttle signature (Google's unusual rate, Yahoo's TSS04): the pause rests the key; said as a sender block of severity throttle. */
  private noteThrottle(signature: BlockSignature, reply: SmtpReply, pause: MxPause, lists: ReadonlySet<string>): void {
    // Once per pause: a fleet hitting the same limit pauses once (the pause store says whether this call started it).
    if (pause.created === false) return;
    this.deps.events?.onSenderBlock?.(this.senderBlockEvent(signature, 'throttle', replyToText(reply), pause, lists));
  }

  /** What onSenderBlock says of a block (the breaker's rest) or a throttle (the pause). */
  private senderBlockEvent(
    signature: BlockSignature,
    severity: SenderBlockEvent['severity'],
    reply: string,
    until: { until: number; level: number },
    lists: ReadonlySet<string>,
  ): SenderBlockEvent {
    return {
      provider: this.providerSlug,
      mx: this.mx,
      identity: this.identity,
      signature: signature.id,
      blocklist: signature.blocklist,
      about: signature.about,
      severity,
      reply,
      means: signature.means,
      action: signature.action,
      cooldownUntil: until.until,
      level: until.level,
      listIds: [...lists],
    };
  }

  /** A new session: what the fleet learned of this server's rules, and its provider by greeting when its name said none. */
  private async learnAtSessionStart(smtp: SmtpSession): Promise<void> {
    if (this.replyProvider === null && this.deps.matcher) this.replyProvider = this.deps.matcher.providerOf([], smtp.greeting.raw);
    const stored = this.deps.rules ? await this.deps.rules.rcptPerTransaction(serverOfKey(this.limitKey)) : null;
    if (stored !== null) this.learnedRcptPerTransaction = Math.min(stored, this.learnedRcptPerTransaction ?? stored);
  }

  /**
   * The server refused an RCPT as one too many for the transaction (452 4.5.3) after taking
   * `accepted` (Microsoft and smtpd_recipient_limit = 1: one; a Postfix with a limit of 7: seven):
   * at most that many per transaction from now on (RSET and MAIL FROM between), for every process
   * of the fleet (a TTL lets us find out again). The refused address was put back and is asked
   * first, in the next transaction.
   */
  private async learnRcptPerTransaction(accepted: number): Promise<void> {
    const rcpts = Math.max(1, accepted);
    if (this.learnedRcptPerTransaction !== null && this.learnedRcptPerTransaction <= rcpts) return;
    this.learnedRcptPerTransaction = rcpts;
    this.deps.logger.info({ mx: this.mx, server: serverOfKey(this.limitKey), rcptsPerTransaction: rcpts }, 'the server takes only this many RCPTs per transaction: RSET and MAIL FROM between from now on (remembered fleet-wide)');
    await this.deps.rules?.learnRcptPerTransaction(serverOfKey(this.limitKey), rcpts);
  }

  /** The server slowed us down: pause it fleet-wide. */
  private async pauseServer(reply: SmtpReply, stage: ReplyStage): Promise<MxPause> {
    const reason = replyToText(reply);
    const pause = await this.deps.pauses.pause(this.limitKey, {
      reason,
      kind: this.judge(stage, reply).owner === 'us' ? 'rate' : 'busy',
      detail: `${this.mx} asked us to slow down at ${stage === 'rcpt' ? 'RCPT TO' : stage === 'mail' ? 'MAIL FROM' : stage === 'ehlo' ? 'EHLO' : 'the greeting'} (${reason})`,
    });
    this.pause = pause;
    this.deps.logger.warn({ mx: this.mx, server: this.limitKey, until: new Date(pause.until).toISOString(), level: pause.level, reply: reason }, 'MX paused fleet-wide: it slowed us down');
    return pause;
  }

  private markDown(detail: string, cause: HostFailureCause, reply?: SmtpReply): void {
    this.downUntil = this.now() + this.deps.settings.backoffMs;
    this.downDetail = detail;
    this.downCause = cause;
    this.downReply = reply;
    this.failQueued(this.downResult(detail));
  }

  private downResult(detail: string): RcptResult {
    return { kind: 'host-failed', mx: this.mx, detail, cause: this.downCause, reply: this.downReply };
  }

  /** Waits until work is queued or `ms` passes. */
  private waitForWork(ms: number): Promise<void> {
    if (this.queue.length > 0 || this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  /**
   * Opens one SMTP session to the first address of the host that takes it: the one place sessions
   * are opened. Every connect attempt, whatever its reason, first spends the server's fleet-wide
   * session-start budget (a Redis failure there rejects: the runner backs off, the host is not
   * marked down for it). Resolves with the session, or with why no address of the host could be used.
   */
  private async openSession(): Promise<{ session: SmtpSession } | { unusable: HostUnusable }> {
    const s = this.deps.settings;
    const failures: string[] = [];
    const causes = new Set<HostFailureCause>();
    let rejection: SmtpReply | undefined;
    let rejectionStage: HostUnusable['stage'];
    const open = (host: string, tls: SmtpSessionOptions['tls']): Promise<SmtpSession> =>
      (this.deps.openSession ?? SmtpSession.open)({
        host,
        port: s.port,
        serverName: this.mx,
        heloName: s.heloName,
        localAddress: s.localAddress,
        connector: s.connector,
        tls,
        tlsCa: s.tlsCa,
        pipelining: !this.pipeliningOff,
        timeouts: s.timeouts,
        onTranscript: this.deps.events?.onTranscript ? (entry) => this.deps.events?.onTranscript?.(this.mx, entry) : undefined,
      });
    /** Every connect attempt spends a token first; false when the pool is closing. A Redis failure rejects (the runner's). */
    const mayStart = (): Promise<boolean> =>
      this.deps.sessionStarts.take(this.limitKey, this.abort.signal, { perMinute: this.policy.sessionStartsPerMinute, burst: this.policy.sessionBurst }).catch((err: unknown) => {
        throw new BudgetFailure(err);
      });
    for (const host of this.addresses) {
      let session: SmtpSession;
      try {
        if (!(await mayStart())) return { unusable: { detail: 'The verifier is shutting down.', cause: 'refused' } };
        try {
          session = await open(host, this.plaintextOnly && s.tls === 'opportunistic' ? 'off' : s.tls);
        } catch (err) {
          // Opportunistic TLS that fails the handshake: reconnect in plain text, as an MTA would.
          if (!isHygieneError(err, 'SMTP_TLS_FAILED') || s.tls !== 'opportunistic') throw err;
          this.deps.logger.info({ mx: this.mx, err: err.message }, 'STARTTLS failed; continuing without TLS');
          this.plaintextOnly = true;
          if (!(await mayStart())) return { unusable: { detail: 'The verifier is shutting down.', cause: 'refused' } };
          session = await open(host, 'off');
        }
      } catch (caught) {
        // The budget's own failure (Redis) is ours, not the server's: the runner backs off and tries again.
        if (caught instanceof BudgetFailure) throw caught.cause;
        // Anything else the session layer threw counts against this address of the host.
        const err = isSmtpError(caught) ? caught : new HygieneError('SMTP_CONNECT_FAILED', String(caught), { mx: this.mx, host });
        // A proxy's own failure reached no MX: never "ok" for the port-25 guard (the proxy guard judges it).
        const tcpFailed = err.code === 'SMTP_CONNECT_FAILED' || isProxyFailure(err) || (err.code === 'SMTP_TIMEOUT' && err.context.phase === 'connect');
        this.deps.events?.onConnectResult?.(this.mx, host, { ok: !tcpFailed, timeout: tcpFailed && err.code === 'SMTP_TIMEOUT' });
        failures.push(`${host}: ${err.message}`);
        const reply = err.context.reply;
        const refusedAt = err.code === 'SMTP_GREETING_REJECTED' ? 'greeting' : err.code === 'SMTP_EHLO_REJECTED' ? 'ehlo' : undefined;
        const failure: SessionFailure =
          refusedAt && reply
            ? { kind: 'refused-at', stage: refusedAt, reply }
            : { kind: 'network', what: err.code === 'SMTP_TIMEOUT' ? 'session-timeout' : err.code === 'SMTP_PROTOCOL' ? 'protocol-error' : 'connect-refused' };
        const cause = hostFailureCause(failure);
        causes.add(cause);
        if (failure.kind === 'refused-at' && rejection === undefined) {
          rejectionStage = failure.stage;
          if (cause === 'rejected' || cause === 'busy') rejection = failure.reply;
        }
        // A rejected greeting (or certificate) is the host speaking for itself: its other addresses will say the same.
        if (err.code === 'SMTP_GREETING_REJECTED' || err.code === 'SMTP_TLS_REQUIRED' || err.context.certificate === true) break;
        continue;
      }
      this.deps.events?.onConnectResult?.(this.mx, host, { ok: true, timeout: false });
      return { session };
    }
    return { unusable: { detail: `${this.mx} (${failures.join('; ')})`, cause: combinedHostCause(causes), reply: rejection, stage: rejection ? rejectionStage : undefined } };
  }

  /**
   * Serves the queue under fleet-wide leases until it is empty, the host is down or paused, or the
   * pool closes. Resolves true when it made progress or ended by itself (a respawn then needs no
   * backoff), false when it was stopped before (the pool closing, a lease never granted). Never
   * rejects: a failure of our own parts (Redis refusing writes, a bug) is logged once per interval
   * and retried after an exponential, jittered, bounded backoff; nothing taken is lost meanwhile.
   */
  private async runner(): Promise<boolean> {
    const backoff = new Backoff({ firstMs: 250, maxMs: 30_000 });
    let servedAny = false;
    while (!this.closing && this.queue.length > 0) {
      let lease: MxLease | null = null;
      let retryInMs: number;
      try {
        lease = await this.deps.leases.acquire(this.limitKey, this.abort.signal, this.policy.sessionsAtOnce);
        if (!lease) break;
        const end = await this.serve(lease, () => {
          servedAny = true;
          backoff.reset();
        });
        // Ended by itself (no work left, host down or paused): a new runner may start at once.
        if (end === 'done' || end === 'stop') servedAny = true;
        if (end !== 'lease-lost') break;
        // A lease lost again and again (Redis losing it) must not become a loop: back off before the next one.
        retryInMs = backoff.next();
      } catch (err) {
        retryInMs = backoff.next();
        this.trouble.warn({ mx: this.mx, server: this.limitKey, err: (err as Error).message, retryInMs, attempts: backoff.attempts }, 'MX pool cannot go on (Redis or an internal failure); waiting and trying again');
      } finally {
        // Given back before any wait. mx-lease.ts never rejects on release: a lease it could not delete expires by itself.
        await lease?.release();
      }
      await sleep(retryInMs, this.abort.signal);
    }
    return servedAny;
  }

  /**
   * Sessions under one lease, one after the other, until the queue is empty ('done'), the host is
   * down or paused ('stop'), or the lease was lost ('lease-lost': the session ends first).
   */
  private async serve(lease: MxLease, onProgress: () => void): Promise<'done' | 'stop' | 'lease-lost'> {
    const s = this.deps.settings;
    let session: PooledSession<WindowItem> | null = null;
    let consecutiveLosses = 0;
    const endSession = async (how: SessionEnd): Promise<void> => {
      const ending = session;
      session = null;
      await ending?.end(how);
    };
    try {
      for (;;) {
        if (this.queue.length === 0) {
          // About to idle: a late extra reply gets one round trip to show itself before the last
          // window's verdicts count.
          await session?.settleBeforeIdle();
          if (session?.closed) await endSession('drop');
          await this.waitForWork(session ? s.idleSessionMs : 0);
          if (this.queue.length === 0 || this.closing) return 'done';
        }
        // The server may have closed on its own (idle timeout, unsolicited 421) while we waited.
        if (session?.closed) await endSession('drop');
        if (lease.lost.aborted) {
          // Our lease could not be renewed: another process may hold the slot now. End the session
          // before anything else is sent, and ask for a lease again.
          await endSession('quit');
          return 'lease-lost';
        }
        if (this.now() < this.downUntil) {
          this.failQueued(this.downResult(this.downDetail));
          return 'stop';
        }
        // A pause set by any process of the fleet holds before every session and every window.
        const paused = await this.pauseInForce();
        if (paused) {
          await endSession('quit');
          this.defer(this.queue.splice(0), paused);
          return 'stop';
        }
        // A sender block of this (provider or server, identity), tripped by any process, holds before every session and window.
        const rest = await this.restInForce();
        if (rest) {
          await endSession('quit');
          this.handBackResting(this.queue.splice(0), rest);
          return 'stop';
        }
        if (!session) {
          const opened = await this.openSession();
          if ('unusable' in opened) {
            await this.hostUnusable(opened.unusable);
            return 'stop';
          }
          session = this.startSession(opened.session);
          await this.learnAtSessionStart(opened.session);
        }

        const plan = session.plan(this.windowLimits(), this.queue.length);
        if (plan.kind === 'reconnect') {
          await endSession('quit');
          continue;
        }
        // Built before any probe is taken: a sender that cannot be sent fails the queue, not a window.
        const mailCommand = plan.mail ? this.mailCommand(session) : '';
        if (mailCommand === null) return 'stop';
        const window = this.takeWindow(plan.room, session);
        if (window.length === 0) continue;
        const outcome = await this.sendWindow(session, plan, window, mailCommand).catch((err: unknown) => {
          // Whatever failed (a Redis call, a bug), no item of the window is lost: those not yet
          // settled are asked again (up to MAX_LOSSES times), then the error goes to the runner.
          for (const item of window) if (!item.settled) this.requeueLost(item, 'smtp_error', `internal failure: ${(err as Error).message}`);
          throw err;
        });
        if (outcome.progressed) onProgress();
        if (outcome.end) await endSession(outcome.end);
        if (outcome.lost) {
          consecutiveLosses = outcome.lost.sessionHadAnswers ? 1 : consecutiveLosses + 1;
          if (consecutiveLosses >= MAX_LOSSES) {
            this.markDown(`${this.mx}: ${consecutiveLosses} sessions in a row were lost (${outcome.lost.why})`, outcome.lost.hostCause);
            return 'stop';
          }
          // Back off before reconnecting (SMTP-FACTS politeness: back off on 421 and on drops).
          await sleep(Math.min(s.backoffMs * consecutiveLosses, 60_000), this.abort.signal);
          continue;
        }
        if (outcome.stop) return 'stop';
        if (outcome.inStep) consecutiveLosses = 0;
      }
    } finally {
      // Never leave a session open or a held window unsettled, whatever ended the loop.
      await endSession('quit');
    }
  }

  /** A session was opened: count it and wrap it for the pool. */
  private startSession(smtp: SmtpSession): PooledSession<WindowItem> {
    this.activeSessions += 1;
    this.stats.sessions += 1;
    this.stats.maxConcurrentSessions = Math.max(this.stats.maxConcurrentSessions, this.activeSessions);
    return new PooledSession<WindowItem>(smtp, this.now(), {
      onDesync: (detail) => this.noteDesync(detail),
      requeue: (items, why) => {
        for (const item of items) this.requeueLost(item, 'smtp_error', why);
      },
      onClosed: (ended) => {
        this.stats.roundTrips += ended.roundTrips;
        this.activeSessions -= 1;
        this.deps.events?.onSessionClosed?.(this.mx, new Set(ended.lists), this.now() - ended.startedAt);
      },
    });
  }

  /** No address of the host took a session: pause it (it said "busy, later") or mark it down. */
  private async hostUnusable(failure: HostUnusable): Promise<void> {
    const { reply, stage } = failure;
    const judged = reply && stage ? this.judge(stage, reply) : undefined;
    if (reply && judged?.refusesUs) this.deps.events?.onClientAnswer?.(this.mx, { refusesUs: true, reply });
    if (reply && judged?.senderBlock?.severity === 'block') {
      // Refused at the greeting or EHLO for who we are (our IP listed): rest this identity here.
      const rest = await this.tripBreaker(judged.senderBlock, reply, new Set());
      this.handBackResting(this.queue.splice(0), rest);
      return;
    }
    if (reply && stage && judged?.senderBlock?.severity === 'throttle') {
      const pause = await this.pauseServer(reply, stage);
      this.noteThrottle(judged.senderBlock, reply, pause, new Set());
      this.defer(this.queue.splice(0), pause);
      return;
    }
    if (reply && stage && judged?.pause) {
      // "Busy, come back later" before any RCPT: pause the server, do not reconnect in a loop.
      this.defer(this.queue.splice(0), await this.pauseServer(reply, stage));
      return;
    }
    this.markDown(failure.detail, failure.cause, reply);
  }

  /** The MAIL FROM command for this session, or null when our sender cannot be sent (every queued probe is told why). */
  private mailCommand(session: PooledSession<WindowItem>): string | null {
    try {
      return mailFrom(this.deps.settings.mailFrom, { smtputf8: session.supportsSmtputf8 });
    } catch (err) {
      const detail = `Our sender address cannot be sent to ${this.mx}: ${(err as Error).message}`;
      this.deps.logger.error({ mx: this.mx, err: (err as Error).message }, 'MAIL FROM cannot be built; the probes queued for this MX are given up');
      this.failQueued({ kind: 'gave-up', mx: this.mx, reason: 'smtp_error', detail, retryable: false });
      return null;
    }
  }

  /**
   * Sends one window and acts on its replies. Every item of the window is settled when this
   * resolves: answered (held until the session shows it stayed in step), deferred for a pause, put
   * back for a new transaction or session, or given up. `end` says how the session must end, if it
   * must; `lost` that it was lost with items unanswered; `stop` that the runner must stop.
   */
  private async sendWindow(
    session: PooledSession<WindowItem>,
    plan: Extract<WindowPlan, { kind: 'window' }>,
    window: WindowItem[],
    mailCommand: string,
  ): Promise<WindowOutcome> {
    const s = this.deps.settings;
    const granted = await this.deps.rateLimiter.take(this.limitKey, window.length, this.policy.rcptRate).catch((err: unknown) => {
      this.putBack(window);
      throw err;
    });
    if (granted < window.length) this.putBack(window.splice(granted));
    for (const item of window) {
      const listId = itemList(item);
      if (!session.lists.has(listId)) {
        session.lists.add(listId);
        this.deps.events?.onSessionForList?.(this.mx, listId);
        this.deps.events?.onIdentityActivity?.({ listId, identity: this.identity, provider: this.providerSlug, what: 'session' });
      }
    }
    const { commands, prefix } = windowCommands(plan, { rset: rset(), mail: mailCommand, rcpts: window.map((item) => rcptTo(windowAddress(item))), quit: quit() });

    const exchangeStarted = this.now();
    let { replies, failure } = await session.exchange(commands);
    if (failure?.code === 'SMTP_DESYNC') {
      // Out of step: no reply of this window (nor of the held one before it) can be trusted to
      // belong to its address. All of them are asked again, on a new session without pipelining.
      this.noteDesync(failure.message);
      session.release(false, failure.message);
      replies = [];
    } else session.release(true);
    this.deps.events?.onExchange?.(this.mx, new Set(window.map(itemList)), this.now() - exchangeStarted);
    const endHow: SessionEnd = failure ? 'drop' : plan.quitInGroup ? 'quit-sent' : 'quit';

    // Transaction set-up replies.
    const setup = readSetup(replies, prefix);
    session.noteSetup(plan, replies.length, prefix, setup.errors, setup.refused !== null);
    if (plan.mail) session.acceptedInTransaction = 0;
    if (setup.refused) {
      const refused = setup.refused;
      const judged = this.judge('mail', refused);
      const lists = new Set(window.map(itemList));
      if (judged.pause) {
        // "Try again later" / a rate limit at MAIL FROM: the server is slowing us down.
        const pause = await this.pauseServer(refused, 'mail');
        if (judged.senderBlock) this.noteThrottle(judged.senderBlock, refused, pause, lists);
        this.deferItems(window, pause);
        return { progressed: true, end: endHow, stop: true };
      }
      if (judged.refusesUs) this.deps.events?.onClientAnswer?.(this.mx, { refusesUs: true, reply: refused });
      if (judged.senderBlock) {
        // Our sender or IP is blocked (Outlook.com's S3140 at MAIL FROM): nothing of the window was
        // asked; this identity rests here and the probes go to another identity or wait.
        this.stats.errors += 1;
        const rest = await this.tripBreaker(judged.senderBlock, refused, lists);
        this.handBackRestingItems(window, rest);
        return { progressed: true, end: endHow, stop: true };
      }
      const meaning = senderRefusedMeaning(refused);
      session.budget.errors += Math.max(0, replies.length - prefix);
      this.stats.errors += 1;
      for (const item of window) this.finishUnanswered(item, { kind: 'gave-up', mx: this.mx, reason: meaning.reason, detail: meaning.detail, reply: refused, retryable: meaning.retryable });
      // The same sender will be refused for every queued address on this host.
      if (meaning.permanent) this.failQueued({ kind: 'gave-up', mx: this.mx, reason: meaning.reason, detail: meaning.detail, reply: refused, retryable: false });
      return { progressed: true, end: endHow };
    }

    const reading = readRcpts(window, replies, prefix, (item) => ({ recipient: windowAddress(item), sender: s.mailFrom }), this.providerContext);
    const rcptsByList = new Map<string, number>();
    for (const { item, reply, meaning } of reading.replied) {
      this.deps.events?.onReply?.(this.mx, itemList(item), reply.code);
      if (!meaning.pause) this.deps.events?.onClientAnswer?.(this.mx, { refusesUs: meaning.refusesUs, reply });
      rcptsByList.set(itemList(item), (rcptsByList.get(itemList(item)) ?? 0) + 1);
    }
    for (const [listId, count] of rcptsByList) this.deps.events?.onIdentityActivity?.({ listId, identity: this.identity, provider: this.providerSlug, what: 'rcpt', count });
    this.stats.rcpts += reading.replied.length;
    this.stats.errors += reading.errors;
    const limits = this.windowLimits();
    // RCPTs the server accepted in this transaction before its first "too many recipients".
    const first452 = reading.replied.findIndex((r) => r.meaning.replyClass.kind === 'too_many_recipients');
    const acceptedBefore = reading.replied.slice(0, first452 < 0 ? reading.replied.length : first452).filter((r) => r.reply.code < 300).length;
    if (reading.restartTransaction && limits.maxRcptPerTransaction > 1) await this.learnRcptPerTransaction(session.acceptedInTransaction + acceptedBefore);
    session.acceptedInTransaction += reading.replied.filter((r) => r.reply.code < 300).length;
    session.noteRcpts(reading.replied.length, reading.errors, reading.restartTransaction, this.windowLimits().maxRcptPerTransaction);

    // What the host says about us does not depend on which reply belongs to which address: learnt now.
    this.notePolicy(reading.answered.map(({ item, reply, meaning }) => ({ domain: itemDomain(item), reply, replyClass: meaning.replyClass })));
    // A probe answered with a block signature was refused because of us, not its mailbox: it is
    // asked again through another identity (or waits, or becomes policy_block when none is left:
    // smtp-verifier.ts), never settled with this answer.
    const refusedForUs = reading.answered.filter((a) => a.item.kind === 'probe' && a.meaning.senderBlock?.severity === 'block');
    const answered = reading.answered.filter((a) => !refusedForUs.includes(a));
    if (answered.length > 0) {
      const items = answered.map((a) => a.item);
      for (const item of items) item.settled = true;
      session.hold(items, () => {
        for (const { item, reply, meaning } of answered) this.settleAnswered(item, reply, meaning.replyClass);
      });
    }

    if (reading.blocked) {
      // A block signature (our IP listed or banned): the answered rows keep their policy_block
      // verdicts (held above); nothing more goes to this (provider or server, identity) until the
      // breaker's rest ends: the rest of the window and the queue go to another identity or wait.
      const signature = reading.blocked.meaning.senderBlock as BlockSignature;
      const rest = await this.tripBreaker(signature, reading.blocked.reply, new Set(window.map(itemList)));
      this.handBackRestingItems([...refusedForUs.map((a) => a.item), ...reading.throttled, ...reading.unanswered], rest);
      return { progressed: true, end: failure ? 'drop' : endHow === 'quit-sent' ? 'quit-sent' : 'quit', stop: true };
    }

    // A 421 that closed the session because of our rate ("try again later", "too many connections").
    const closing = failure?.code === 'SMTP_SERVICE_CLOSING' ? failure.context.reply : undefined;
    const closingJudged = closing ? this.judge('rcpt', closing) : undefined;
    const throttle = reading.throttle ?? (closing && closingJudged?.pause ? closing : null);
    if (throttle) {
      if (failure) {
        // The server closed the session (a 421): a reconnect, after the pause.
        this.stats.reconnects += 1;
        for (const listId of session.lists) this.deps.events?.onReconnect?.(this.mx, listId);
      }
      const pause = await this.pauseServer(throttle, 'rcpt');
      const signature = this.judge('rcpt', throttle).senderBlock;
      if (signature) this.noteThrottle(signature, throttle, pause, new Set(window.map(itemList)));
      this.deferItems([...reading.throttled, ...reading.unanswered], pause);
      return { progressed: true, end: endHow, stop: true };
    }

    if (failure || reading.closing) {
      // The session is over (RFC 5321 §3.8: a dropped connection counts as a 451). Only sessions
      // that lost everything count towards giving up on the host: one that closes after every
      // N commands still makes progress, just slowly and with a backoff each time.
      const sessionHadAnswers = session.answered > 0 || replies.length > prefix;
      this.stats.reconnects += 1;
      for (const listId of session.lists) this.deps.events?.onReconnect?.(this.mx, listId);
      const why = reading.closing ? `the server closed the session: ${reading.closing.raw}` : (failure?.message ?? 'connection lost');
      this.deps.logger.warn({ mx: this.mx, unanswered: reading.unanswered.length, why }, 'SMTP session lost; unanswered addresses go back to the queue');
      const lost = lostSessionMeaning(failure?.code === 'SMTP_TIMEOUT' ? 'session-timeout' : failure?.code === 'SMTP_PROTOCOL' || failure?.code === 'SMTP_DESYNC' ? 'protocol-error' : 'session-dropped');
      for (const item of reading.unanswered) this.requeueLost(item, lost.reason, why);
      return { progressed: replies.length > 0, end: 'drop', lost: { why, hostCause: lost.hostCause, sessionHadAnswers } };
    }
    session.answered += window.length - reading.unanswered.length;
    // Unanswered only because of 452 4.5.3: retry first, in a new transaction.
    if (reading.unanswered.length > 0) this.putBack(reading.unanswered);
    // QUIT went with the window: wait for the server to close (so it counts the session as over
    // before we open the next), then start afresh.
    return { progressed: true, end: plan.quitInGroup ? 'quit-sent' : undefined, inStep: true };
  }

  /** Takes up to `room` items: probes from the queue plus one catch-all probe per new domain (window-planner.ts). */
  private takeWindow(room: number, session: PooledSession<WindowItem>): WindowItem[] {
    return fillWindow<ProbeRequest, WindowItem>(
      this.queue,
      room,
      (request) => {
        const { domain, asciiLocal } = request.address;
        if (!asciiLocal && !session.supportsSmtputf8) {
          request.resolve({ kind: 'gave-up', mx: this.mx, reason: 'unverifiable_smtputf8', detail: `The local part is not ASCII and ${this.mx} does not support SMTPUTF8, so it cannot be asked about this mailbox.`, retryable: false });
          return 'answered';
        }
        const refused = this.refusal(domain);
        if (refused) {
          request.resolve({ kind: 'gave-up', mx: this.mx, reason: 'policy_block', detail: refused.detail, reply: refused.reply, retryable: false });
          return 'answered';
        }
        if (this.deps.catchAll.known(domain) === 'yes') {
          request.resolve({ kind: 'catch-all', mx: this.mx });
          return 'answered';
        }
        return this.deps.catchAll.needsProbe(domain) ? 'ask-after-catch-all-probe' : 'ask';
      },
      {
        probe: (request) => ({ kind: 'probe', request }),
        catchAllProbe: (request) => {
          this.deps.catchAll.claimProbe(request.address.domain);
          return { kind: 'catch-all', domain: request.address.domain, listId: request.listId };
        },
      },
    );
  }

  /**
   * Learns from the policy rejections of one answered window. Only replies the classifier says are
   * about us count, never a mailbox verdict. "Relay access denied" is about the domain: its other
   * addresses get the same answer, unless one of them was accepted in the window. Two refusals of
   * our client (blocklist, HELO, sender, client host) in a row mean the host refuses us whatever the
   * mailbox: the rest of its queue is answered with that reply instead of collecting more rejections
   * (each one counts against us). One accepted RCPT in the window proves it does not refuse us: the
   * refusals were about those recipients (Postfix check_recipient_access REJECT is a 5.7.1 too).
   */
  private notePolicy(answers: PolicyEvidence[]): void {
    const acceptedDomains = new Set(answers.filter((a) => a.replyClass.kind === 'accepted').map((a) => a.domain));
    if (acceptedDomains.size > 0) this.policyStrikes = 0;
    for (const { domain, reply, replyClass } of answers) {
      if (replyClass.kind !== 'verdict' || replyClass.reason !== 'policy_block') continue;
      if (replyClass.refuses === 'domain') {
        if (!acceptedDomains.has(domain)) {
          this.relayDenied.set(domain, { reply, detail: `${replyClass.detail} The server does not accept mail for ${domain} from us, so its other addresses were not probed.` });
        }
        continue;
      }
      if (acceptedDomains.size > 0) continue;
      this.policyStrikes += 1;
      if (this.policyStrikes >= 2) {
        this.policyBlock = {
          until: this.now() + POLICY_BLOCK_HOLD_MS,
          reply,
          detail: `${replyClass.detail} ${this.mx} refuses us for every address, so the rest were not probed.`,
        };
      }
    }
  }

  /** Replies fell out of step with our commands: never pipeline to this host again (for the pool's life); said once. */
  private noteDesync(detail: string): void {
    if (this.pipeliningOff) return;
    this.pipeliningOff = true;
    this.deps.logger.warn({ mx: this.mx, detail }, 'SMTP replies out of step with our commands: their answers were discarded and this host is probed without pipelining from now on');
  }

  private refusal(domain: string): { reply: SmtpReply; detail: string } | undefined {
    if (this.policyBlock && this.now() < this.policyBlock.until) return this.policyBlock;
    return this.relayDenied.get(domain);
  }

  private putBack(items: WindowItem[]): void {
    const requests: ProbeRequest[] = [];
    for (const item of items) {
      item.settled = true;
      if (item.kind === 'probe') requests.push(item.request);
      else this.deps.catchAll.settle(item.domain, 'unknown', true);
    }
    this.queue.unshift(...requests);
  }

  private requeueLost(item: WindowItem, reason: 'timeout' | 'smtp_error' | 'connection_failed', why: string): void {
    item.settled = true;
    if (item.kind === 'catch-all') {
      this.deps.catchAll.settle(item.domain, 'unknown', true);
      return;
    }
    item.request.losses += 1;
    if (item.request.losses >= MAX_LOSSES) {
      item.request.resolve({ kind: 'gave-up', mx: this.mx, reason, detail: `No answer from ${this.mx} after ${item.request.losses} sessions were lost (${why}).`, retryable: true });
      return;
    }
    this.queue.unshift(item.request);
  }

  private finishUnanswered(item: WindowItem, result: RcptResult): void {
    item.settled = true;
    if (item.kind === 'catch-all') this.deps.catchAll.settle(item.domain, 'unknown', true);
    else item.request.resolve(result);
  }

  /** An answered item's verdict counts (its window was in step): the catch-all state, or the probe's reply. */
  private settleAnswered(item: WindowItem, reply: SmtpReply, replyClass: ReplyClass): void {
    if (item.kind === 'catch-all') {
      const state = catchAllStateOf(replyClass);
      this.deps.catchAll.settle(item.domain, state, state === 'unknown' && reply.code < 500);
      return;
    }
    void this.answer(item.request, reply, replyClass);
  }

  /** Reports an answered probe; accepted addresses wait for their domain's catch-all answer. Never rejects. */
  private async answer(request: ProbeRequest, reply: SmtpReply, replyClass: ReplyClass): Promise<void> {
    let catchAll: CatchAllState = 'unknown';
    if (replyClass.kind === 'accepted') {
      try {
        catchAll = await this.deps.catchAll.wait(request.address.domain);
      } catch (err) {
        // Without the domain's catch-all answer the address is still accepted, only not confirmed.
        this.deps.logger.warn({ mx: this.mx, domain: request.address.domain, err: (err as Error).message }, 'catch-all answer unavailable; the address is reported without it');
      }
    }
    request.resolve({ kind: 'reply', reply, replyClass, catchAll, mx: this.mx });
  }
}

/** The session-start budget failed (Redis): not a fact about the host. */
class BudgetFailure {
  constructor(readonly cause: unknown) {}
}
