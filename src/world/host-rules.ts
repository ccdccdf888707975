/**
 * What makes a simulated host behave like a big provider rather than a plain Postfix, as data in
 * the world spec (so sim-mta.ts knows no provider by name):
 *  - `replies`: the host's own wording for each answer, multi-line where the real one is (Gmail);
 *  - `acceptAll`: every RCPT for a served domain gets 250 (Yahoo/AOL, most gateways);
 *  - `rcptsPerTransaction`: every RCPT of a transaction counts, accepted or not; beyond it the
 *    `tooManyRecipients` reply (Microsoft refuses the 2nd RCPT with 452 4.5.3);
 *  - `block`: a sender-reputation block after N RCPTs from one client (in total, or within a time
 *    window), sticky for a while (Microsoft 5.7.606 "banned sending IP");
 *  - `rateLimits`: anvil-like limits per client per time window on connections, MAIL or RCPT, each
 *    with its reply (Postfix "450 4.7.1 Error: too many recipients from ...", Gmail "421-4.7.0 ...
 *    unusual rate", Yahoo "[TSS04]").
 * Counts of `block` and `rateLimits` are per client IP across the host's operator (all hosts of one
 * operator share them), see client-ledger.ts. Pure: parsing, defaults and template rendering.
 */

/** A reply: one line, or several joined by "\n" ("550-5.1.1 ...\n550 5.1.1 ..."), with {placeholders}. */
export type ReplyTemplate = string;

export interface ReplyTemplates {
  /** Text of the first EHLO line after "250-" (not a reply line of its own). Default: the host name. */
  ehlo: string;
  mailOk: ReplyTemplate;
  rcptOk: ReplyTemplate;
  unknownUser: ReplyTemplate;
  mailboxDisabled: ReplyTemplate;
  mailboxFull: ReplyTemplate;
  /** Past recipientLimit (accepted RCPTs) or rcptsPerTransaction (every RCPT). */
  tooManyRecipients: ReplyTemplate;
  /** For a mailbox listed in the domain's `throttled`: a per-recipient "try later" (Gmail 450-4.2.1). */
  recipientThrottled: ReplyTemplate;
  quit: ReplyTemplate;
}

export interface BlockRule {
  /** RCPTs a client may send (to this operator) before it is blocked. 0 = blocked from the start. */
  afterRcpts: number;
  /** Count afterRcpts within this sliding window (a rate that trips a ban); 0 = in total. */
  windowMs: number;
  /** Where the block is answered: at RCPT only, or at MAIL already (RCPTs of a blocked client get it too). */
  stage: 'MAIL' | 'RCPT';
  reply: ReplyTemplate;
  /** How long a block lasts; 0 = until the world stops. */
  durationMs: number;
  /** Only these client IPs are ever blocked (a listed IP, one identity of a pool); null = every client. */
  clients: readonly string[] | null;
}

export interface RateLimitRule {
  /** What is counted per client: new connections, MAIL commands or RCPT commands (accepted or not). */
  count: 'connection' | 'mail' | 'rcpt';
  /** Allowed per window; the next one gets `reply` (a 421 closes the session). */
  max: number;
  windowMs: number;
  reply: ReplyTemplate;
}

export interface HostRules {
  replies: ReplyTemplates;
  acceptAll: boolean;
  rcptsPerTransaction: number | null;
  block: BlockRule | null;
  rateLimits: RateLimitRule[];
}

/** The placeholders a template may use. */
export const TEMPLATE_VARS = ['rcpt', 'local', 'domain', 'sender', 'client', 'host', 'sid', 'date', 'limit'] as const;
export type TemplateVars = Partial<Record<(typeof TEMPLATE_VARS)[number], string>>;

