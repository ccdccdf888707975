/**
 * Likely intended spellings of a local part that a server said does not exist (jhon.doe → john.doe):
 * the variants `hygiene verify --suggest-variants N` probes on the same session. Pure.
 *
 * Ordered by how often each kind of slip happens when people type or transcribe addresses: swapped
 * neighbours first, then a doubled letter typed once or a letter typed twice. Only variants made of
 * the local part's own characters are produced, so they are as safe on the wire as the original.
 */
export function localPartVariants(local: string, limit: number): string[] {
  if (limit <= 0 || local.length < 4 || local.startsWith('"')) return [];
  const seen = new Set<string>([local.toLowerCase()]);
  const out: string[] = [];
  const add = (candidate: string): boolean => {
    const key = candidate.toLowerCase();
    // Dots may not lead, trail or double up in a dot-atom (RFC 5322 §3.2.3).
    if (seen.has(key) || candidate.startsWith('.') || candidate.endsWith('.') || candidate.includes('..')) return false;
    seen.add(key);
    out.push(candidate);
    return out.length >= limit;
  };
  for (let i = 0; i + 1 < local.length; i++) {
    if (local[i] === local[i + 1]) continue;
    if (add(local.slice(0, i) + local[i + 1] + local[i] + local.slice(i + 2))) return out;
  }
  for (let i = 0; i + 1 < local.length; i++) {
    if (local[i] === local[i + 1] && /[a-z]/i.test(local[i]!) && add(local.slice(0, i) + local.slice(i + 1))) return out;
  }
  for (let i = 0; i < local.length; i++) {
    if (/[a-z]/i.test(local[i]!) && local[i] !== local[i + 1] && local[i] !== local[i - 1] && add(local.slice(0, i + 1) + local.slice(i))) return out;
  }
  return out;
}
