/**
 * One error catalogue with stable codes (STYLE.md). Verdicts are values, not errors: a 550 5.1.1 is
 * never thrown. Errors are for things that stop a command or a session: bad config, bad input files,
 * a dead connection, Redis gone.
 *
 * Every code has one context type (HygieneErrorContexts): what a log, a report or the engine may read
 * back from an error of that code, typed, with no casts. Narrow with `isHygieneError(err, code)` or on
 * `err.code` of an AnyHygieneError.
 */
import type { SmtpReply } from './domain/smtp-reply.ts';

/** Where an SMTP failure happened and what the server said: the context of every SMTP_* code. */
export interface SmtpFailureContext {
  /** The MX host name. */
  mx?: string;
  /** The address connected to, and its port. */
  host?: string;
  port?: number;
  /** The phase that timed out or failed ('connect', 'greeting', 'EHLO', 'RCPT TO', ...). */
  phase?: string;
  /** The command whose reply failed. */
  command?: string;
  /** The server's reply, when it sent one (a refused greeting, a 421 closing the session...). */
  reply?: SmtpReply;
  timeoutMs?: number;
  /** A TLS certificate check failed (verified TLS, --require-tls). */
  certificate?: boolean;
  /** The TLS library's error code. */
  tlsError?: string;
  /** A line the server sent that is not an SMTP reply (printable form). */
  line?: string;
  /** The unsafe input refused before it reached a command line (JSON, cut). */
  input?: string;
  /** The parser limit a reply broke (lines per reply, bytes per line). */
  limit?: number;
  /** Through a SOCKS5 proxy (smtp/socks5-connector.ts): the proxy as shown (credentials redacted). */
  proxy?: string;
  /** The proxy's SOCKS5 reply code to our CONNECT (RFC 1928 §6). */
  socksReply?: number;
  /** What the SOCKS client library said. */
  socksError?: string;
  /** The proxy said the MX refused the connection (REP 5). */
  refused?: boolean;
}

export interface HygieneErrorContexts {
  // configuration and command line
  CONFIG_INVALID: { problems: readonly string[] };
  USAGE: { cron?: string; tz?: string };
  // input files
  INPUT_NOT_FOUND: { path: string };
  INPUT_UNREADABLE: { path: string; errno?: string };
  INPUT_EMPTY: { path: string };
  INPUT_BINARY: { path: string };
  NO_EMAIL_COLUMN: { columns: readonly string[] };
  EMAIL_COLUMN_NOT_FOUND: { override: string; columns: readonly string[] };
  // the input file changed between the two passes over it (the collector writes nothing then)
  INPUT_CHANGED: { file?: string; listId?: string };
  // infrastructure
  REDIS_UNAVAILABLE: { url?: string };
  LIST_NOT_FOUND: { listId?: string; scheduleId?: string };
  LIST_FAILED: { listId: string };
  // our own faults that stop a run early (probe/fault-guard.ts): outbound SMTP (port 25) unreachable
  // from this host; mail servers refusing this host itself (IP, HELO, sender); our resolver failing
  // or lying. `listId` when read back from a stored list.
  OUTBOUND_SMTP_BLOCKED: { port?: number; hosts?: readonly string[]; timeouts?: number; listId?: string };
  OUTBOUND_SMTP_REFUSED: { refusals?: readonly string[]; listId?: string };
  /** The SOCKS5 proxy of an outbound identity failed (probe/proxy-guard.ts): down, credentials refused, or no port 25 through it. */
  OUTBOUND_PROXY_FAILED: { proxy?: string; setting?: string; why?: 'down' | 'credentials' | 'port'; hosts?: readonly string[]; mx?: string; host?: string; listId?: string; identities?: readonly string[] };
  DNS_FAILED: { domains?: readonly string[]; canaries?: ReadonlyArray<{ name: string; detail: string }>; listId?: string };
  // webhooks (src/webhook): a target the allow-list policy refuses
  WEBHOOK_URL_REFUSED: { url: string };
  // simulated mail world (src/world): a bad world description
  WORLD_SPEC_INVALID: { file?: string; problems?: readonly string[] };
  // SMTP session (the engine turns these into verdicts for the addresses involved)
  SMTP_CONNECT_FAILED: SmtpFailureContext;
  SMTP_TIMEOUT: SmtpFailureContext;
  SMTP_GREETING_REJECTED: SmtpFailureContext;
  SMTP_EHLO_REJECTED: SmtpFailureContext;
  SMTP_CLOSED: SmtpFailureContext;
  SMTP_SERVICE_CLOSING: SmtpFailureContext;
  SMTP_PROTOCOL: SmtpFailureContext;
  // replies out of step with the commands (a skipped, doubled or reordered reply): none is used
  SMTP_DESYNC: SmtpFailureContext;
  SMTP_TLS_FAILED: SmtpFailureContext;
  SMTP_TLS_REQUIRED: SmtpFailureContext;
  SMTP_UNSAFE_INPUT: SmtpFailureContext;
  // outbound through a SOCKS5 proxy (smtp/socks5-connector.ts): the proxy down or not speaking SOCKS5,
  // our proxy credentials refused, the proxy refusing a CONNECT itself (its rules, a general failure).
  // Ours, never a verdict; the early stop they lead to is OUTBOUND_PROXY_FAILED.
  SMTP_PROXY_UNREACHABLE: SmtpFailureContext;
  SMTP_PROXY_AUTH_FAILED: SmtpFailureContext;
  SMTP_PROXY_REFUSED: SmtpFailureContext;
}

