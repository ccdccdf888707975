/**
 * What the collector appends to a row besides its verdict: the suggestion (a typo'd domain fixed, or
 * the near-identical deliverable mailbox of the same domain for a mailbox_not_found) and the flags.
 * Domain answers are memoised (bounded) because a list repeats a few domains many times.
 */
import type { Verdict } from '../domain/verdict.ts';
import { flagAddress, formatFlags, suggestDomain, type AddressFacts } from './address-flags.ts';
import type { DeliverableIndex } from './deliverable-index.ts';

export interface Annotation {
  /** Full suggested address, when there is one. */
  suggestion?: string;
  /** hygiene_flags cell, e.g. "role;free". */
  flags: string;
}

export interface AddressAnnotator {
  annotate(address: AddressFacts, verdict: Verdict): Annotation;
}

const MEMO_LIMIT = 50_000;

export function createAddressAnnotator(deliverable?: DeliverableIndex): AddressAnnotator {
  const domainMemo = new Map<string, string | null>();
  const domainSuggestion = (domain: string): string | undefined => {
    let memo = domainMemo.get(domain);
    if (memo === undefined) {
      memo = suggestDomain(domain) ?? null;
      if (domainMemo.size >= MEMO_LIMIT) domainMemo.clear();
      domainMemo.set(domain, memo);
    }
    return memo ?? undefined;
  };
  return {
    annotate(address, verdict) {
      // A mailbox that exists is not a typo, whatever its domain looks like.
      const typo = verdict.status === 'deliverable' ? undefined : domainSuggestion(address.domain);
      const flags = formatFlags(flagAddress(address, typo));
      // A verdict's own suggestion wins; a deliverable address needs no correction.
      if (verdict.suggestion) return { suggestion: verdict.suggestion, flags };
      if (typo !== undefined) return { suggestion: `${address.local}@${typo}`, flags };
      if (verdict.reason === 'mailbox_not_found' && deliverable) {
        const suggestion = deliverable.suggest(address.local, address.domain);
        if (suggestion !== undefined) return { suggestion, flags };
      }
      return { flags };
    },
  };
}
