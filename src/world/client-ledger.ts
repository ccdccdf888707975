/**
 * What one operator of simulated hosts remembers about each client IP, shared by all its hosts
 * and addresses (a provider bans or throttles an IP everywhere at once, not per MX name): events
 * in sliding time windows (anvil-like rate limits), RCPTs counted towards a block, and sticky
 * blocks. Pure bookkeeping over an injected clock; the counters the tests read are in
 * OperatorStats.
 */

export interface OperatorStats {
  /** The hosts run by this operator. */
  hosts: string[];
  sessionsOpened: number;
  currentSessions: number;
  /** Most sessions open at once across all the operator's hosts and addresses. */
  maxConcurrentSessions: number;
  rcptCount: number;
  dataSeen: number;
  /** Replies that carried the block (the first one included). */
  blocksServed: number;
  /** RCPT commands received from a client while it was already blocked. */
  rcptsWhileBlocked: number;
  /** Sessions opened by a client while it was blocked. */
  sessionsWhileBlocked: number;
  /** Replies of a rate limit (connection, MAIL or RCPT). */
  rateLimited: number;
  /** Clock time of the first block, null when none. */
  firstBlockAt: number | null;
}

export function emptyOperatorStats(hosts: string[] = []): OperatorStats {
  return {
    hosts,
    sessionsOpened: 0,
    currentSessions: 0,
    maxConcurrentSessions: 0,
    rcptCount: 0,
    dataSeen: 0,
    blocksServed: 0,
    rcptsWhileBlocked: 0,
    sessionsWhileBlocked: 0,
    rateLimited: 0,
    firstBlockAt: null,
  };
}

export class ClientLedger {
  private readonly windows = new Map<string, number[]>();
  private readonly totals = new Map<string, number>();
  private readonly blocks = new Map<string, number>();

  constructor(private readonly now: () => number) {}

  /** Records one event; returns how many of this key fell in the last `windowMs`, this one included. */
  countInWindow(key: string, windowMs: number): number {
    const t = this.now();
    const kept = (this.windows.get(key) ?? []).filter((at) => t - at < windowMs);
    kept.push(t);
    this.windows.set(key, kept);
    return kept.length;
  }

  /**
   * Records one RCPT of a client towards a block rule; returns how many it sent since its last block
   * ended, all of them (windowMs 0) or those within the last windowMs.
   */
  countTowardsBlock(client: string, windowMs: number): number {
    if (windowMs > 0) return this.countInWindow(`block|${client}`, windowMs);
    const n = (this.totals.get(client) ?? 0) + 1;
    this.totals.set(client, n);
    return n;
  }

  /** Blocks a client; durationMs 0 = for as long as the world runs. */
  block(client: string, durationMs: number): void {
    this.blocks.set(client, durationMs === 0 ? Number.POSITIVE_INFINITY : this.now() + durationMs);
  }

  isBlocked(client: string): boolean {
    const until = this.blocks.get(client);
    if (until === undefined) return false;
    if (this.now() < until) return true;
    // The block is over: the client starts again from zero.
    this.blocks.delete(client);
    this.totals.delete(client);
    this.windows.delete(`block|${client}`);
    return false;
  }
}

/** State shared by the hosts of one operator (or private to a host without one). */
export interface OperatorState {
  name: string;
  stats: OperatorStats;
  ledger: ClientLedger;
}

export function newOperatorState(name: string, hosts: string[], now: () => number): OperatorState {
  return { name, stats: emptyOperatorStats(hosts), ledger: new ClientLedger(now) };
}
