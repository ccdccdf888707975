/**
 * The window planner (probe/window-planner.ts) on its own: no Redis, no socket. How many RCPTs a
 * window holds, when RSET and MAIL FROM go first, when QUIT joins the group, when the session must
 * reconnect, and where the catch-all probe of a new domain goes.
 */
import { describe, expect, it } from 'vitest';
import { fillWindow, freshBudget, planWindow, windowCommands, type HeadDecision, type SessionBudget, type WindowLimits } from '../../src/probe/window-planner.ts';

/** The defaults: error budget 9 (under Postfix's soft limit of 10), 100 RCPTs a transaction, 20 RSETs, windows of 25. */
const LIMITS: WindowLimits = { errorBudget: 9, maxRcptPerTransaction: 100, maxRsetPerSession: 20, pipelineWindow: 25 };

function budget(change: Partial<SessionBudget>): SessionBudget {
  return { ...freshBudget(), ...change };
}

describe('planWindow', () => {
  it('a fresh session: MAIL FROM first, room = the error budget (every RCPT could be rejected)', () => {
    expect(planWindow(LIMITS, freshBudget(), { queued: 50, pipelining: true })).toEqual({ kind: 'window', room: 9, reset: false, mail: true, quitInGroup: false });
  });
  it('room never exceeds the budget left, the window size or the transaction', () => {
    expect(planWindow({ ...LIMITS, errorBudget: 100 }, budget({ inTransaction: true, rcptsInTransaction: 90 }), { queued: 50, pipelining: true })).toMatchObject({ room: 10, mail: false, reset: false });
    expect(planWindow({ ...LIMITS, errorBudget: 100 }, freshBudget(), { queued: 50, pipelining: true })).toMatchObject({ room: 25 });
    expect(planWindow(LIMITS, budget({ errors: 2, inTransaction: true, rcptsInTransaction: 10 }), { queued: 50, pipelining: true })).toMatchObject({ room: 7, mail: false });
  });
  it('a full transaction: RSET and a new MAIL FROM first, with the whole transaction as room', () => {
    expect(planWindow({ ...LIMITS, maxRcptPerTransaction: 5 }, budget({ inTransaction: true, rcptsInTransaction: 5 }), { queued: 3, pipelining: true })).toEqual({ kind: 'window', room: 5, reset: true, mail: true, quitInGroup: false });
  });
  it('reconnects at a third of the budget left, and when the RSETs run out', () => {
    expect(planWindow(LIMITS, budget({ errors: 6 }), { queued: 5, pipelining: true })).toEqual({ kind: 'reconnect', why: 'error-budget' });
    expect(planWindow({ ...LIMITS, maxRcptPerTransaction: 5 }, budget({ inTransaction: true, rcptsInTransaction: 5, rsets: 20 }), { queued: 5, pipelining: true })).toEqual({ kind: 'reconnect', why: 'rset-limit' });
  });
  it('QUIT goes in the group when little budget is left and more work waits than fits, and only when pipelining', () => {
    // 9 - 4 = 5 left: at most 5/9 of the budget (floor(45/9) = 5).
    expect(planWindow(LIMITS, budget({ errors: 4, inTransaction: true }), { queued: 20, pipelining: true })).toMatchObject({ room: 5, quitInGroup: true });
    expect(planWindow(LIMITS, budget({ errors: 4, inTransaction: true }), { queued: 5, pipelining: true })).toMatchObject({ quitInGroup: false });
    expect(planWindow(LIMITS, budget({ errors: 4, inTransaction: true }), { queued: 20, pipelining: false })).toMatchObject({ quitInGroup: false });
    expect(planWindow(LIMITS, budget({ errors: 3, inTransaction: true }), { queued: 20, pipelining: true })).toMatchObject({ quitInGroup: false });
  });
});

describe('fillWindow: probes and catch-all probes', () => {
  type Head = { address: string; decision: HeadDecision };
  const fill = (queue: Head[], room: number) =>
    fillWindow(queue, room, (h) => h.decision, { probe: (h) => h.address, catchAllProbe: (h) => `catch-all(${h.address.split('@')[1]})` });

  it('puts the catch-all probe just before the first address of its domain', () => {
    const queue: Head[] = [
      { address: 'a@x.test', decision: 'ask-after-catch-all-probe' },
      { address: 'b@x.test', decision: 'ask' },
    ];
    expect(fill(queue, 5)).toEqual(['catch-all(x.test)', 'a@x.test', 'b@x.test']);
    expect(queue).toEqual([]);
  });
  it('drops heads answered without asking and stops at the room', () => {
    const queue: Head[] = [
      { address: 'known@y.test', decision: 'answered' },
      { address: 'a@y.test', decision: 'ask' },
      { address: 'b@y.test', decision: 'ask' },
      { address: 'c@y.test', decision: 'ask' },
    ];
    expect(fill(queue, 2)).toEqual(['a@y.test', 'b@y.test']);
    expect(queue.map((h) => h.address)).toEqual(['c@y.test']);
  });
  it('never splits a catch-all probe from its address across windows unless the window would hold nothing else', () => {
    const queue: Head[] = [
      { address: 'a@y.test', decision: 'ask' },
      { address: 'a@x.test', decision: 'ask-after-catch-all-probe' },
    ];
    expect(fill(queue, 2)).toEqual(['a@y.test']);
    const alone: Head[] = [{ address: 'a@x.test', decision: 'ask-after-catch-all-probe' }];
    expect(fill(alone, 1)).toEqual(['catch-all(x.test)']);
    expect(alone).toHaveLength(1);
  });
});

describe('windowCommands', () => {
  it('orders RSET, MAIL, RCPTs, QUIT and counts the set-up', () => {
    const rcpts = ['RCPT TO:<a@x.test>', 'RCPT TO:<b@x.test>'];
    expect(windowCommands({ kind: 'window', room: 2, reset: true, mail: true, quitInGroup: true }, { rset: 'RSET', mail: 'MAIL FROM:<v@e.test>', rcpts, quit: 'QUIT' })).toEqual({
      commands: ['RSET', 'MAIL FROM:<v@e.test>', ...rcpts, 'QUIT'],
      prefix: 2,
    });
    expect(windowCommands({ kind: 'window', room: 2, reset: false, mail: false, quitInGroup: false }, { rset: 'RSET', mail: 'MAIL FROM:<v@e.test>', rcpts, quit: 'QUIT' })).toEqual({ commands: rcpts, prefix: 0 });
  });
});
