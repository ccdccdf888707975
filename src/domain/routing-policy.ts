/**
 * Routing: which verdicts go to <name>.rejected.csv and which to <name>.cleaned.csv. Pure.
 * The policy is a set of statuses and reasons; a verdict is rejected when its status OR its reason
 * is in the set. Every row lands in exactly one file because this is a total function.
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

export function parseRejectPolicy(spec: string | undefined): RejectPolicy {
  const items = (spec === undefined || spec.trim() === '' ? DEFAULT_REJECT : spec)
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const statuses = new Set<Status>();
  const reasons = new Set<Reason>();
  const flags = new Set<string>();
  const unknown: string[] = [];
  for (const item of items) {
    if (isStatus(item)) statuses.add(item);
    else if (isReason(item)) {
      reasons.add(item);
      const flag = FLAG_OF_REASON[item];
      if (flag) flags.add(flag);
    } else if (FLAG_NAMES.has(item)) flags.add(item);
    else unknown.push(item);
  }
  if (unknown.length > 0) {
    throw new Error(`--reject: unknown status, reason or flag "${unknown.join('", "')}" (statuses: deliverable, undeliverable, risky, unknown; flags: role, free, disposable, typo; reasons: see README)`);
  }
  return { statuses, reasons, flags };
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
