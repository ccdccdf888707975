/**
 * The one keying rule for every fleet-wide per-server limit: the session lease (mx-lease.ts), the
 * session-start budget (session-start-budget.ts), the RCPT rate (rcpt-rate-limiter.ts) and the pause
 * (mx-pause-store.ts) all count under the same LimitKey, so no limit can be keyed one way and
 * another limit another way (issue 13: the lease counted per address while the RCPT rate counted per
 * MX name, so two names for one machine shared its session cap but got twice its rate).
 *
 * Today the key is the server's first address: two MX names for one machine (shared hosting) share
 * every limit, which is what the server counts. The per-provider limits and outbound identities of
 * issues 14 and 15 change only this module: the key becomes (provider or server, identity), e.g.
 * "google@proxy-2", and every limit follows.
 */
export type LimitKey = string & { readonly __limitKey: true };

/** What a limit key is made from: the MX host as the scheduler sees it. */
export interface LimitTarget {
  /** The MX host name (lower case). */
  mx: string;
  /** Its addresses, in the order sessions try them. */
  addresses: readonly string[];
}

export function limitKeyOf(target: LimitTarget): LimitKey {
  return (target.addresses[0] ?? target.mx) as LimitKey;
}
