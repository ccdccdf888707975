/**
 * Disposable (throw-away) mailbox domains, from the disposable-email-domains package (exact names
 * plus its wildcard list, which covers every subdomain of a name). Loaded once, on first use.
 *
 * Memory: the exact list has ~120k names. Held as a Set (and as the array `require` caches) it cost
 * ~30 MB of heap, most of a collector's live heap; V8 lets the old generation grow to a multiple of
 * the live heap before it collects, so that also raised the peak RSS of every long list. Here it is
 * read once with readFileSync + JSON.parse (nothing cached), sorted, and kept as ONE string with an
 * offset table (~2 MB), searched by binary search without allocating.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface SortedNames {
  /** Every name, sorted by UTF-16 code units, concatenated. */
  text: string;
  /** starts[i] is where name i begins in text; starts[length - 1] is text.length. */
  starts: Uint32Array;
}

let exact: SortedNames | null = null;
let wildcard: ReadonlySet<string> | null = null;

function load(): void {
  // The package's main is index.json: read it directly so require's cache does not keep the array.
  const names = (JSON.parse(readFileSync(require.resolve('disposable-email-domains'), 'utf8')) as string[]).map((d) => d.toLowerCase()).sort();
  const starts = new Uint32Array(names.length + 1);
  let at = 0;
  names.forEach((name, i) => {
    starts[i] = at;
    at += name.length;
  });
  starts[names.length] = at;
  // Flatten now: a rope would be flattened on the first charCodeAt anyway.
  exact = { text: names.join(''), starts };
  wildcard = new Set((require('disposable-email-domains/wildcard.json') as string[]).map((d) => d.toLowerCase()));
}

/** Compares `name` with entry i of the sorted list, like `<` on strings (UTF-16 code units). */
function compareAt(list: SortedNames, i: number, name: string): number {
  const start = list.starts[i]!;
  const length = list.starts[i + 1]! - start;
  const common = Math.min(length, name.length);
  for (let k = 0; k < common; k++) {
    const diff = list.text.charCodeAt(start + k) - name.charCodeAt(k);
    if (diff !== 0) return diff;
  }
  return length - name.length;
}

function hasName(list: SortedNames, name: string): boolean {
  let low = 0;
  let high = list.starts.length - 2;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const order = compareAt(list, mid, name);
    if (order === 0) return true;
    if (order < 0) low = mid + 1;
    else high = mid - 1;
  }
  return false;
}

/** `domain` is a lower-case A-label. A subdomain of a disposable domain is disposable too. */
export function isDisposableDomain(domain: string): boolean {
  if (!exact || !wildcard) load();
  if (hasName(exact!, domain)) return true;
  for (let dot = domain.indexOf('.'); dot !== -1; dot = domain.indexOf('.', dot + 1)) {
    const parent = domain.slice(dot + 1);
    if (wildcard!.has(parent)) return true;
  }
  return false;
}
