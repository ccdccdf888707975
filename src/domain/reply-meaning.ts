/**
 * What an SMTP reply means: for the address being probed (classifyReply: status and reason) and for
 * us (judgeReply: whose fault it is, and whether it asks us to slow down). The one place that reads
 * a reply; readReply gives both at once. Pure domain code: imports only domain types. Rules follow
 * SMTP-FACTS.md (RFC 5321, RFC 3463 enhanced codes, real Postfix, Gmail and Office 365 texts) and
 * PROVIDERS.md. Principles:
 *  - Only a clear answer about the mailbox is `undeliverable`; a 5xx we cannot read is `unknown`.
 *  - A rejection about US (our IP, HELO name, sender, relay, a blocklist; any x.7.x) is
 *    `unknown/policy_block`, never `undeliverable`, even on 5xx: Postfix delays client/HELO/sender
 *    restrictions to RCPT time.
 *  - 421 is a queue signal (back off), x.5.3 means "start a new transaction", greylisting means
 *    "retry later from the same sender"; other 4xx are temporary.
 *  - What the server echoes back (the address, its domain) is the list's data, not the server's
 *    words: `550 5.1.1 <blocked@d>: ... User unknown` is about the mailbox. The text is read without
 *    echoes, and the enhanced code decides before any word of it.
 */
import { blockSignatureOf, replyMeaningOf } from '../providers/provider-replies.ts';
import type { ProviderMatch } from '../providers/provider-matcher.ts';
import type { BlockSignature, ProviderTable, ReplyMeaning as ProviderReplyMeaning } from '../providers/provider-table.ts';
import type { FaultOwner } from './fault-owner.ts';
import type { SmtpCommand, SmtpReply } from './smtp-reply.ts';
import type { Reason, Status } from './verdict.ts';

/**
 * The provider of the server that sent a reply (issue 14): its table entry decides wordings that
 * mean something only there (Microsoft 365 business's "550 5.4.1 ... Access denied. AS(201806281)"
 * is "no such user" on *.mail.protection.outlook.com only) and recognises block signatures (a reply
 * about us: our IP listed, our rate). `match` null: a server of no known provider (the table's
 * any-host signatures still apply). Without a context at all (callers that know no provider) the
 * classifier keeps its provider-neutral reading.
 */
export interface ProviderContext {
  table: ProviderTable;
  match: ProviderMatch | null;
}

export type ReplyClass =
  /** 2xx (to RCPT: the mailbox was accepted). */
  | { kind: 'accepted'; detail: string }
  /**
   * A permanent answer about this address (or about us: policy_block). `refuses` is set on a
   * policy_block only: 'client' when the server refuses our client (IP, name, sender, blocklist) for
   * every address, 'domain' when it refuses to relay for this address's domain.
   */
  | { kind: 'verdict'; status: Status; reason: Reason; detail: string; refuses?: 'client' | 'domain' }
  /** Retry later from the same sender (greylisting keys on client, sender and recipient). */
  | { kind: 'greylisted'; detail: string }
  /** 452 4.5.3 / AS780090: start a new transaction and retry this address. */
  | { kind: 'too_many_recipients'; detail: string }
  /** 421: the server is closing; back off, reconnect, retry. */
  | { kind: 'service_closing'; detail: string }
  /** Other 4xx: retry later; if retries run out record unknown/<reason>. */
  | { kind: 'temporary'; reason: Reason; detail: string };

/** What the server may have echoed back in its reply: never read as the server's own words. */
export interface ReplyEchoes {
  /** The address in the command (RCPT TO or MAIL FROM). */
  recipient?: string;
  /** Our MAIL FROM address (Postfix echoes it in "Sender address rejected" at RCPT time). */
  sender?: string;
}

/**
 * Which restriction refused us, as Postfix and its imitators name it in the reply ("Client host
 * rejected", "Helo command rejected", "Sender address rejected"): the server saying who it refuses.
 * It outranks the enhanced code (Postfix answers an unknown sender with 5.1.x at RCPT time).
 */
