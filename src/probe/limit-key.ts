/**
 * The one keying rule for every fleet-wide per-server limit: the session lease (mx-lease.ts), the
 * session-start budget (session-start-budget.ts), the RCPT rate (rcpt-rate-limiter.ts), the pause
 * (mx-pause-store.ts) and the sender-block breaker (sender-block-store.ts) all count under the same
 * LimitKey, so no limit can be keyed one way and another limit another way (issue 13: the lease
 * counted per address while the RCPT rate counted per MX name, so two names for one machine shared
 * its session cap but got twice its rate).
 *
 * Issues 14 and 15: the key is (provider or server, outbound identity), "google@proxy-2" or
 * "192.0.2.25@direct". A provider is one party behind many MX names and addresses (Gmail and
 * Workspace share "google"), so all of them share one cap; a server of no known provider is keyed by
 * its first address (two MX names for one machine share it). Each identity is its own IP with its
 * own reputation, so each gets its own limits: N identities give N times the polite throughput.
 */
export type LimitKey = string & { readonly __limitKey: true };

/** What a limit key is made from: the MX host as the scheduler sees it. */
export interface LimitTarget {
  /** The MX host name (lower case). */
  mx: string;
  /** Its addresses, in the order sessions try them. */
  addresses: readonly string[];
  /** Slug of the provider its name matched (provider-matcher.ts), null for none. */
  provider?: string | null;
  /** Id of the outbound identity that talks to it (config/outbound-identities.ts); default "direct". */
  identity?: string;
}

export function limitKeyOf(target: LimitTarget): LimitKey {
  const server = target.provider ?? target.addresses[0] ?? target.mx;
  return `${server}@${target.identity ?? 'direct'}` as LimitKey;
}

/** The server part of a key (provider or first address), for rules that belong to the server whatever identity asks (one RCPT per transaction). */
export function serverOfKey(key: LimitKey): string {
  const at = key.lastIndexOf('@');
  return at < 0 ? key : key.slice(0, at);
}
