/**
 * One error catalogue with stable codes (STYLE.md). Verdicts are values, not errors: a 550 5.1.1 is
 * never thrown. Errors are for things that stop a command or a session: bad config, bad input files,
 * a dead connection, Redis gone.
 */

export type HygieneErrorCode =
  // configuration and command line
  | 'CONFIG_INVALID'
  | 'USAGE'
  // input files
  | 'INPUT_NOT_FOUND'
  | 'INPUT_UNREADABLE'
  | 'INPUT_EMPTY'
  | 'INPUT_BINARY'
  | 'INPUT_ENCODING'
  | 'NO_EMAIL_COLUMN'
  | 'EMAIL_COLUMN_NOT_FOUND'
  // the input file changed between the two passes over it (the collector writes nothing then)
  | 'INPUT_CHANGED'
  // infrastructure
  | 'REDIS_UNAVAILABLE'
  | 'LIST_NOT_FOUND'
  | 'LIST_FAILED'
  // our own faults that stop a run early (probe/fault-guard.ts): outbound SMTP (port 25) unreachable
  // from this host; mail servers refusing this host itself (IP, HELO, sender); our resolver failing or lying
  | 'OUTBOUND_SMTP_BLOCKED'
  | 'OUTBOUND_SMTP_REFUSED'
  | 'DNS_FAILED'
  // webhooks (src/webhook): a target the allow-list policy refuses, a delivery that failed
  | 'WEBHOOK_URL_REFUSED'
  | 'WEBHOOK_DELIVERY_FAILED'
  // simulated mail world (src/world): a bad world description
  | 'WORLD_SPEC_INVALID'
  // SMTP session (the engine turns these into verdicts for the addresses involved)
  | 'SMTP_CONNECT_FAILED'
  | 'SMTP_TIMEOUT'
  | 'SMTP_GREETING_REJECTED'
  | 'SMTP_EHLO_REJECTED'
  | 'SMTP_CLOSED'
  | 'SMTP_SERVICE_CLOSING'
  | 'SMTP_PROTOCOL'
  // replies out of step with the commands (a skipped, doubled or reordered reply): none is used
  | 'SMTP_DESYNC'
  | 'SMTP_TLS_FAILED'
  | 'SMTP_TLS_REQUIRED'
  | 'SMTP_MAIL_REJECTED'
  | 'SMTP_UNSAFE_INPUT'
  // outbound through a SOCKS5 proxy (smtp/socks5-connector.ts): the proxy down or not speaking SOCKS5,
  // our proxy credentials refused, the proxy refusing a CONNECT itself (its rules, a general failure);
  // and the early stop they lead to (probe/proxy-guard.ts). Ours, never a verdict.
  | 'SMTP_PROXY_UNREACHABLE'
  | 'SMTP_PROXY_AUTH_FAILED'
  | 'SMTP_PROXY_REFUSED'
  | 'OUTBOUND_PROXY_FAILED';

export class HygieneError extends Error {
  readonly code: HygieneErrorCode;
  /** Context for logs and reports: the command, the MX host, the server's reply, a file path... */
  readonly context: Readonly<Record<string, unknown>>;

  constructor(code: HygieneErrorCode, message: string, context: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'HygieneError';
    this.code = code;
    this.context = Object.freeze({ ...context });
  }
}

/** The codes a stored list may carry back (a list stopped by our own fault). */
const STOP_CODES: ReadonlySet<string> = new Set<HygieneErrorCode>(['OUTBOUND_SMTP_BLOCKED', 'OUTBOUND_SMTP_REFUSED', 'DNS_FAILED', 'OUTBOUND_PROXY_FAILED']);

export function isRunStopCode(code: string): code is HygieneErrorCode {
  return STOP_CODES.has(code);
}

export function isHygieneError(err: unknown, code?: HygieneErrorCode): err is HygieneError {
  return err instanceof HygieneError && (code === undefined || err.code === code);
}
