/**
 * Disposable (throw-away) mailbox domains, from the disposable-email-domains package (exact names
 * plus its wildcard list, which covers every subdomain of a name). Loaded once, on first use.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
let exact: ReadonlySet<string> | null = null;
let wildcard: ReadonlySet<string> | null = null;

function load(): void {
  exact = new Set((require('disposable-email-domains') as string[]).map((d) => d.toLowerCase()));
  wildcard = new Set((require('disposable-email-domains/wildcard.json') as string[]).map((d) => d.toLowerCase()));
}

/** `domain` is a lower-case A-label. A subdomain of a disposable domain is disposable too. */
export function isDisposableDomain(domain: string): boolean {
  if (!exact || !wildcard) load();
  if (exact!.has(domain)) return true;
  for (let dot = domain.indexOf('.'); dot !== -1; dot = domain.indexOf('.', dot + 1)) {
    const parent = domain.slice(dot + 1);
    if (wildcard!.has(parent)) return true;
  }
  return false;
}
