/**
 * Verdict values: the product's answer for one address. Pure domain code, imports nothing.
 * Reason codes are stable API (documented in docs/statuses.md): add new ones, never rename one.
 */

export const STATUSES = ['deliverable', 'undeliverable', 'risky', 'unknown'] as const;
export type Status = (typeof STATUSES)[number];

export const REASONS = [
  'accepted',
  'invalid_syntax',
  'missing_email',
  'duplicate',
  'no_such_domain',
  'null_mx',
  'no_mail_server',
  'mailbox_not_found',
  'mailbox_disabled',
  'mailbox_full',
  'catch_all',
  'disposable',
  'role_account',
  'greylisted',
  'policy_block',
  'timeout',
  'connection_failed',
  'dns_error',
  'smtp_error',
  'unverifiable_smtputf8',
  'suppressed',
  'malformed_row',
  'not_verified',
  'mx_not_allowed',
  'throttled',
] as const;
export type Reason = (typeof REASONS)[number];

export interface Verdict {
  status: Status;
  reason: Reason;
  /** A sentence a person understands. */
  detail: string;
  /** The server's full reply (code, enhanced code, text) when SMTP decided it. */
  smtpReply?: string;
  /** The MX host that answered, when one did. */
  mx?: string;
  /** A suggested correction (typo fix), when one is known. */
  suggestion?: string;
  /** ISO-8601 time the verdict was reached. */
  checkedAt: string;
  /** True when the verdict came from the verdict cache instead of a probe in this run. */
  cached?: boolean;
  /** Provider slug of the MX that answered or was asked (providers.json: "google", "microsoft", ...); the hygiene_provider column. */
  provider?: string;
  /** Id of the outbound identity that asked (config/outbound-identities.ts), when SMTP was used. */
  identity?: string;
}

export function isStatus(value: string): value is Status {
  return (STATUSES as readonly string[]).includes(value);
}

export function isReason(value: string): value is Reason {
  return (REASONS as readonly string[]).includes(value);
}

export function makeVerdict(
  status: Status,
  reason: Reason,
  detail: string,
  checkedAt: Date,
  extra: Partial<Pick<Verdict, 'smtpReply' | 'mx' | 'suggestion' | 'provider' | 'identity'>> = {},
): Verdict {
  return { status, reason, detail, checkedAt: checkedAt.toISOString(), ...extra };
}
