/**
 * "Did you mean …?" for mistyped commands and flags: the closest known name by edit distance
 * (Damerau–Levenshtein, optimal string alignment: a swap of two neighbours counts as one edit,
 * the commonest typo). Pure; imports nothing.
 */

/** Edits (insert, delete, replace, swap of neighbours) that turn `a` into `b`. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]![j]!;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      d[i]![j] = best;
    }
  }
  return at(rows - 1, cols - 1);
}

/**
 * The candidate closest to `input` (case-insensitive), or undefined when none is close enough to be a
 * plausible typo: at most 2 edits, and fewer edits than half the input's length (so "x" does not
 * suggest "verify"). Otherwise the one candidate that starts with the input ("sched" → "schedule")
 * or that the input starts with ("--output" → "--out"), when exactly one does. Ties go to the
 * earlier candidate.
 */
export function closestMatch(input: string, candidates: readonly string[]): string | undefined {
  const typed = input.toLowerCase();
  if (typed.length === 0) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(typed, name.toLowerCase());
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  if (best && best.distance <= 2 && best.distance * 2 < typed.length) return best.name;
  if (typed.length < 3) return undefined;
  const related = candidates.filter((name) => {
    const known = name.toLowerCase();
    return known.startsWith(typed) || (known.replace(/^-+/, '').length >= 3 && typed.startsWith(known));
  });
  return related.length === 1 ? related[0] : undefined;
}