const REFUSES_CLIENT = /client host rejected|helo command rejected|sender address rejected/;
/** The server does not relay for the recipient's domain: the same answer for every address of it. */
const REFUSES_DOMAIN = /relay access denied|relaying denied|relay not permitted|not permitted to relay|unable to relay/;
/** Words of rejections aimed at the client, for replies whose enhanced code does not say (blocklists). */
const POLICY_WORDS =
  /spamhaus|spamcop|barracuda|sorbs|black ?list|block ?list|blacklisted|blocklisted|\brbl\b|\bdnsbl\b|\bblocked\b|reverse dns|\bptr\b|sender ip|your ip|poor reputation/;
/** "Listed" is a blocklist word, but "not listed in the directory" is about the mailbox: check it late. */
const LISTED_TEXT = /\b(?:is |are |was |been |currently )?listed (?:in|on|at|by)\b/;
const MAILBOX_UNKNOWN_TEXT =
  /user unknown|unknown user|does not exist|doesn't exist|no such user|no such mailbox|no such recipient|no such account|mailbox not found|mailbox unavailable: not found|recipient not found|unknown recipient|invalid recipient|recipient unknown|address rejected: user|not a valid mailbox|invalid mailbox|account (?:has been )?(?:deleted|removed)|user not found|unrouteable address|unroutable address|no mailbox here|unknown local[- ]part|user not local|not a known user/;
const MAILBOX_DISABLED_TEXT = /disabled|deactivated|suspended|inactive|no longer (?:active|in use)/;
const MAILBOX_FULL_TEXT = /over quota|quota exceeded|exceeded (?:the )?(?:storage|quota)|mailbox (?:is )?full|insufficient (?:storage|space)|out of storage/;
const GREYLIST_TEXT = /gr[ea]y ?list/;
const TRY_AGAIN_TEXT = /try again|come back later|retry later|try later|please retry/;
const TOO_MANY_RECIPIENTS_TEXT = /too many recipients|recipient limit|too many rcpt/;

/** Angle-bracketed paths (`<x@d>`, `<unknown[192.0.2.1]>`), quoted-local-part and bare addresses. */
const ECHOED_PATH = /<[^<>]{0,600}>|"[^"]{0,300}"@[^\s<>;,()[\]]*|[^\s<>"';,()[\]]+@[^\s<>"';,()[\]]*/g;

/**
 * The reply's text, lower-cased, without what the server echoed back: addresses in any form and
 * the address's domain where the server prints it alone ("Domain d does not accept mail"). A local
 * part is the list owner's data, not the server's words: `550 5.1.1 <blocked@d>: ... User unknown`
 * is about the mailbox whatever the mailbox is called.
 */
