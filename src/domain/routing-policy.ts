/**
 * Routing: which verdicts go to <name>.rejected.csv and which to <name>.cleaned.csv. Pure.
 * The policy is a set of statuses and reasons; a verdict is rejected when its status OR its reason
 * is in the set. Every row lands in exactly one file because this is a total function.
 */
import { isReason, isStatus, type Reason, type Status, type Verdict } from './verdict.ts';

export interface RejectPolicy {
  statuses: ReadonlySet<Status>;
  reasons: ReadonlySet<Reason>;
}

/** Default: what a sender must not mail (undeliverable), plus rows that cannot be mailed at all. */
export const DEFAULT_REJECT = 'undeliverable,duplicate,missing_email,malformed_row';

export function parseRejectPolicy(spec: string | undefined): RejectPolicy {
  const items = (spec === undefined || spec.trim() === '' ? DEFAULT_REJECT : spec)
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const statuses = new Set<Status>();
  const reasons = new Set<Reason>();
  const unknown: string[] = [];
  for (const item of items) {
    if (isStatus(item)) statuses.add(item);
    else if (isReason(item)) reasons.add(item);
    else unknown.push(item);
  }
  if (unknown.length > 0) {
    throw new Error(`--reject: unknown status or reason "${unknown.join('", "')}" (statuses: deliverable, undeliverable, risky, unknown; reasons: see README)`);
  }
  return { statuses, reasons };
}

export function isRejected(policy: RejectPolicy, verdict: Pick<Verdict, 'status' | 'reason'>): boolean {
  return policy.statuses.has(verdict.status) || policy.reasons.has(verdict.reason);
}

export function describePolicy(policy: RejectPolicy): string {
  return [...policy.statuses, ...policy.reasons].join(',');
}
