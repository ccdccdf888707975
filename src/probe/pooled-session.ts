/**
 * One pooled SMTP session's life (the scheduling side is mx-session-pool.ts; like nodemailer's
 * smtp-pool/pool-resource.js beside smtp-pool/index.js): its error budget and transaction state,
 * the window in flight, the verdicts held until the session shows it stayed in step, and how it
 * ends. Knows nothing of Redis, leases or the queue: the pool hands it windows and tells it what to
 * do with what it cannot settle itself (`requeue`).
 */
import { SmtpExchangeError, type SmtpSession } from '../smtp/smtp-session.ts';
import type { SmtpReply } from '../domain/smtp-reply.ts';
import { freshBudget, planWindow, type SessionBudget, type WindowLimits, type WindowPlan } from './window-planner.ts';

/** 'quit': send QUIT and wait; 'quit-sent': QUIT went in the last group, wait for the close; 'drop': just close. */
export type SessionEnd = 'quit' | 'quit-sent' | 'drop';

export interface PooledSessionHooks<W> {
  /** The replies fell out of step with our commands (SMTP_DESYNC). */
  onDesync: (detail: string) => void;
  /** Items of a held window whose answers cannot be trusted: ask them again. */
  requeue: (items: W[], why: string) => void;
  /** The session is over (for the pool's counters and events). */
  onClosed: (session: PooledSession<W>) => void;
}

export class PooledSession<W> {
  readonly budget: SessionBudget = freshBudget();
  /** Lists that had probes in this session (for per-list counters). */
  readonly lists = new Set<string>();
  /** Window items answered in this session. */
  answered = 0;
  /** RCPTs the server accepted (2xx) in the open transaction: what it took before a "too many recipients". */
  acceptedInTransaction = 0;
  /** Round trips the session took, QUIT included (set when it ends). */
  roundTrips = 0;
  private ended = false;
  /**
   * The verdicts of the last answered window, held until the session shows its replies were in
   * step after it: the next window's replies fit, QUIT got its 221, or nothing came late while the
   * session settled before idling. A server that answered one command twice shows it only by an
   * extra reply later; then this window is probed again instead of keeping shifted verdicts.
   */
  private held: { items: W[]; commit: () => void } | null = null;

  constructor(
    readonly smtp: SmtpSession,
    readonly startedAt: number,
    private readonly hooks: PooledSessionHooks<W>,
  ) {}

  get closed(): boolean {
    return this.ended || this.smtp.closed;
  }

  get supportsPipelining(): boolean {
    return this.smtp.supportsPipelining;
  }

  get supportsSmtputf8(): boolean {
    return this.smtp.supportsSmtputf8;
  }

  plan(limits: WindowLimits, queued: number): WindowPlan {
    return planWindow(limits, this.budget, { queued, pipelining: this.smtp.supportsPipelining });
  }

  /** Sends one window; a failure mid-window comes back with the replies that did arrive. */
  async exchange(commands: string[]): Promise<{ replies: SmtpReply[]; failure: SmtpExchangeError | null }> {
    try {
      return { replies: await this.smtp.exchange(commands), failure: null };
    } catch (err) {
      const failure = err instanceof SmtpExchangeError ? err : new SmtpExchangeError('SMTP_PROTOCOL', String(err), [], {});
      return { replies: failure.answered, failure };
    }
  }

  /** The window's transaction set-up was answered: count it. */
  noteSetup(plan: Extract<WindowPlan, { kind: 'window' }>, answered: number, prefix: number, setupErrors: number, refused: boolean): void {
    this.budget.errors += setupErrors;
    if (plan.reset && answered > 0) this.budget.rsets += 1;
    if (answered >= prefix && !refused) {
      this.budget.inTransaction = true;
      if (plan.reset) this.budget.rcptsInTransaction = 0;
    }
  }

  /** RCPT replies of the window: `rcpts` answered, `errors` of them 4xx/5xx. */
  noteRcpts(rcpts: number, errors: number, restartTransaction: boolean, maxRcptPerTransaction: number): void {
    this.budget.rcptsInTransaction += rcpts;
    this.budget.errors += errors;
    if (restartTransaction) this.budget.rcptsInTransaction = maxRcptPerTransaction;
  }

  /** Holds a window's verdicts until the session shows it stayed in step. */
  hold(items: W[], commit: () => void): void {
    this.held = { items, commit };
  }

  /** Settles the held window: its verdicts count (in step), or its items are asked again. */
  release(inStep: boolean, why = ''): void {
    const window = this.held;
    this.held = null;
    if (!window) return;
    if (inStep) window.commit();
    else this.hooks.requeue(window.items, why);
  }

  get holding(): boolean {
    return this.held !== null;
  }

  /** About to idle: a late extra reply gets one round trip to show itself before the held verdicts count. */
  async settleBeforeIdle(): Promise<void> {
    if (!this.held) return;
    await this.smtp.settle();
    if (this.smtp.closed) await this.end('drop');
    else this.release(true);
  }

  /** Ends the session (once) and settles what it held. Never throws. */
  async end(how: SessionEnd): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.roundTrips = this.smtp.roundTrips + (how === 'quit' && !this.smtp.closed ? 1 : 0);
    if (how === 'quit') await this.smtp.quit();
    else if (how === 'quit-sent') await this.smtp.closeAfterQuit();
    else this.smtp.close();
    const desync = this.smtp.closeReason?.code === 'SMTP_DESYNC' ? this.smtp.closeReason : undefined;
    if (desync) this.hooks.onDesync(desync.message);
    this.release(!desync, desync?.message);
    this.hooks.onClosed(this);
  }
}