/** Postfix's wording (SMTP-FACTS.md), the default of every host. */
export function defaultHostRules(): HostRules {
  return {
    replies: {
      ehlo: '{host}',
      mailOk: '250 2.1.0 Ok',
      rcptOk: '250 2.1.5 Ok',
      unknownUser: '550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table',
      mailboxDisabled: '550 5.2.1 <{rcpt}>: Recipient address rejected: Mailbox disabled, not accepting messages',
      mailboxFull: '552 5.2.2 <{rcpt}>: Recipient address rejected: Mailbox full',
      tooManyRecipients: '452 4.5.3 Error: too many recipients',
      // Postfix has no such answer of its own; a generic temporary refusal.
      recipientThrottled: '450 4.2.1 <{rcpt}>: Recipient address rejected: Try again later',
      quit: '221 2.0.0 Bye',
    },
    acceptAll: false,
    rcptsPerTransaction: null,
    block: null,
    rateLimits: [],
  };
}

const PLACEHOLDER = /\{([a-z]+)\}/g;
const REPLY_LINE = /^(\d{3})(?:([ -])(.*))?$/;

/** Checks a reply template; returns what is wrong, or null. `codes` limits the first digit (e.g. "45"). */
export function checkReplyTemplate(template: unknown, codes = '2345'): string | null {
  if (typeof template !== 'string' || template === '') return 'must be a reply such as "550 5.1.1 <{rcpt}>: no such user" (lines joined by \\n)';
  if (/[\r\0]/.test(template)) return 'may not contain CR or NUL';
  for (const [, name] of template.matchAll(PLACEHOLDER)) {
    if (!(TEMPLATE_VARS as readonly string[]).includes(name ?? '')) return `unknown placeholder {${name}} (known: ${TEMPLATE_VARS.join(', ')})`;
  }
  const lines = template.split('\n');
  let code: string | undefined;
  for (const [i, line] of lines.entries()) {
    const m = REPLY_LINE.exec(line);
    if (!m) return `line ${i + 1} must start with a 3-digit code`;
    code ??= m[1];
    if (m[1] !== code) return `line ${i + 1} has code ${m[1]}, the first line ${code}`;
    const last = i === lines.length - 1;
    if (!last && m[2] !== '-') return `line ${i + 1} must be a continuation line ("${code}-...")`;
    if (last && m[2] === '-') return `the last line must end the reply ("${code} ..." or "${code}")`;
  }
  if (!codes.includes(code?.[0] ?? '')) return `must be a ${[...codes].map((c) => `${c}xx`).join(' or ')} reply`;
  return null;
}

/** The lines of a reply, placeholders filled in (values lose CR/LF: they may come from a client's command). */
export function renderReply(template: ReplyTemplate, vars: TemplateVars): string[] {
  const filled = template.replace(PLACEHOLDER, (whole: string, name: string) =>
    (TEMPLATE_VARS as readonly string[]).includes(name) ? (vars[name as keyof TemplateVars] ?? '').replace(/[\r\n]/g, '') : whole,
  );
  return filled.split('\n');
}

/** The basic code of a template (its first line's). */
export function replyCode(template: ReplyTemplate): number {
  return Number(template.slice(0, 3));
}

/** The date as in a greeting (RFC 5322 §3.3), e.g. "Sun, 22 Jun 2025 05:58:00 +0000". */
export function greetingDate(ms: number): string {
  return new Date(ms).toUTCString().replace('GMT', '+0000');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Reads the rule fields of one host's behaviour (replies, acceptAll, rcptsPerTransaction, block,
 * rateLimits) from the world spec; every problem goes to `problem`, defaults fill what is absent.
 */
