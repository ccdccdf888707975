/**
 * One pool per MX host and process: a queue of RCPT probes served by at most `maxSessionsPerMx`
 * SMTP sessions (each holding a fleet-wide lease), reused across jobs, lists and domains that share
 * the host. This is where the politeness rules of SMTP-FACTS.md live:
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
 */
import type { Logger } from 'pino';
import type { HeloName, MailFrom } from '../config/setting-values.ts';
import { judgeReply, type ReplyStage } from '../domain/fault-owner.ts';
import { classifyReply, type ReplyClass } from '../domain/reply-classifier.ts';
import type { SmtpReply } from '../domain/smtp-reply.ts';
import type { AddressToVerify } from '../domain/verifier.ts';
import { HygieneError, isHygieneError } from '../errors.ts';
import { mailFrom, quit, rcptTo, rset } from '../smtp/smtp-commands.ts';
import { SmtpExchangeError, SmtpSession, type SmtpSessionOptions, type TranscriptEntry } from '../smtp/smtp-session.ts';
import { isProxyFailure, type SmtpConnector } from '../smtp/smtp-connector.ts';
import type { CatchAllState, ProbeResult } from '../domain/probe-verdict.ts';
import { improbableLocalPart, type CatchAllRegistry } from './catch-all-registry.ts';
import type { MxLeaseManager } from './mx-lease.ts';
import type { MxPause, MxPauseStore } from './mx-pause-store.ts';
import type { RcptRateLimiter } from './rcpt-rate-limiter.ts';
import type { ClientAnswer } from './refusal-guard.ts';
import type { SessionStartBudget } from './session-start-budget.ts';

export interface PoolSmtpSettings {
  port: number;
  heloName: HeloName;
  mailFrom: MailFrom;
  localAddress: string | undefined;
  /** The way out (the outbound identity's: direct, or a SOCKS5 proxy); default direct from localAddress. */
  connector?: SmtpConnector;
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
/** Why a host could not be used: decides the final reason when every MX fails. */
/** 'busy': a 4xx greeting or EHLO (421 too many connections, 450 try later): ask again later. */
export type HostFailureCause = 'timeout' | 'refused' | 'protocol' | 'rejected' | 'busy';
export type RcptResult =
  | ProbeResult
  | { kind: 'host-failed'; mx: string; detail: string; cause: HostFailureCause; reply?: SmtpReply }
  /** Not asked: the server is paused (it slowed us down); ask again when the pause ends. */
  | { kind: 'paused'; mx: string; pause: MxPause };

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
}

export interface MxSessionPoolDeps {
  settings: PoolSmtpSettings;
  leases: MxLeaseManager;
  rateLimiter: RcptRateLimiter;
  /** Fleet-wide pauses of servers that slow us down. */
  pauses: MxPauseStore;
  /** Fleet-wide budget of session starts per server. */
  sessionStarts: SessionStartBudget;
  catchAll: CatchAllRegistry;
  logger: Logger;
  events?: PoolEvents;
  openSession?: (options: SmtpSessionOptions) => Promise<SmtpSession>;
  now?: () => number;
}

/** How long a host that refused us (policy) keeps its answer before we ask it again. */
const POLICY_BLOCK_HOLD_MS = 10 * 60_000;

/** Probes lost in this many dead sessions are given up (unknown) instead of being tried again. */
const MAX_LOSSES = 3;

type WindowItem =
  | { kind: 'probe'; request: ProbeRequest }
  | { kind: 'catch-all'; domain: string; listId: string };

/** One answered RCPT of a window, for notePolicy. */
interface PolicyEvidence {
  domain: string;
  reply: SmtpReply;
  replyClass: ReplyClass;
}

