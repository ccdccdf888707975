/**
 * Flags and suggestions for one address: pure functions over (local part, domain), for the
 * `hygiene_flags` and `hygiene_suggestion` output columns. Flags describe the address, they never
 * change its verdict: a role or free-provider address can be perfectly deliverable.
 */
import spellChecker from '@zootools/email-spell-checker';
import { isDisposableDomain } from './disposable-domains.ts';
import { FREE_PROVIDER_LABELS, isFreeProvider } from './free-providers.ts';
import { isOneEditApart } from './local-part-suggestion.ts';
import { isRoleAccount } from './role-accounts.ts';

/** Stable names (documented API of the hygiene_flags column): add new ones, never rename. */
export const ADDRESS_FLAGS = ['role', 'free', 'disposable', 'typo'] as const;
export type AddressFlag = (typeof ADDRESS_FLAGS)[number];

/** Misspelt endings that are not real top-level domains, and what they were meant to be. */
const TLD_TYPOS: Readonly<Record<string, string>> = {
  con: 'com', cmo: 'com', ocm: 'com', cpm: 'com', vom: 'com', xom: 'com', cim: 'com', comm: 'com', coom: 'com', copm: 'com', c0m: 'com',
  nte: 'net', nett: 'net', nwt: 'net',
  ogr: 'org', orgg: 'org', prg: 'org', ord: 'org',
};

const WELL_KNOWN = new Set(spellChecker.POPULAR_DOMAINS);
/** First labels of well-known and free-provider domains, by length (typo pre-check). */
const KNOWN_LABELS_BY_LENGTH = new Map<number, string[]>();
for (const label of new Set([...[...WELL_KNOWN].map((d) => d.slice(0, d.indexOf('.'))), ...FREE_PROVIDER_LABELS])) {
  KNOWN_LABELS_BY_LENGTH.set(label.length, [...(KNOWN_LABELS_BY_LENGTH.get(label.length) ?? []), label]);
}

/**
 * True when the domain's first label is a well-known provider's, or one edit from one: only then can
 * the checker's answer pass the rules below, so only then is it worth asking (it is by far the most
 * expensive step of a row otherwise).
 */
function nearWellKnown(domain: string): boolean {
  const dot = domain.indexOf('.');
  const label = dot > 0 ? domain.slice(0, dot) : domain;
  for (let length = label.length - 1; length <= label.length + 1; length++) {
    for (const known of KNOWN_LABELS_BY_LENGTH.get(length) ?? []) if (known === label || isOneEditApart(label, known)) return true;
  }
  return false;
}

/**
 * Typo'd domain → the domain it probably meant (gmial.com → gmail.com, acme.con → acme.com).
 * Undefined when the domain looks intended. `domain` is a lower-case A-label.
 *
 * The spell checker alone is too eager (it turns gmx.net into cox.net and acme.test into acme.de),
 * so its answer is only taken when it is one edit away and names a well-known mailbox provider (and
 * the domain as written is not one); other domains only get their misspelt ending fixed (TLD_TYPOS).
 */
export function suggestDomain(domain: string): string | undefined {
  if (isFreeProvider(domain) || WELL_KNOWN.has(domain)) return undefined;
  const dot = domain.lastIndexOf('.');
  const fixedTld = dot > 0 ? TLD_TYPOS[domain.slice(dot + 1)] : undefined;
  const candidate = fixedTld === undefined ? domain : `${domain.slice(0, dot)}.${fixedTld}`;
  // The checker wants a whole address; the local part plays no role in its answer.
  const suggested = nearWellKnown(candidate) ? spellChecker.run({ email: `x@${candidate}` })?.domain?.toLowerCase() : undefined;
  if (suggested && suggested !== candidate && isOneEditApart(candidate, suggested) && (isFreeProvider(suggested) || WELL_KNOWN.has(suggested))) return suggested;
  return candidate === domain ? undefined : candidate;
}

export interface AddressFacts {
  local: string;
  /** Lower-case A-label. */
  domain: string;
}

/** Flags of one address, in ADDRESS_FLAGS order. */
export function flagAddress(address: AddressFacts, domainSuggestion?: string): AddressFlag[] {
  const flags: AddressFlag[] = [];
  if (isRoleAccount(address.local)) flags.push('role');
  if (isFreeProvider(address.domain)) flags.push('free');
  if (isDisposableDomain(address.domain)) flags.push('disposable');
  if (domainSuggestion !== undefined) flags.push('typo');
  return flags;
}

/** The hygiene_flags cell: flags joined with ";" (empty when none). */
export function formatFlags(flags: readonly AddressFlag[]): string {
  return flags.join(';');
}
