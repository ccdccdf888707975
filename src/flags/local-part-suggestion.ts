/**
 * Local-part suggestions for addresses the server rejected as unknown: when another address of the
 * same domain in the same list was verified deliverable and is one edit away (a swap of two
 * neighbouring characters, one insertion, deletion or substitution), that is probably what was
 * meant: jhon.doe@acme.test → john.doe@acme.test. Pure; the caller supplies the deliverable local
 * parts (see DeliverableIndex).
 */

/** True when a and b differ by exactly one edit (Damerau: adjacent transposition counts as one). */
export function isOneEditApart(a: string, b: string): boolean {
  if (a === b) return false;
  const la = a.length;
  const lb = b.length;
  if (Math.abs(la - lb) > 1) return false;
  let i = 0;
  while (i < la && i < lb && a[i] === b[i]) i++;
  if (la === lb) {
    // Substitution at i, or transposition of i and i+1.
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  }
  // Insertion/deletion at i.
  return la > lb ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

const MIN_LOCAL_LENGTH = 4;

/**
 * The deliverable local part one edit away from `local` (compared lower-case), or undefined when
 * there is none or more than one (an ambiguous guess is no suggestion).
 */
export function suggestLocalPart(local: string, deliverable: Iterable<string>): string | undefined {
  const wanted = local.toLowerCase();
  // One edit turns almost any 2–3 letter name into another: no guess below this length.
  if (wanted.length < MIN_LOCAL_LENGTH) return undefined;
  let found: string | undefined;
  for (const candidate of deliverable) {
    if (!isOneEditApart(wanted, candidate.toLowerCase())) continue;
    if (found !== undefined && found.toLowerCase() !== candidate.toLowerCase()) return undefined;
    found = candidate;
  }
  return found;
}
