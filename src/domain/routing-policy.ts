/**
 * Routing: which verdicts go to <name>.rejected.csv and which to <name>.cleaned.csv. Pure.
 * The policy is a set of statuses, reasons and hygiene_flags names; a verdict is rejected when its
 * status OR its reason (OR one of its flags) is in the set. Every row lands in exactly one file
 * because this is a total function. A user's list extends the default (see parseRejectPolicy).
 * One exception: a verdict whose reason is about us, not the address (policy_block: our IP, HELO or
 * sender refused; throttled: the server slowed us down) is never rejected by its status alone
 * (`--reject unknown`), only when its reason is named: our fault must not cost the user a contact.
 */
import { OUR_FAULT_REASONS } from './fault-owner.ts';
import { isReason, isStatus, type Reason, type Status, type Verdict } from './verdict.ts';

export interface RejectPolicy {
  statuses: ReadonlySet<Status>;
  reasons: ReadonlySet<Reason>;
  /** Names from the hygiene_flags column (role, free, disposable, typo): a row with any is rejected. */
  flags: ReadonlySet<string>;
}

/** The hygiene_flags names (documented output API), so a policy can reject e.g. disposable addresses. */
const FLAG_NAMES = new Set(['role', 'free', 'disposable', 'typo']);
/** Reasons that describe an address the way a flag does: naming the reason rejects flagged rows too. */
const FLAG_OF_REASON: Partial<Record<Reason, string>> = { role_account: 'role', disposable: 'disposable' };

/** Default: what a sender must not mail (undeliverable), plus rows that cannot be mailed at all. */
export const DEFAULT_REJECT = 'undeliverable,duplicate,missing_email,malformed_row';

/**
 * A policy from exact names (statuses, reasons, flag names), nothing added. Throws naming every
 * unknown word at once.
 */
function policyOf(names: readonly string[], label: string): RejectPolicy {
  const statuses = new Set<Status>();
  const reasons = new Set<Reason>();
  const flags = new Set<string>();
  const unknown: string[] = [];
  for (const item of names) {
    if (isStatus(item)) statuses.add(item);
    else if (isReason(item)) {
      reasons.add(item);
      const flag = FLAG_OF_REASON[item];
      if (flag) flags.add(flag);
    } else if (FLAG_NAMES.has(item)) flags.add(item);
    else unknown.push(item);
  }
  if (unknown.length > 0) throw unknownNames(label, unknown);
  return { statuses, reasons, flags };
}

function unknownNames(label: string, unknown: readonly string[]): Error {
  return new Error(`${label}: unknown status, reason or flag "${unknown.join('", "')}" (statuses: deliverable, undeliverable, risky, unknown; flags: role, free, disposable, typo; reasons: see README)`);
}

const isName = (name: string): boolean => isStatus(name) || isReason(name) || FLAG_NAMES.has(name);

export const DEFAULT_POLICY: RejectPolicy = policyOf(DEFAULT_REJECT.split(','), 'default');

/**
 * Parses a reject list (--reject, HYGIENE_REJECT, the API's `reject`, what a schedule runs with).
 * A list EXTENDS the policy in effect (`base`: the built-in default, or HYGIENE_REJECT for --reject
 * and for the API), so naming what to add never silently drops a default (`--reject risky,unknown`
 * still rejects duplicates):
 * - `name` (or `+name`) adds a status, reason or hygiene_flags name;
 * - `-name` removes one (`--reject=-duplicate` keeps duplicates in cleaned); removing a name the
 *   list does not hold is an error, not a silent no-op;
 * - a leading `=` replaces instead: `=undeliverable` rejects undeliverable rows and nothing else.
 * Empty or absent: `base` as it is.
 */
export function parseRejectPolicy(spec: string | undefined, base: RejectPolicy = DEFAULT_POLICY, label = '--reject'): RejectPolicy {
  const text = (spec ?? '').trim();
  if (text === '') return base;
  const replace = text.startsWith('=');
  const items = (replace ? text.slice(1) : text)
    .split(',')
    .map((item) => item.trim().toLowerCase())
    .filter(Boolean);
  if (replace && items.length === 0) throw new Error(`${label}: "=" replaces the list, so it needs one (e.g. ${label}=undeliverable: only undeliverable rows are rejected)`);
  const names = replace ? [] : namesOf(base);
  const unknown: string[] = [];
  const absent: string[] = [];
  for (const item of items) {
    if (item.startsWith('=')) throw new Error(`${label}: "=" (replace the list) may only start it, as in =undeliverable,duplicate`);
    const name = item.replace(/^[-+]/, '');
    if (!isName(name)) {
      unknown.push(item);
      continue;
    }
    const at = names.indexOf(name);
    if (!item.startsWith('-')) {
      if (at < 0) names.push(name);
    } else if (at < 0) absent.push(name);
    else names.splice(at, 1);
  }
  if (unknown.length > 0) throw unknownNames(label, unknown);
  if (absent.length > 0) {
    throw new Error(`${label}: cannot remove "${absent.join('", "')}": not in the list (${namesOf(base).join(',') || 'empty'}); to reject only some reasons of a status, replace the list with the reasons, e.g. =mailbox_not_found,duplicate`);
  }
  return policyOf(names, label);
}

/**
 * The policy stored with a list (describePolicy's exact names, as the list was started with): never
 * extended, so a list resumed or collected by another process routes exactly as it was asked to.
 */
export function restoreRejectPolicy(stored: string | undefined): RejectPolicy {
  if (stored === undefined) return DEFAULT_POLICY;
  const names = stored.replace(/^\s*=/, '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return policyOf(names, 'stored reject policy');
}

function namesOf(policy: RejectPolicy): string[] {
  return describePolicy(policy).split(',').filter(Boolean);
}

/** @param flags the row's hygiene_flags cell ("role;free"), when it has one */
export function isRejected(policy: RejectPolicy, verdict: Pick<Verdict, 'status' | 'reason'>, flags?: string): boolean {
  if (policy.reasons.has(verdict.reason)) return true;
  if (policy.statuses.has(verdict.status) && !OUR_FAULT_REASONS.has(verdict.reason)) return true;
  if (!flags || policy.flags.size === 0) return false;
  return flags.split(';').some((flag) => policy.flags.has(flag));
}

export function describePolicy(policy: RejectPolicy): string {
  const flagsOfReasons = new Set([...policy.reasons].map((r) => FLAG_OF_REASON[r]));
  return [...policy.statuses, ...policy.reasons, ...[...policy.flags].filter((f) => !flagsOfReasons.has(f))].join(',');
}