/** The address a window item asks about (the catch-all probe's is improbable by design). */
function windowAddress(item: WindowItem): string {
  return item.kind === 'probe' ? item.request.address.address : `${improbableLocalPart(item.domain)}@${item.domain}`;
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
  readonly stats: PoolStats = { sessions: 0, maxConcurrentSessions: 0, rcpts: 0, roundTrips: 0, reconnects: 0, errors: 0 };

  constructor(
    readonly mx: string,
    private readonly addresses: readonly string[],
    private readonly deps: MxSessionPoolDeps,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  submit(requests: ProbeRequest[]): void {
    const now = this.now();
    if (this.pause && now < this.pause.until) {
      this.defer(requests, this.pause);
      return;
    }
    if (this.closing || now < this.downUntil) {
      for (const request of requests) request.resolve(this.downResult(this.downDetail || `${this.mx} is not in use`));
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
    for (const wake of this.wakers) wake();
    while (this.runners > 0) await sleep(20);
    this.failQueued({ kind: 'host-failed', mx: this.mx, detail: 'The verifier is shutting down.', cause: 'refused' });
  }

  private now(): number {
    return (this.deps.now ?? Date.now)();
  }

  private ensureRunners(): void {
    const max = this.deps.settings.maxSessionsPerMx;
    // A second session only when there is more work than one window: fewer sessions is politer.
    while (this.runners < max && this.queue.length > 0 && (this.runners === 0 || this.queue.length > this.deps.settings.pipelineWindow * this.runners)) {
      this.runners += 1;
      void this.runner().finally(() => {
        this.runners -= 1;
        if (this.queue.length > 0 && !this.closing) this.ensureRunners();
      });
    }
  }

  private failQueued(result: RcptResult): void {
    for (const request of this.queue.splice(0)) request.resolve(result);
  }

  /** Hands queued probes back unanswered (the run stopped: a fault guard tripped). */
  abandonQueued(detail: string): void {
    this.failQueued({ kind: 'gave-up', mx: this.mx, reason: 'smtp_error', detail, retryable: false });
  }

  /** The server's key for fleet-wide state (lease, pause, session starts): its first address. */
  private get server(): string {
    return this.addresses[0] ?? this.mx;
  }

  /** Sends probes back as 'paused' (the worker retries them when the pause ends). */
  private defer(requests: ProbeRequest[], pause: MxPause): void {
    if (requests.length === 0) return;
    const byList = new Map<string, number>();
    for (const request of requests) {
      byList.set(request.listId, (byList.get(request.listId) ?? 0) + 1);
      request.resolve({ kind: 'paused', mx: this.mx, pause });
    }
    this.deps.events?.onPause?.(this.mx, byList, pause);
  }

  /** Window items go back too: probes deferred, catch-all probes left for a later session. */
  private deferItems(items: WindowItem[], pause: MxPause): void {
    const requests: ProbeRequest[] = [];
    for (const item of items) {
      if (item.kind === 'probe') requests.push(item.request);
      else this.deps.catchAll.settle(item.domain, 'unknown', true);
    }
    this.defer([...requests, ...this.queue.splice(0)], pause);
  }

  /** The pause in force (another process's too), or null. One Redis read. */
  private async pauseInForce(): Promise<MxPause | null> {
    const pause = await this.deps.pauses.current(this.server);
    this.pause = pause;
    return pause;
  }

  /** The server slowed us down: pause it fleet-wide. */
  private async pauseServer(reply: SmtpReply, stage: ReplyStage): Promise<MxPause> {
    const reason = reply.raw.replace(/\r?\n/g, ' | ');
    const pause = await this.deps.pauses.pause(this.server, {
      reason,
      kind: judgeReply(stage, reply).owner === 'us' ? 'rate' : 'busy',
      detail: `${this.mx} asked us to slow down at ${stage === 'rcpt' ? 'RCPT TO' : stage === 'mail' ? 'MAIL FROM' : stage === 'ehlo' ? 'EHLO' : 'the greeting'} (${reason})`,
    });
    this.pause = pause;
    this.deps.logger.warn({ mx: this.mx, server: this.server, until: new Date(pause.until).toISOString(), level: pause.level, reply: reason }, 'MX paused fleet-wide: it slowed us down');
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

  private async openSession(): Promise<SmtpSession> {
    const s = this.deps.settings;
    const failures: string[] = [];
    const causes = new Set<HostFailureCause>();
    let rejection: SmtpReply | undefined;
    let rejectionStage: ReplyStage | undefined;
    for (const host of this.addresses) {
      const open = async (tls: SmtpSessionOptions['tls']): Promise<SmtpSession> => {
        // Every connect attempt, whatever its reason, spends the server's fleet-wide budget.
        if (!(await this.deps.sessionStarts.take(this.server, this.abort.signal))) throw new HygieneError('SMTP_CLOSED', 'The verifier is shutting down.');
        return (this.deps.openSession ?? SmtpSession.open)({
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
      };
      try {
        let session: SmtpSession;
        try {
          session = await open(this.plaintextOnly && s.tls === 'opportunistic' ? 'off' : s.tls);
        } catch (err) {
          // Opportunistic TLS that fails the handshake: reconnect in plain text, as an MTA would.
          if (!isHygieneError(err, 'SMTP_TLS_FAILED') || s.tls !== 'opportunistic') throw err;
          this.deps.logger.info({ mx: this.mx, err: err.message }, 'STARTTLS failed; continuing without TLS');
          this.plaintextOnly = true;
          session = await open('off');
        }
        this.deps.events?.onConnectResult?.(this.mx, host, { ok: true, timeout: false });
        return session;
      } catch (err) {
        const coded = isHygieneError(err) ? err : new HygieneError('SMTP_CONNECT_FAILED', String(err));
        // A proxy's own failure reached no MX: never "ok" for the port-25 guard (the proxy guard judges it).
        const tcpFailed = coded.code === 'SMTP_CONNECT_FAILED' || isProxyFailure(coded) || (coded.code === 'SMTP_TIMEOUT' && coded.context.phase === 'connect');
        this.deps.events?.onConnectResult?.(this.mx, host, { ok: !tcpFailed, timeout: tcpFailed && coded.code === 'SMTP_TIMEOUT' });
        failures.push(`${host}: ${coded.message}`);
        const reply = coded.context.reply as SmtpReply | undefined;
        if (reply && rejection === undefined && (coded.code === 'SMTP_GREETING_REJECTED' || coded.code === 'SMTP_EHLO_REJECTED')) {
          rejectionStage = coded.code === 'SMTP_GREETING_REJECTED' ? 'greeting' : 'ehlo';
        }
        if (coded.code === 'SMTP_TIMEOUT') causes.add('timeout');
        else if (coded.code === 'SMTP_PROTOCOL') causes.add('protocol');
        else if ((coded.code === 'SMTP_GREETING_REJECTED' || coded.code === 'SMTP_EHLO_REJECTED') && reply && reply.code >= 500) {
          causes.add('rejected');
          rejection ??= reply;
        } else if ((coded.code === 'SMTP_GREETING_REJECTED' || coded.code === 'SMTP_EHLO_REJECTED') && reply && reply.code >= 400) {
          causes.add('busy');
          rejection ??= reply;
        } else causes.add('refused');
        // A rejected greeting (or certificate) is the host speaking for itself: its other addresses will say the same.
        if (coded.code === 'SMTP_GREETING_REJECTED' || coded.code === 'SMTP_TLS_REQUIRED' || coded.context.certificate === true) break;
      }
    }
    const cause: HostFailureCause = causes.size === 1 ? [...causes][0]! : causes.has('rejected') ? 'rejected' : causes.has('busy') ? 'busy' : 'refused';
    throw new HygieneError(cause === 'timeout' ? 'SMTP_TIMEOUT' : 'SMTP_CONNECT_FAILED', `${this.mx} (${failures.join('; ')})`, { mx: this.mx, cause, reply: rejection, stage: rejectionStage });
  }

  private async runner(): Promise<void> {
    const s = this.deps.settings;
    // Leases are keyed by the server's first address, not its name: two MX names for one machine
    // (shared hosting) share its session limit, which is what the server counts.
    const lease = await this.deps.leases.acquire(this.addresses[0] ?? this.mx, this.abort.signal);
    if (!lease) return;
    let session: SmtpSession | null = null;
    let sessionStarted = 0;
    const listsServed = new Set<string>();
    let errors = 0;
    let rsets = 0;
    let rcptsInTransaction = 0;
    let inTransaction = false;
    let consecutiveLosses = 0;
    let answeredInSession = 0;
    /**
     * The verdicts of the last answered window, held until the session shows its replies were in
     * step after it: the next window's replies fit, QUIT got its 221, or nothing came late while the
     * session settled before idling. A server that answered one command twice shows it only by an
     * extra reply later; then this window is probed again instead of keeping shifted verdicts.
     */
    let held: { items: WindowItem[]; commit: () => void } | null = null;
    const release = (inStep: boolean, why = ''): void => {
      const window = held;
      held = null;
      if (!window) return;
      if (inStep) window.commit();
      else for (const item of window.items) this.requeueLost(item, 'smtp_error', why);
    };

    /** 'quit': send QUIT and wait; 'quit-sent': QUIT went in the last group, wait for the close; 'drop': just close. */
    const endSession = async (how: 'quit' | 'quit-sent' | 'drop'): Promise<void> => {
      if (!session) return;
      const closing = session;
      session = null;
      this.stats.roundTrips += closing.roundTrips + (how === 'quit' && !closing.closed ? 1 : 0);
      if (how === 'quit') await closing.quit();
      else if (how === 'quit-sent') await closing.closeAfterQuit();
      else closing.close();
      const desync = closing.closeReason?.code === 'SMTP_DESYNC' ? closing.closeReason : undefined;
      if (desync) this.noteDesync(desync.message);
      release(!desync, desync?.message);
      this.activeSessions -= 1;
      this.deps.events?.onSessionClosed?.(this.mx, new Set(listsServed), this.now() - sessionStarted);
      listsServed.clear();
    };

    try {
      for (;;) {
        if (this.queue.length === 0) {
          if (session && held) {
            // About to idle: a late extra reply gets one round trip to show itself before the last
            // window's verdicts count.
            await (session as SmtpSession).settle();
            if ((session as SmtpSession).closed) await endSession('drop');
            else release(true);
          }
          await this.waitForWork(session ? s.idleSessionMs : 0);
          if (this.queue.length === 0 || this.closing) break;
        }
        // The server may have closed on its own (idle timeout, unsolicited 421) while we waited.
        if (session && (session as SmtpSession).closed) await endSession('drop');
        if (this.now() < this.downUntil) {
          this.failQueued(this.downResult(this.downDetail));
          break;
        }
        // A pause set by any process of the fleet holds before every session and every window.
        const paused = await this.pauseInForce();
        if (paused) {
          this.defer(this.queue.splice(0), paused);
          break;
        }
        if (!session) {
          try {
            session = await this.openSession();
          } catch (err) {
            const coded = err as HygieneError;
            const reply = coded.context.reply as SmtpReply | undefined;
            const stage = coded.context.stage as ReplyStage | undefined;
            const judged = reply && stage ? judgeReply(stage, reply) : undefined;
            if (reply && judged?.refusesUs) this.deps.events?.onClientAnswer?.(this.mx, { refusesUs: true, reply });
            if (reply && stage && judged?.pause) {
              // "Busy, come back later" before any RCPT: pause the server, do not reconnect in a loop.
              this.defer(this.queue.splice(0), await this.pauseServer(reply, stage));
              break;
            }
            this.markDown(coded.message, (coded.context.cause as HostFailureCause | undefined) ?? 'refused', reply);
            break;
          }
          sessionStarted = this.now();
          this.activeSessions += 1;
          this.stats.sessions += 1;
          this.stats.maxConcurrentSessions = Math.max(this.stats.maxConcurrentSessions, this.activeSessions);
          errors = 0;
          rsets = 0;
          rcptsInTransaction = 0;
          inTransaction = false;
          answeredInSession = 0;
        }

        // Budget left decides the window: even if every RCPT in it is rejected we stay under the limit.
        // Once only a third of the budget is left, windows get so small that a fresh session (two
        // round trips) is cheaper than the tail of small windows: reconnect then.
        const budgetLeft = s.errorBudget - errors;
        if (budgetLeft <= Math.floor(s.errorBudget / 3)) {
          await endSession('quit');
          continue;
        }
        let needReset = false;
        if (inTransaction && rcptsInTransaction >= s.maxRcptPerTransaction) {
          if (rsets >= s.maxRsetPerSession) {
            await endSession('quit');
            continue;
          }
          needReset = true;
        }
        const room = Math.min(s.pipelineWindow, budgetLeft, s.maxRcptPerTransaction - (needReset ? 0 : rcptsInTransaction));
        const current = session as SmtpSession;
        // With little budget left and more work waiting, this window is the session's last: QUIT goes
        // in the same group (RFC 2920 allows it last), saving the QUIT round trip. Whatever the
        // window's answers, the session ends after it and a fresh one takes the rest.
        const finalWindow = current.supportsPipelining && budgetLeft <= Math.floor((s.errorBudget * 5) / 9) && this.queue.length > room;
        const window = this.takeWindow(room, current);
        if (window.length === 0) continue;
        const granted = await this.deps.rateLimiter.take(this.mx, window.length);
        if (granted < window.length) this.putBack(window.splice(granted));

        const commands: string[] = [];
        if (needReset) commands.push(rset());
        if (!inTransaction || needReset) commands.push(mailFrom(s.mailFrom, { smtputf8: current.supportsSmtputf8 }));
        const prefix = commands.length;
        for (const item of window) {
          commands.push(rcptTo(windowAddress(item)));
          const listId = item.kind === 'probe' ? item.request.listId : item.listId;
          if (!listsServed.has(listId)) {
            listsServed.add(listId);
            this.deps.events?.onSessionForList?.(this.mx, listId);
          }
        }
        if (finalWindow) commands.push(quit());

        let replies: SmtpReply[];
        let failure: SmtpExchangeError | null = null;
        const exchangeStarted = this.now();
        try {
          replies = await current.exchange(commands);
        } catch (err) {
          failure = err instanceof SmtpExchangeError ? err : new SmtpExchangeError('SMTP_PROTOCOL', String(err), []);
          replies = failure.answered;
        }
        if (failure?.code === 'SMTP_DESYNC') {
          // Out of step: no reply of this window (nor of the held one before it) can be trusted to
          // belong to its address. All of them are asked again, on a new session without pipelining.
          this.noteDesync(failure.message);
          release(false, failure.message);
          replies = [];
        } else release(true);
        this.deps.events?.onExchange?.(this.mx, windowLists(window), this.now() - exchangeStarted);

        // Transaction set-up replies.
        let setupFailed: SmtpReply | null = null;
        for (let i = 0; i < prefix && i < replies.length; i++) {
          const reply = replies[i]!;
          if (reply.code >= 400) {
            errors += 1;
            setupFailed ??= reply;
          }
        }
        if (needReset && replies.length > 0) rsets += 1;
        if (replies.length >= prefix && !setupFailed) {
          inTransaction = true;
          if (needReset) rcptsInTransaction = 0;
        }

        if (setupFailed) {
          const judged = judgeReply('mail', setupFailed);
          if (judged.pause) {
            // "Try again later" / a rate limit at MAIL FROM: the server is slowing us down.
            this.deferItems(window, await this.pauseServer(setupFailed, 'mail'));
            await endSession(failure ? 'drop' : finalWindow ? 'quit-sent' : 'quit');
            continue;
          }
          if (judged.refusesUs) this.deps.events?.onClientAnswer?.(this.mx, { refusesUs: true, reply: setupFailed });
          // MAIL FROM (or RSET) refused: every RCPT of the group was answered "need MAIL" or worse,
          // and the refusal is about our sender, not the mailboxes (SMTP-FACTS: policy).
          const mailClass = classifyReply('MAIL', setupFailed);
          const permanent = setupFailed.code >= 500;
          errors += Math.max(0, replies.length - prefix);
          this.stats.errors += 1;
          for (const item of window) this.finishUnanswered(item, { kind: 'gave-up', mx: this.mx, reason: 'policy_block', detail: `The server refused our sender: ${mailClass.detail}`, reply: setupFailed, retryable: !permanent });
          if (permanent) {
            // The same sender will be refused for every queued address on this host.
            this.failQueued({ kind: 'gave-up', mx: this.mx, reason: 'policy_block', detail: `The server refused our sender: ${mailClass.detail}`, reply: setupFailed, retryable: false });
          }
          await endSession(failure ? 'drop' : finalWindow ? 'quit-sent' : 'quit');
          continue;
        }

        let restartTransaction = false;
        let closingReply: SmtpReply | null = null;
        /** The first reply that slowed us down (rate limit): it and every item after it wait for the pause. */
        let throttle: SmtpReply | null = null;
        const unanswered: WindowItem[] = [];
        const throttled: WindowItem[] = [];
        const answers: PolicyEvidence[] = [];
        const answered: WindowItem[] = [];
        const verdicts: Array<() => void> = [];
        window.forEach((item, i) => {
          const reply = replies[prefix + i];
          if (!reply) {
            unanswered.push(item);
            return;
          }
          const listId = item.kind === 'probe' ? item.request.listId : item.listId;
          this.deps.events?.onReply?.(this.mx, listId, reply.code);
          this.stats.rcpts += 1;
          rcptsInTransaction += 1;
          if (reply.code >= 400) {
            errors += 1;
            this.stats.errors += 1;
          }
          const judged = judgeReply('rcpt', reply);
          if (judged.pause) {
            // Not an answer about the mailbox: it is asked again after the pause, never in a loop.
            throttle ??= reply;
            throttled.push(item);
            return;
          }
          this.deps.events?.onClientAnswer?.(this.mx, { refusesUs: judged.refusesUs, reply });
          const replyClass = classifyReply('RCPT', reply, { recipient: windowAddress(item), sender: s.mailFrom });
          if (replyClass.kind === 'too_many_recipients') {
            restartTransaction = true;
            unanswered.push(item);
            return;
          }
          if (replyClass.kind === 'service_closing') {
            closingReply = reply;
            unanswered.push(item);
            return;
          }
          answers.push({ domain: item.kind === 'catch-all' ? item.domain : item.request.address.domain, reply, replyClass });
          answered.push(item);
          if (item.kind === 'catch-all') {
            const state = catchAllFrom(replyClass);
            verdicts.push(() => this.deps.catchAll.settle(item.domain, state, state === 'unknown' && reply.code < 500));
            return;
          }
          verdicts.push(() => void this.answer(item.request, reply, replyClass));
        });
        // What the host says about us does not depend on which reply belongs to which address: learnt now.
        this.notePolicy(answers);
        if (answered.length > 0) held = { items: answered, commit: () => verdicts.forEach((settle) => settle()) };
        if (restartTransaction) rcptsInTransaction = s.maxRcptPerTransaction;

        // A 421 that closed the session because of our rate ("try again later", "too many connections").
        const closing = failure?.code === 'SMTP_SERVICE_CLOSING' ? (failure.context.reply as SmtpReply | undefined) : undefined;
        if (!throttle && closing && judgeReply('rcpt', closing).pause) throttle = closing;
        if (throttle) {
          if (failure) {
            // The server closed the session (a 421): a reconnect, after the pause.
            this.stats.reconnects += 1;
            for (const listId of listsServed) this.deps.events?.onReconnect?.(this.mx, listId);
          }
          this.deferItems([...throttled, ...unanswered], await this.pauseServer(throttle, 'rcpt'));
          await endSession(failure ? 'drop' : finalWindow ? 'quit-sent' : 'quit');
          continue;
        }

        if (failure || closingReply) {
          // The session is over (RFC 5321 §3.8: a dropped connection counts as a 451). Only sessions
          // that lost everything count towards giving up on the host: one that closes after every
          // N commands still makes progress, just slowly and with a backoff each time.
          consecutiveLosses = answeredInSession > 0 || replies.length > prefix ? 1 : consecutiveLosses + 1;
          this.stats.reconnects += 1;
          for (const listId of listsServed) this.deps.events?.onReconnect?.(this.mx, listId);
          const why = closingReply ? `the server closed the session: ${(closingReply as SmtpReply).raw}` : (failure?.message ?? 'connection lost');
          this.deps.logger.warn({ mx: this.mx, unanswered: unanswered.length, why }, 'SMTP session lost; unanswered addresses go back to the queue');
          const lostReason = failure?.code === 'SMTP_TIMEOUT' ? 'timeout' : failure?.code === 'SMTP_PROTOCOL' || failure?.code === 'SMTP_DESYNC' ? 'smtp_error' : 'connection_failed';
          for (const item of unanswered) this.requeueLost(item, lostReason, why);
          await endSession('drop');
          if (consecutiveLosses >= MAX_LOSSES) {
            this.markDown(`${this.mx}: ${consecutiveLosses} sessions in a row were lost (${why})`, failure?.code === 'SMTP_TIMEOUT' ? 'timeout' : failure?.code === 'SMTP_PROTOCOL' || failure?.code === 'SMTP_DESYNC' ? 'protocol' : 'refused');
            break;
          }
          // Back off before reconnecting (SMTP-FACTS politeness: back off on 421 and on drops).
          await sleep(Math.min(s.backoffMs * consecutiveLosses, 60_000), this.abort.signal);
          continue;
        }
        consecutiveLosses = 0;
        answeredInSession += window.length - unanswered.length;
        // QUIT went with the window: wait for the server to close (so it counts the session as over
        // before we open the next), then start afresh.
        if (finalWindow) await endSession('quit-sent');
        // Unanswered only because of 452 4.5.3: retry first, in a new transaction.
        if (unanswered.length > 0) this.putBack(unanswered);
      }
    } catch (err) {
      this.deps.logger.error({ mx: this.mx, err }, 'SMTP runner failed');
      this.failQueued({ kind: 'gave-up', mx: this.mx, reason: 'smtp_error', detail: `Unexpected error while probing ${this.mx}: ${(err as Error).message}`, retryable: true });
    } finally {
      await endSession('quit').catch(() => undefined);
      // endSession released the held window; never leave one unsettled.
      release(true);
      await lease.release();
    }
  }

  /** Takes up to `room` items: probes from the queue plus one catch-all probe per new domain. */
  private takeWindow(room: number, session: SmtpSession): WindowItem[] {
    const window: WindowItem[] = [];
    while (window.length < room && this.queue.length > 0) {
      const request = this.queue[0]!;
      const { domain, asciiLocal } = request.address;
      if (!asciiLocal && !session.supportsSmtputf8) {
        this.queue.shift();
        request.resolve({ kind: 'gave-up', mx: this.mx, reason: 'unverifiable_smtputf8', detail: `The local part is not ASCII and ${this.mx} does not support SMTPUTF8, so it cannot be asked about this mailbox.`, retryable: false });
        continue;
      }
      const refused = this.refusal(domain);
      if (refused) {
        this.queue.shift();
        request.resolve({ kind: 'gave-up', mx: this.mx, reason: 'policy_block', detail: refused.detail, reply: refused.reply, retryable: false });
        continue;
      }
      if (this.deps.catchAll.known(domain) === 'yes') {
        this.queue.shift();
        request.resolve({ kind: 'catch-all', mx: this.mx });
        continue;
      }
      if (this.deps.catchAll.needsProbe(domain)) {
        // The probe goes just before the domain's first address, in the same window.
        if (window.length > 0 && window.length + 2 > room) break;
        this.deps.catchAll.claimProbe(domain);
        window.push({ kind: 'catch-all', domain, listId: request.listId });
        if (window.length >= room) break;
      }
      window.push({ kind: 'probe', request: this.queue.shift()! });
    }
    return window;
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
      if (item.kind === 'probe') requests.push(item.request);
      else this.deps.catchAll.settle(item.domain, 'unknown', true);
    }
    this.queue.unshift(...requests);
  }

  private requeueLost(item: WindowItem, reason: 'timeout' | 'smtp_error' | 'connection_failed', why: string): void {
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
    if (item.kind === 'catch-all') this.deps.catchAll.settle(item.domain, 'unknown', true);
    else item.request.resolve(result);
  }

  /** Reports an answered probe; accepted addresses wait for their domain's catch-all answer. */
  private async answer(request: ProbeRequest, reply: SmtpReply, replyClass: ReplyClass): Promise<void> {
    const catchAll = replyClass.kind === 'accepted' ? await this.deps.catchAll.wait(request.address.domain) : 'unknown';
    request.resolve({ kind: 'reply', reply, replyClass, catchAll, mx: this.mx });
  }
}

function windowLists(window: WindowItem[]): Set<string> {
  return new Set(window.map((item) => (item.kind === 'probe' ? item.request.listId : item.listId)));
}

function catchAllFrom(replyClass: ReplyClass): CatchAllState {
  if (replyClass.kind === 'accepted') return 'yes';
  if (replyClass.kind === 'verdict' && replyClass.reason === 'mailbox_not_found') return 'no';
  return 'unknown';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
