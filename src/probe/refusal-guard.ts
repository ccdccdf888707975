/**
 * Early detection of a host that mail servers refuse (issue 11): a listed IP, a HELO name without
 * a matching PTR, a sender whose domain does not exist. One server refusing us is that server's
 * policy (its rows are unknown/policy_block); the first `threshold` distinct MX hosts that answered
 * all refusing us (a 554 greeting, EHLO or MAIL FROM refused, a 5.7.x client or blocklist rejection
 * at RCPT) is us: the guard trips once with OUTBOUND_SMTP_REFUSED and the run stops. One MX that
 * answers about a mailbox (accepted, user unknown, greylisted...) disarms it for good.
 */
import type { SmtpReply } from '../domain/smtp-reply.ts';
import { replyToText } from '../domain/smtp-reply.ts';
import { HygieneError } from '../errors.ts';

export interface RefusalGuardOptions {
  /** Distinct MX hosts that must all refuse us before the guard trips. Default 3. */
  threshold?: number;
  heloName: string | undefined;
  mailFrom: string | undefined;
  onTrip: (error: HygieneError) => void;
}

export interface ClientAnswer {
  /** The server refused us (IP, HELO name, sender), not a mailbox. */
  refusesUs: boolean;
  reply?: SmtpReply;
}

export class RefusalGuard {
  private readonly refusals = new Map<string, string>();
  private readonly seen = new Set<string>();
  private accepted = false;
  private tripped: HygieneError | null = null;
  private readonly threshold: number;

  constructor(private readonly options: RefusalGuardOptions) {
    this.threshold = options.threshold ?? 3;
  }

  get error(): HygieneError | null {
    return this.tripped;
  }

  /** The first answer of each MX host counts. */
  record(mx: string, answer: ClientAnswer): void {
    if (this.accepted || this.tripped || this.seen.has(mx)) return;
    this.seen.add(mx);
    if (!answer.refusesUs) {
      this.accepted = true;
      this.refusals.clear();
      return;
    }
    this.refusals.set(mx, answer.reply ? replyToText(answer.reply) : 'refused');
    if (this.refusals.size < this.threshold) return;
    const who = [...this.refusals.entries()].map(([host, reply]) => `${host}: ${reply}`).join('; ');
    this.tripped = new HygieneError(
      'OUTBOUND_SMTP_REFUSED',
      `Stopped: the first ${this.refusals.size} mail servers that answered all refused this host itself, not a mailbox (${who}). ` +
        `That is about our IP address (a blocklist, no reverse DNS), our HELO name (HYGIENE_HELO_NAME=${this.options.heloName ?? '(none)'}) or our sender (HYGIENE_MAIL_FROM=${this.options.mailFrom ?? '(none)'}), so nothing could be verified; nothing of this run was cached. ` +
        `Check the IP on blocklists, give it a PTR matching the HELO name, use a sender at a domain that exists, and run again; check with: hygiene doctor --domain <a domain you know>.`,
      { refusals: [...this.refusals.entries()].map(([host, reply]) => `${host}: ${reply}`) },
    );
    this.options.onTrip(this.tripped);
  }
}
