/**
 * What an SMTP reply means for the address being probed. Pure domain code: imports only domain
 * types. Rules follow SMTP-FACTS.md (RFC 5321, RFC 3463 enhanced codes, real Postfix, Gmail and
 * Office 365 texts). Principles:
 *  - Only a clear answer about the mailbox is `undeliverable`; a 5xx we cannot read is `unknown`.
 *  - A rejection about US (our IP, HELO name, sender, relay, a blocklist; any x.7.x) is
 *    `unknown/policy_block`, never `undeliverable`, even on 5xx: Postfix delays client/HELO/sender
 *    restrictions to RCPT time.
 *  - 421 is a queue signal (back off), x.5.3 means "start a new transaction", greylisting means
 *    "retry later from the same sender"; other 4xx are temporary.
 */
import type { SmtpCommand, SmtpReply } from './smtp-reply.ts';
import type { Reason, Status } from './verdict.ts';

export type ReplyClass =
  /** 2xx (to RCPT: the mailbox was accepted). */
  | { kind: 'accepted'; detail: string }
  /** A permanent answer about this address (or about us: policy_block). */
  | { kind: 'verdict'; status: Status; reason: Reason; detail: string }
  /** Retry later from the same sender (greylisting keys on client, sender and recipient). */
  | { kind: 'greylisted'; detail: string }
  /** 452 4.5.3 / AS780090: start a new transaction and retry this address. */
  | { kind: 'too_many_recipients'; detail: string }
  /** 421: the server is closing; back off, reconnect, retry. */
  | { kind: 'service_closing'; detail: string }
  /** Other 4xx: retry later; if retries run out record unknown/<reason>. */
  | { kind: 'temporary'; reason: Reason; detail: string };

/** Rejections aimed at the client, not the mailbox (Postfix restriction texts, blocklists). */
const POLICY_TEXT =
  /client host rejected|helo command rejected|sender address rejected|relay access denied|relaying denied|relay not permitted|spamhaus|spamcop|barracuda|sorbs|black ?list|block ?list|blacklisted|blocklisted|\brbl\b|\bdnsbl\b|\bblocked\b|reverse dns|\bptr\b|sender ip|your ip|poor reputation/;
/** "Listed" is a blocklist word, but "not listed in the directory" is about the mailbox: check it late. */
const LISTED_TEXT = /\b(?:is |are |was |been |currently )?listed (?:in|on|at|by)\b/;
const MAILBOX_UNKNOWN_TEXT =
  /user unknown|unknown user|does not exist|doesn't exist|no such user|no such mailbox|no such recipient|no such account|mailbox not found|mailbox unavailable: not found|recipient not found|unknown recipient|invalid recipient|recipient unknown|address rejected: user|not a valid mailbox|invalid mailbox|account (?:has been )?(?:deleted|removed)|user not found|unrouteable address|unroutable address|no mailbox here|unknown local[- ]part|user not local|not a known user/;
const MAILBOX_DISABLED_TEXT = /disabled|deactivated|suspended|inactive|no longer (?:active|in use)/;
const MAILBOX_FULL_TEXT = /over quota|quota exceeded|exceeded (?:the )?(?:storage|quota)|mailbox (?:is )?full|insufficient (?:storage|space)|out of storage/;
const GREYLIST_TEXT = /gr[ea]y ?list/;
const TRY_AGAIN_TEXT = /try again|come back later|retry later|try later|please retry/;
const TOO_MANY_RECIPIENTS_TEXT = /too many recipients|recipient limit|too many rcpt/;