export function replyTextWithoutEchoes(reply: Pick<SmtpReply, 'lines'>, echoes: ReplyEchoes = {}): string {
  let text = reply.lines.join(' ').toLowerCase().replace(ECHOED_PATH, ' ');
  for (const address of [echoes.recipient, echoes.sender]) {
    const at = address?.lastIndexOf('@') ?? -1;
    if (address === undefined || at < 0) continue;
    const local = address.slice(0, at).toLowerCase();
    const domain = address.slice(at + 1).toLowerCase();
    // Whole names only: the domain "d" must not eat the d of "denied".
    if (domain.length > 0) text = text.replace(new RegExp(`(?<![a-z0-9.-])${escapeRegExp(domain)}(?![a-z0-9-]|\\.[a-z0-9])`, 'g'), ' ');
    // A quoted local part printed alone (Exim: `Unknown local part "a b" in <...>`) can hold any
    // words. A dot-atom one cannot hold a space, so it is left: stripping "user" would eat "User unknown".
    if (local.startsWith('"')) text = text.split(local).join(' ');
  }
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * What a reply means. Precedence: who the server says it refuses (Postfix restriction names), then
 * the enhanced code (RFC 3463: x.1.1, x.1.10, x.2.1, x.2.2 are about the mailbox, x.7.x about us),
 * and only for replies without a telling code (none, x.0.x, x.5.x, ...) the words of the text.
 * Everything is read on the text without echoed addresses (replyTextWithoutEchoes).
 */
export function classifyReply(command: SmtpCommand, reply: SmtpReply, echoes: ReplyEchoes = {}, provider?: ProviderContext): ReplyClass {
  if (provider && command === 'RCPT' && reply.code >= 400) {
    const own = providerReplyClass(provider, withoutEchoes(reply, echoes));
    if (own) return own;
  }
  const code = reply.code;
  const cls = Math.floor(code / 100);
  const enhanced = reply.enhanced ?? '';
  const [, subject = '', detailDigit = ''] = enhanced.split('.');
  const x = `${subject}.${detailDigit}`; // "1.1", "7.1", ... or "." without an enhanced code
  const text = replyTextWithoutEchoes(reply, echoes);
  const ref = codeRef(reply);

  if (cls === 2) return { kind: 'accepted', detail: acceptedDetail(command, ref) };
  if (code === 421) {
    return { kind: 'service_closing', detail: `The mail server is closing the connection and asks us to come back later (${ref}).` };
  }
  if (cls !== 4 && cls !== 5) {
    return verdict('unknown', 'smtp_error', `The mail server gave an unexpected answer to ${command} (${ref}).`);
  }

  const refusesDomain = REFUSES_DOMAIN.test(text);
  const refusesClient = REFUSES_CLIENT.test(text);
  const aboutUs = subject === '7' || refusesClient || refusesDomain || POLICY_WORDS.test(text);
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
  const refuses = refusesDomain && !refusesClient ? 'domain' : 'client';
  /** The enhanced code names the mailbox: it decides, whatever the words. */
  const mailboxCode = x === '1.1' || x === '1.10' || x === '2.1' || x === '2.2';
  /** No enhanced code, or one that names neither the mailbox nor us (x.0.x, x.5.x, x.3.x, ...). */
  const wordsDecide = !mailboxCode && subject !== '7' && x !== '1.2';

  // ---- RCPT, 4xx
  if (cls === 4) {
    if (x === '5.3' || TOO_MANY_RECIPIENTS_TEXT.test(text)) {
      return { kind: 'too_many_recipients', detail: `The mail server wants fewer recipients per transaction (${ref}).` };
    }
    if (greylist) return greylisted(ref);
    // A 4xx relay/client rejection is as much about us as its 5xx twin (454 4.7.1 Relay access denied).
    if (refusesClient || refusesDomain) return policyBlock(ref, refuses);
    // The mailbox's words first (a 4xx about the mailbox is a retry), so that a local part printed
    // alone ("Unknown local part blocked") cannot block the host.
    if (wordsDecide && MAILBOX_UNKNOWN_TEXT.test(text)) return temporary(command, ref);
    if ((subject === '7' || wordsDecide) && POLICY_WORDS.test(text)) return policyBlock(ref, 'client');
    if (x === '2.0' || (subject === '7' && TRY_AGAIN_TEXT.test(text))) return greylisted(ref);
    if (subject === '7') {
      return { kind: 'temporary', reason: 'policy_block', detail: `The mail server is refusing our connection for now (${ref}).` };
    }
    if (x === '2.2' || (wordsDecide && MAILBOX_FULL_TEXT.test(text))) return mailboxFull(ref);
    return temporary(command, ref);
  }

  // ---- RCPT, 5xx
  if (refusesClient || refusesDomain || subject === '7') return policyBlock(ref, refuses);
  // Office 365 directory-based edge blocking: the recipient does not exist. With a provider context
  // the provider table decides (only Microsoft's business hosts mean "no such user" by it).
  if (!provider && (/as\(201806281\)/.test(text) || (x === '4.1' && /recipient address rejected: access denied/.test(text)))) {
    return verdict('undeliverable', 'mailbox_not_found', `The mail server says this mailbox does not exist (${ref}).`);
  }
  // Office 365 answers unknown recipients with 5.1.10 RESOLVER.ADR.RecipientNotFound, which predates
  // RFC 7505's use of x.1.10 for null MX: the text decides.
  if ((code === 556 || x === '1.10') && !MAILBOX_UNKNOWN_TEXT.test(text)) {
    return verdict('undeliverable', 'null_mx', `The domain says it accepts no email at all (${ref}).`);
  }
  if (x === '1.10' || x === '1.1') return verdict('undeliverable', 'mailbox_not_found', `The mail server says this mailbox does not exist (${ref}).`);
  if (x === '1.2') {
    return verdict('undeliverable', 'no_mail_server', `The mail server says this address's domain cannot receive email (${ref}).`);
  }
  if (x === '2.1') return verdict('undeliverable', 'mailbox_disabled', `The mail server says this mailbox is disabled (${ref}).`);
  if (x === '2.2' || (code === 552 && (subject === '' || subject === '2')) || MAILBOX_FULL_TEXT.test(text)) return mailboxFull(ref);
  // Words only from here on (wordsDecide): the mailbox's words first, so that nothing left of an
  // echo (a local part some servers print alone) can turn "no such user" into a block of the host.
  if (MAILBOX_UNKNOWN_TEXT.test(text)) {
    return verdict('undeliverable', 'mailbox_not_found', `The mail server says this mailbox does not exist (${ref}).`);
  }
  if (POLICY_WORDS.test(text) || LISTED_TEXT.test(text)) return policyBlock(ref, 'client');
  if (subject === '' && MAILBOX_DISABLED_TEXT.test(text) && /mailbox|account|user/.test(text)) {
    return verdict('undeliverable', 'mailbox_disabled', `The mail server says this mailbox is disabled (${ref}).`);
  }
  return verdict('unknown', 'smtp_error', `The mail server refused this address without saying clearly why (${ref}).`);
}

/** Where in the conversation a reply came. */
export type ReplyStage = 'greeting' | 'ehlo' | 'mail' | 'rcpt';

export interface ReplyJudgement {
  /**
   * The reply carries a block signature of the provider table: it is about us (our IP, network,
   * HELO, sender or rate), whatever it says of the mailbox. 'block' trips the sender-block breaker
   * for (provider or server, identity); 'throttle' pauses it.
   */
  senderBlock?: BlockSignature;
  owner: FaultOwner;
  /** The server asks us to slow down or come back later: pause this MX fleet-wide (do not retry in a loop). */
  pause: boolean;
  /** A refusal of us (our IP, HELO name or sender), not of the mailbox: evidence for the "refused us" stop. */
  refusesUs: boolean;
}

/**
 * Rate limits aimed at our client, at any stage. "too many recipients" alone is Postfix's per-message
 * limit (452 4.5.3: start a new transaction); "too many recipients from [ip]" is anvil's per-client
 * rate (smtpd_client_recipient_rate_limit): every further RCPT is refused until the time unit passes.
 */
const RATE_TEXT =
  /too many (?:connections|recipients|messages|mails|sessions|commands|requests|concurrent\b[^.;]*?) from\b|\brate[- ]?limit|\bratelimit|rate of (?:unsolicited|mail|messages|connections)|unusual rate|too fast|too frequent|too many concurrent|connection rate|sending rate|throttl|slow down|temporarily deferred|\[tss0\d\]|deferred due to/;
/** "Come back later" wordings: at the greeting, EHLO or MAIL FROM they are about us; at RCPT they are greylisting. */
const LATER_TEXT = /try again later|try later|please retry|retry later|come back later|temporarily (?:unavailable|rejected|refused)/;
/**
 * Refusals of the client itself, for judgeReply: who the server says it refuses (REFUSES_CLIENT), the
 * blocklist and reputation words (POLICY_WORDS), and a few more that only say "not you".
 */
const REFUSES_US_TEXT = new RegExp(
  `${REFUSES_CLIENT.source}|${POLICY_WORDS.source}|banned|listed (?:in|on|at|by)\\b|access denied, banned|not allowed to send|refused to talk`,
);

function enhancedParts(reply: SmtpReply): { subject: string; detail: string } {
  const [, subject = '', detail = ''] = (reply.enhanced ?? '').split('.');
  return { subject, detail };
}

/** Whose fault a reply is, and whether it asks us to pause the MX. */
export function judgeReply(stage: ReplyStage, reply: SmtpReply, echoes: ReplyEchoes = {}, provider?: ProviderContext): ReplyJudgement {
  if (provider && reply.code >= 400) {
    // Read without what the server echoed: a mailbox called spamhaus@ is the list's data, not a blocklist.
    const plain = withoutEchoes(reply, echoes);
    const signature = blockSignatureOf(provider.table, provider.match, plain);
    if (signature) {
      // Severity decides: a throttle asks us to slow down (pause); a block refuses us until something changes.
      return signature.severity === 'throttle'
        ? { owner: 'us', pause: true, refusesUs: false, senderBlock: signature }
        : { owner: 'us', pause: false, refusesUs: true, senderBlock: signature };
    }
    if (stage === 'rcpt') {
      const own = replyMeaningOf(provider.match, plain);
      // A per-mailbox state (Gmail's 450 4.2.1 "receiving mail at a rate"): that address later, not a pause.
      if (own && own.meaning !== 'too_many_recipients') return { owner: own.meaning === 'throttled' ? 'remote' : 'address', pause: false, refusesUs: false };
    }
  }
  const cls = Math.floor(reply.code / 100);
  // Without the addresses the server echoes back: a mailbox called throttle@ or blocked@ is the
  // list's data, not the server's words (the same reading as classifyReply's).
  const text = replyTextWithoutEchoes(reply, echoes);
  const { subject } = enhancedParts(reply);
  if (cls === 2 || cls === 3) return { owner: stage === 'rcpt' ? 'address' : 'remote', pause: false, refusesUs: false };
  // Per-mailbox statuses (x.2.x: Gmail's 4.2.1 "receiving mail at a rate" is one mailbox's state).
  const mailboxStatus = subject === '1' || subject === '2';
  const rate = !mailboxStatus && RATE_TEXT.test(text);
  if (cls === 4) {
    if (rate) return { owner: 'us', pause: true, refusesUs: false };
    if (stage !== 'rcpt') {
      // 4xx before any recipient (a 421/450 greeting, EHLO or MAIL "busy, come back later"): the
      // server is not taking connections from us now. Hammering it with reconnects is how an IP
      // gets listed: pause the MX. A 4xx to MAIL that is about our sender is ours, not a pause.
      if (stage === 'mail' && !LATER_TEXT.test(text) && reply.code !== 421) return { owner: 'us', pause: false, refusesUs: false };
      return { owner: REFUSES_US_TEXT.test(text) ? 'us' : 'remote', pause: true, refusesUs: false };
    }
    // A 421 that closes the session with "try again later" is the server shedding our traffic
    // (Gmail's "421 4.7.0 Try again later, closing connection"); "421 ... too many errors" is not.
    if (reply.code === 421) return LATER_TEXT.test(text) ? { owner: 'us', pause: true, refusesUs: false } : { owner: 'remote', pause: false, refusesUs: false };
    if (GREYLIST_TEXT.test(text)) return { owner: 'remote', pause: false, refusesUs: false };
    if (subject === '7' && !REFUSES_DOMAIN.test(text)) return { owner: 'us', pause: false, refusesUs: false };
    return { owner: 'remote', pause: false, refusesUs: false };
  }
  // 5xx
  if (stage === 'greeting' || stage === 'ehlo' || stage === 'mail') {
    // RFC 5321 §3.1: a 554 greeting means the server does not want mail from this client.
    return { owner: 'us', pause: false, refusesUs: true };
  }
  if (REFUSES_DOMAIN.test(text)) return { owner: 'remote', pause: false, refusesUs: false };
  if (rate) return { owner: 'us', pause: true, refusesUs: false };
  if (!mailboxStatus && (subject === '7' || REFUSES_US_TEXT.test(text))) return { owner: 'us', pause: false, refusesUs: true };
  return { owner: 'address', pause: false, refusesUs: false };
}

/** Both readings of one reply: what it says about the address, and about us. */
export interface ReplyMeaning extends ReplyJudgement {
  replyClass: ReplyClass;
}

const STAGE_COMMAND: Record<ReplyStage, SmtpCommand> = { greeting: 'CONNECT', ehlo: 'EHLO', mail: 'MAIL', rcpt: 'RCPT' };

/** What one reply means, for the address and for us: the one call the engine makes per reply. */
export function readReply(stage: ReplyStage, reply: SmtpReply, echoes: ReplyEchoes = {}, provider?: ProviderContext): ReplyMeaning {
  const judged = judgeReply(stage, reply, echoes, provider);
  let replyClass = classifyReply(STAGE_COMMAND[stage], reply, echoes, provider);
  const block = judged.senderBlock;
  if (block && block.severity === 'block' && stage === 'rcpt') {
    // About us, never about the mailbox: unknown/policy_block with what the signature means.
    replyClass = { kind: 'verdict', status: 'unknown', reason: 'policy_block', detail: blockDetail(block, reply), refuses: 'client' };
  }
  return { ...judged, replyClass };
}

/** The reply with its text read without echoes (for the provider table's substring patterns). */
function withoutEchoes(reply: SmtpReply, echoes: ReplyEchoes): SmtpReply {
  return { ...reply, lines: [replyTextWithoutEchoes(reply, echoes)] };
}

/** The detail of a row refused because of a sender block: what it means, and what to do. */
export function blockDetail(block: BlockSignature, reply: SmtpReply): string {
  return `The mail server refused us, not the mailbox (${codeRef(reply)}): ${block.means}${block.action ? ` ${block.action}` : ''}`;
}

/** A provider-specific reading of a 4xx/5xx RCPT reply (provider table replyMeanings), or null. */
function providerReplyClass(provider: ProviderContext, reply: SmtpReply): ReplyClass | null {
  // A block signature is about us: the generic reading (policy_block, or a pause) stays.
  if (blockSignatureOf(provider.table, provider.match, reply)) return null;
  const own: ProviderReplyMeaning | null = replyMeaningOf(provider.match, reply);
  if (!own) return null;
  const ref = `${codeRef(reply)}, ${provider.match?.provider.name ?? 'provider'}: ${own.id}`;
  const permanent = reply.code >= 500;
  switch (own.meaning) {
    case 'mailbox_not_found':
      return permanent ? verdict('undeliverable', 'mailbox_not_found', `The mail server says this mailbox does not exist (${ref}).`) : temporary('RCPT', ref);
    case 'mailbox_disabled':
      return permanent ? verdict('undeliverable', 'mailbox_disabled', `The mail server says this mailbox is disabled (${ref}).`) : temporary('RCPT', ref);
    case 'mailbox_full':
      return mailboxFull(ref);
    case 'too_many_recipients':
      return { kind: 'too_many_recipients', detail: `The mail server wants fewer recipients per transaction (${ref}).` };
    case 'throttled':
      // One mailbox receiving too fast (Gmail 450 4.2.1): ask this address again later; the server is not paused.
      return { kind: 'temporary', reason: 'smtp_error', detail: `The mail server asks us to try this mailbox again later (${ref}).` };
  }
}

function verdict(status: Status, reason: Reason, detail: string): ReplyClass {
  return { kind: 'verdict', status, reason, detail };
}

function policyBlock(ref: string, refuses: 'client' | 'domain'): ReplyClass {
  return {
    kind: 'verdict',
    status: 'unknown',
    reason: 'policy_block',
    detail: `The mail server refused us (our address, name or sender), not the mailbox, so this address could not be checked (${ref}).`,
    refuses,
  };
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

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** "550 5.1.1" or "550". */
function codeRef(reply: SmtpReply): string {
  return reply.enhanced ? `${reply.code} ${reply.enhanced}` : String(reply.code);
}
