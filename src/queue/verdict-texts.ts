/**
 * How a list's verdicts are stored. The :verdicts hash maps an address key to either the verdict's
 * JSON or, when the same JSON was saved for several addresses at once, a reference `#<id>` to the
 * text kept once in the :vtext hash (id: the first 16 hex digits of its SHA-1, computed by Redis).
 *
 * Why: most verdicts repeat verbatim (every address of a syntax-only run, a domain's catch-all or
 * policy answer, a cache hit batch). Writing ~170 bytes of JSON per address was most of what a verify
 * job sent to Redis, most of what the collector read back, and the bulk of a big list's Redis memory.
 */
import type { Redis } from 'ioredis';

export const VERDICT_REF_MARK = '#';

/** Whether a stored :verdicts value is a reference (JSON always starts with '{'). */
export function isVerdictRef(value: string): boolean {
  return value.charCodeAt(0) === 0x23;
}

/**
 * Turns stored :verdicts values into JSON texts, fetching the referenced texts it has not seen
 * (one HMGET per call at most). `cache` keeps texts across calls (bounded by its caller's choice);
 * a reference whose text is missing (cannot happen unless keys were deleted by hand) reads as null.
 */
export async function resolveVerdictTexts(redis: Redis, vtextKey: string, values: ReadonlyArray<string | null>, cache: Map<string, string>, cacheLimit = 10_000): Promise<Array<string | null>> {
  const missing = new Set<string>();
  for (const value of values) if (value && isVerdictRef(value) && !cache.has(value)) missing.add(value);
  if (missing.size > 0) {
    const refs = [...missing];
    const texts = await redis.hmget(vtextKey, ...refs.map((ref) => ref.slice(1)));
    if (cache.size + refs.length > cacheLimit) cache.clear();
    refs.forEach((ref, i) => {
      const text = texts[i];
      if (text) cache.set(ref, text);
    });
  }
  return values.map((value) => (value && isVerdictRef(value) ? (cache.get(value) ?? null) : value));
}
