/**
 * Plans the next window of a pooled SMTP session: how many RCPTs, whether RSET and MAIL FROM go
 * first, whether QUIT goes in the same group, where the catch-all probe of a new domain goes. Pure:
 * no Redis, no socket; unit-tested on its own (test/probe/window-planner.test.ts). The rules are the
 * politeness rules of mx-session-pool.ts:
 *
 * - The error budget left decides the window: even if every RCPT in it is rejected the session stays
 *   under the server's error limit (Postfix's smtpd_soft_error_limit counts every rejected RCPT).
 *   Once only a third of the budget is left, a fresh session (two round trips) is cheaper than the
 *   tail of small windows: reconnect.
 * - At most maxRcptPerTransaction RCPTs per transaction (RFC 5321 §4.5.3.1.8), then RSET and a new
 *   MAIL FROM; at most maxRsetPerSession RSETs per session (Postfix counts RSETs beyond
 *   smtpd_junk_command_limit as errors), then reconnect.
 * - With little budget left and more work waiting, the window is the session's last: QUIT goes in the
 *   same group (RFC 2920 allows it last), saving its round trip.
 */

export interface WindowLimits {
  errorBudget: number;
  maxRcptPerTransaction: number;
  maxRsetPerSession: number;
  pipelineWindow: number;
}

/** Where one session stands: what the server has counted against us, and the open transaction. */
export interface SessionBudget {
  /** 4xx/5xx replies in this session (the server's error count). */
  errors: number;
  rsets: number;
  rcptsInTransaction: number;
  inTransaction: boolean;
}

export type WindowPlan =
  | { kind: 'reconnect'; why: 'error-budget' | 'rset-limit' }
  | {
      kind: 'window';
      /** Most RCPTs the window may hold. */
      room: number;
      /** RSET first: the transaction is full. */
      reset: boolean;
      /** MAIL FROM first: no transaction yet, or a new one after RSET. */
      mail: boolean;
      /** QUIT goes last in the group: the session ends after this window. */
      quitInGroup: boolean;
    };

export function freshBudget(): SessionBudget {
  return { errors: 0, rsets: 0, rcptsInTransaction: 0, inTransaction: false };
}

export function planWindow(limits: WindowLimits, budget: SessionBudget, next: { queued: number; pipelining: boolean }): WindowPlan {
  const budgetLeft = limits.errorBudget - budget.errors;
  if (budgetLeft <= Math.floor(limits.errorBudget / 3)) return { kind: 'reconnect', why: 'error-budget' };
  let reset = false;
  if (budget.inTransaction && budget.rcptsInTransaction >= limits.maxRcptPerTransaction) {
    if (budget.rsets >= limits.maxRsetPerSession) return { kind: 'reconnect', why: 'rset-limit' };
    reset = true;
  }
  const room = Math.min(limits.pipelineWindow, budgetLeft, limits.maxRcptPerTransaction - (reset ? 0 : budget.rcptsInTransaction));
  const quitInGroup = next.pipelining && budgetLeft <= Math.floor((limits.errorBudget * 5) / 9) && next.queued > room;
  return { kind: 'window', room, reset, mail: !budget.inTransaction || reset, quitInGroup };
}

/** What the pool says about the probe at the head of its queue. */
export type HeadDecision =
  /** Answered without asking (cached catch-all, a refusal already known, SMTPUTF8 missing): drop it. */
  | 'answered'
  | 'ask'
  /** Ask, after the catch-all probe of its domain, which goes just before it in the same window. */
  | 'ask-after-catch-all-probe';

/**
 * Takes up to `room` items from the head of the queue: probes plus one catch-all probe per new
 * domain, placed just before the domain's first address in the same window (so the verdicts of the
 * window can wait for it). A probe and its catch-all probe are never split across windows unless the
 * window would otherwise hold only the catch-all probe.
 */
export function fillWindow<Q, W>(queue: Q[], room: number, decide: (head: Q) => HeadDecision, make: { probe: (head: Q) => W; catchAllProbe: (head: Q) => W }): W[] {
  const window: W[] = [];
  while (window.length < room && queue.length > 0) {
    const head = queue[0]!;
    const decision = decide(head);
    if (decision === 'answered') {
      queue.shift();
      continue;
    }
    if (decision === 'ask-after-catch-all-probe') {
      if (window.length > 0 && window.length + 2 > room) break;
      window.push(make.catchAllProbe(head));
      if (window.length >= room) break;
    }
    window.push(make.probe(queue.shift()!));
  }
  return window;
}

/** The commands of one window, in order, and how many of them set up the transaction (RSET, MAIL). */
export function windowCommands(plan: Extract<WindowPlan, { kind: 'window' }>, commands: { rset: string; mail: string; rcpts: string[]; quit: string }): { commands: string[]; prefix: number } {
  const list: string[] = [];
  if (plan.reset) list.push(commands.rset);
  if (plan.mail) list.push(commands.mail);
  const prefix = list.length;
  list.push(...commands.rcpts);
  if (plan.quitInGroup) list.push(commands.quit);
  return { commands: list, prefix };
}
