/**
 * What the collector appends to a row besides its verdict: the suggestion (a typo'd domain fixed, or
 * the near-identical deliverable mailbox of the same domain for a mailbox_not_found) and the flags.
 * Domain answers (free, disposable, typo) are memoised (bounded) because a list repeats domains many
 * times; the flags are the ones flagAddress gives (a test checks the two agree).
 */
import type { Verdict } from '../domain/verdict.ts';
import { suggestDomain, type AddressFacts } from './address-flags.ts';
import { isDisposableDomain } from './disposable-domains.ts';
import { isFreeProvider } from './free-providers.ts';
import { isRoleAccount } from './role-accounts.ts';
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

/** What depends on the domain only: computed once per domain, not once per row. */
interface DomainFacts {
  free: boolean;
  disposable: boolean;
  /** suggestDomain's answer; undefined until a non-deliverable address of the domain asks. */
  typo?: string | null;
}

export function createAddressAnnotator(deliverable?: Pick<DeliverableIndex, 'suggest'>): AddressAnnotator {
  // Bounded: cleared when full (a list with more domains recomputes some, never grows without end).
  const domainMemo = new Map<string, DomainFacts>();
  const factsOf = (domain: string): DomainFacts => {
    let facts = domainMemo.get(domain);
    if (facts === undefined) {
      facts = { free: isFreeProvider(domain), disposable: isDisposableDomain(domain) };
      if (domainMemo.size >= MEMO_LIMIT) domainMemo.clear();
      // Keyed by a copy: the domain is usually a slice of a 64 KiB chunk of the input file, and a
      // memo key per domain would keep those chunks alive (tens of MB on a long list).
      domainMemo.set((' ' + domain).slice(1), facts);
    }
    return facts;
  };
  return {
    annotate(address, verdict) {
      const facts = factsOf(address.domain);
      // A mailbox that exists is not a typo, whatever its domain looks like.
      let typo: string | undefined;
      if (verdict.status !== 'deliverable') {
        if (facts.typo === undefined) facts.typo = suggestDomain(address.domain) ?? null;
        typo = facts.typo ?? undefined;
      }
      // Same flags, same order as flagAddress (ADDRESS_FLAGS order), with the domain parts memoised.
      let flags = isRoleAccount(address.local) ? 'role' : '';
      if (facts.free) flags += flags === '' ? 'free' : ';free';
      if (facts.disposable) flags += flags === '' ? 'disposable' : ';disposable';
      if (typo !== undefined) flags += flags === '' ? 'typo' : ';typo';
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