export function parseHostRules(b: Record<string, unknown>, path: string, problem: (path: string, message: string) => void): HostRules {
  const rules = defaultHostRules();
  const nonNegative = (v: unknown, p: string, min = 0): number | null => {
    if (typeof v === 'number' && Number.isInteger(v) && v >= min) return v;
    problem(p, `must be an integer >= ${min}`);
    return null;
  };
  const template = (v: unknown, p: string, codes?: string): string | null => {
    const err = checkReplyTemplate(v, codes);
    if (err) problem(p, err);
    return err ? null : (v as string);
  };

  if (b.replies !== undefined) {
    if (!isRecord(b.replies)) problem(`${path}.replies`, 'must be an object of reply templates');
    else {
      for (const [key, value] of Object.entries(b.replies)) {
        const p = `${path}.replies.${key}`;
        if (key === '$comment') continue;
        if (key === 'ehlo') {
          if (typeof value !== 'string' || value === '' || /[\r\n\0]/.test(value)) problem(p, 'must be the one-line text of the first EHLO line');
          else rules.replies.ehlo = value;
        } else if (key in rules.replies) {
          const codes = key === 'mailOk' || key === 'rcptOk' || key === 'quit' ? '2' : key === 'recipientThrottled' ? '4' : '45';
          const t = template(value, p, codes);
          if (t !== null) rules.replies[key as Exclude<keyof ReplyTemplates, 'ehlo'>] = t;
        } else problem(p, `unknown reply (known: ${Object.keys(rules.replies).join(', ')})`);
      }
    }
  }
  if (b.acceptAll !== undefined) {
    if (typeof b.acceptAll !== 'boolean') problem(`${path}.acceptAll`, 'must be true or false');
    else rules.acceptAll = b.acceptAll;
  }
  if (b.rcptsPerTransaction !== undefined && b.rcptsPerTransaction !== null) rules.rcptsPerTransaction = nonNegative(b.rcptsPerTransaction, `${path}.rcptsPerTransaction`, 1);
  if (b.block !== undefined && b.block !== null) {
    const p = `${path}.block`;
    if (!isRecord(b.block)) problem(p, 'must be { "afterRcpts": N, "windowMs"?: N, "stage"?: "MAIL"|"RCPT", "reply": "...", "durationMs"?: N }');
    else {
      for (const key of Object.keys(b.block)) if (!['afterRcpts', 'windowMs', 'stage', 'reply', 'durationMs', 'clients', '$comment'].includes(key)) problem(`${p}.${key}`, 'unknown field');
      const afterRcpts = nonNegative(b.block.afterRcpts, `${p}.afterRcpts`);
      const windowMs = b.block.windowMs === undefined ? 0 : nonNegative(b.block.windowMs, `${p}.windowMs`);
      const stage = b.block.stage ?? 'RCPT';
      if (stage !== 'MAIL' && stage !== 'RCPT') problem(`${p}.stage`, 'must be "MAIL" or "RCPT"');
      const reply = template(b.block.reply, `${p}.reply`, '45');
      const durationMs = b.block.durationMs === undefined ? 0 : nonNegative(b.block.durationMs, `${p}.durationMs`);
      let clients: string[] | null = null;
      if (b.block.clients !== undefined && b.block.clients !== null) {
        if (!Array.isArray(b.block.clients) || !b.block.clients.every((c: unknown) => typeof c === 'string')) problem(`${p}.clients`, 'must be a list of client IP addresses');
        else clients = [...(b.block.clients as string[])];
      }
      if (afterRcpts !== null && windowMs !== null && reply !== null && durationMs !== null && (stage === 'MAIL' || stage === 'RCPT')) {
        rules.block = { afterRcpts, windowMs, stage, reply, durationMs, clients };
      }
    }
  }
  if (b.rateLimits !== undefined) {
    if (!Array.isArray(b.rateLimits)) problem(`${path}.rateLimits`, 'must be an array of { "count", "max", "windowMs", "reply" }');
    else {
      b.rateLimits.forEach((raw: unknown, i) => {
        const p = `${path}.rateLimits[${i}]`;
        if (!isRecord(raw)) return problem(p, 'must be { "count": "connection"|"mail"|"rcpt", "max": N, "windowMs": N, "reply": "..." }');
        for (const key of Object.keys(raw)) if (!['count', 'max', 'windowMs', 'reply', '$comment'].includes(key)) problem(`${p}.${key}`, 'unknown field');
        const count = raw.count;
        if (count !== 'connection' && count !== 'mail' && count !== 'rcpt') problem(`${p}.count`, 'must be "connection", "mail" or "rcpt"');
        const max = nonNegative(raw.max, `${p}.max`, 1);
        const windowMs = nonNegative(raw.windowMs, `${p}.windowMs`, 1);
        const reply = template(raw.reply, `${p}.reply`, '45');
        if ((count === 'connection' || count === 'mail' || count === 'rcpt') && max !== null && windowMs !== null && reply !== null) rules.rateLimits.push({ count, max, windowMs, reply });
      });
    }
  }
  return rules;
}