export function classifyReply(command: SmtpCommand, reply: SmtpReply): ReplyClass {
  const code = reply.code;
  const cls = Math.floor(code / 100);
  const enhanced = reply.enhanced ?? '';
  const [, subject = '', detailDigit = ''] = enhanced.split('.');
  const x = `${subject}.${detailDigit}`; // "1.1", "7.1", ... or "." without an enhanced code
  const text = reply.lines.join(' ').toLowerCase();
  const ref = codeRef(reply);

  if (cls === 2) return { kind: 'accepted', detail: acceptedDetail(command, ref) };
  if (code === 421) {
    return { kind: 'service_closing', detail: `The mail server is closing the connection and asks us to come back later (${ref}).` };
  }
  if (cls !== 4 && cls !== 5) {
    return verdict('unknown', 'smtp_error', `The mail server gave an unexpected answer to ${command} (${ref}).`);
  }

  const aboutUs = subject === '7' || POLICY_TEXT.test(text);
  const greylist = GREYLIST_TEXT.test(text);

  // Commands whose rejection is about our connection or sender, never about the mailbox.
  if (command === 'MAIL' || command === 'CONNECT' || command === 'EHLO' || command === 'HELO') {
    if (cls === 5) return verdict('unknown', 'policy_block', `${refusedWhat(command)}, so this address could not be checked (${ref}).`);
    if (greylist || (x === '7.1' && TRY_AGAIN_TEXT.test(text)) || x === '2.0') return greylisted(ref);
    if (aboutUs) return { kind: 'temporary', reason: 'policy_block', detail: `${refusedWhat(command)} for now (${ref}).` };
    return temporary(command, ref);
  }
  if (command !== 'RCPT') {
    if (cls === 5) return verdict('unknown', 'smtp_error', `The mail server refused ${command} (${ref}).`);
    return temporary(command, ref);
  }

  // ---- RCPT, 4xx
  if (cls === 4) {
    if (x === '5.3' || TOO_MANY_RECIPIENTS_TEXT.test(text)) {
      return { kind: 'too_many_recipients', detail: `The mail server wants fewer recipients per transaction (${ref}).` };
    }
    if (greylist) return greylisted(ref);
    // A 4xx relay/client/blocklist rejection is as much about us as its 5xx twin (454 4.7.1 Relay access denied).
    if (POLICY_TEXT.test(text)) return policyBlock(ref);
    if (x === '2.0' || (subject === '7' && TRY_AGAIN_TEXT.test(text))) return greylisted(ref);
    if (subject === '7') {
      return { kind: 'temporary', reason: 'policy_block', detail: `The mail server is refusing our connection for now (${ref}).` };
    }
    if (x === '2.2' || MAILBOX_FULL_TEXT.test(text)) return mailboxFull(ref);
    return temporary(command, ref);
  }

  // ---- RCPT, 5xx
  if (aboutUs) return policyBlock(ref);
  // Office 365 directory-based edge blocking: the recipient does not exist.
  if (/as\(201806281\)/.test(text) || (x === '4.1' && /recipient address rejected: access denied/.test(text))) {
    return verdict('undeliverable', 'mailbox_not_found', `The mail server says this mailbox does not exist (${ref}).`);
  }
  // Office 365 answers unknown recipients with 5.1.10 RESOLVER.ADR.RecipientNotFound, which predates
  // RFC 7505's use of x.1.10 for null MX: the text decides.
  if ((code === 556 || x === '1.10') && !MAILBOX_UNKNOWN_TEXT.test(text)) {
    return verdict('undeliverable', 'null_mx', `The domain says it accepts no email at all (${ref}).`);
  }
  if (x === '1.10') return verdict('undeliverable', 'mailbox_not_found', `The mail server says this mailbox does not exist (${ref}).`);
  if (x === '1.1') return verdict('undeliverable', 'mailbox_not_found', `The mail server says this mailbox does not exist (${ref}).`);
  if (x === '1.2') {
    return verdict('undeliverable', 'no_mail_server', `The mail server says this address's domain cannot receive email (${ref}).`);
  }
  if (x === '2.1') return verdict('undeliverable', 'mailbox_disabled', `The mail server says this mailbox is disabled (${ref}).`);
  if (x === '2.2' || (code === 552 && (subject === '' || subject === '2')) || MAILBOX_FULL_TEXT.test(text)) return mailboxFull(ref);
  if (MAILBOX_UNKNOWN_TEXT.test(text)) {
    return verdict('undeliverable', 'mailbox_not_found', `The mail server says this mailbox does not exist (${ref}).`);
  }
  if (LISTED_TEXT.test(text)) return policyBlock(ref);
  if (subject === '' && MAILBOX_DISABLED_TEXT.test(text) && /mailbox|account|user/.test(text)) {
    return verdict('undeliverable', 'mailbox_disabled', `The mail server says this mailbox is disabled (${ref}).`);
  }
  return verdict('unknown', 'smtp_error', `The mail server refused this address without saying clearly why (${ref}).`);
}

function verdict(status: Status, reason: Reason, detail: string): ReplyClass {
  return { kind: 'verdict', status, reason, detail };
}

function policyBlock(ref: string): ReplyClass {
  return verdict(
    'unknown',
    'policy_block',
    `The mail server refused us (our address, name or sender), not the mailbox, so this address could not be checked (${ref}).`,
  );
}

function mailboxFull(ref: string): ReplyClass {
  return verdict('risky', 'mailbox_full', `The mailbox exists but is full (${ref}).`);
}

function greylisted(ref: string): ReplyClass {
  return { kind: 'greylisted', detail: `The mail server asks us to try again later (greylisting) (${ref}).` };
}

function temporary(command: SmtpCommand, ref: string): ReplyClass {
  return {
    kind: 'temporary',
    reason: 'smtp_error',
    detail: command === 'RCPT' ? `The mail server could not answer for this mailbox right now (${ref}).` : `The mail server had a temporary problem with ${command} (${ref}).`,
  };
}

function refusedWhat(command: SmtpCommand): string {
  switch (command) {
    case 'MAIL':
      return 'The mail server refused our sender address';
    case 'CONNECT':
      return 'The mail server refused our connection';
    default:
      return 'The mail server refused our greeting (EHLO/HELO)';
  }
}

function acceptedDetail(command: SmtpCommand, ref: string): string {
  return command === 'RCPT' ? `The mail server accepted this mailbox (${ref}).` : `The mail server accepted ${command} (${ref}).`;
}

/** "550 5.1.1" or "550". */
function codeRef(reply: SmtpReply): string {
  return reply.enhanced ? `${reply.code} ${reply.enhanced}` : String(reply.code);
}