export type HygieneErrorCode = keyof HygieneErrorContexts;
export type SmtpErrorCode = Extract<HygieneErrorCode, `SMTP_${string}`>;

type ErrorOptions = { cause?: unknown };
/** The context may be left out only for codes whose context has no required field. */
type ContextArgs<C extends HygieneErrorCode> = Record<string, never> extends HygieneErrorContexts[C]
  ? [context?: HygieneErrorContexts[C], options?: ErrorOptions]
  : [context: HygieneErrorContexts[C], options?: ErrorOptions];

export class HygieneError<C extends HygieneErrorCode = HygieneErrorCode> extends Error {
  readonly code: C;
  /** Context for logs and reports: the command, the MX host, the server's reply, a file path... */
  readonly context: Readonly<HygieneErrorContexts[C]>;

  constructor(code: C, message: string, ...[context, options]: ContextArgs<C>) {
    super(message, options);
    this.name = 'HygieneError';
    this.code = code;
    this.context = Object.freeze({ ...(context ?? {}) }) as Readonly<HygieneErrorContexts[C]>;
  }
}

/** Any error of the catalogue, as a union narrowed by its `code`. */
export type AnyHygieneError = { [C in HygieneErrorCode]: HygieneError<C> }[HygieneErrorCode];
export type SmtpError = { [C in SmtpErrorCode]: HygieneError<C> }[SmtpErrorCode];

/** The codes a stored list may carry back (a list stopped by our own fault). */
const STOP_CODES: ReadonlySet<string> = new Set<HygieneErrorCode>(['OUTBOUND_SMTP_BLOCKED', 'OUTBOUND_SMTP_REFUSED', 'DNS_FAILED', 'OUTBOUND_PROXY_FAILED']);

export function isRunStopCode(code: string): code is 'OUTBOUND_SMTP_BLOCKED' | 'OUTBOUND_SMTP_REFUSED' | 'DNS_FAILED' | 'OUTBOUND_PROXY_FAILED' {
  return STOP_CODES.has(code);
}

export function isHygieneError(err: unknown): err is AnyHygieneError;
export function isHygieneError<C extends HygieneErrorCode>(err: unknown, code: C): err is HygieneError<C>;
export function isHygieneError(err: unknown, code?: HygieneErrorCode): boolean {
  return err instanceof HygieneError && (code === undefined || err.code === code);
}

/** An error of the SMTP session layer (any SMTP_* code): its context is an SmtpFailureContext. */
export function isSmtpError(err: unknown): err is SmtpError {
  return err instanceof HygieneError && err.code.startsWith('SMTP_');
}
