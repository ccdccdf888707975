/**
 * Asks our resolver about a few well-known mail domains (HYGIENE_DNS_CANARIES, default gmail.com,
 * outlook.com, yahoo.com) to tell "these domains do not exist" from "our resolver is failing or
 * lying": when the domains of a list all fail to resolve and so do names that certainly exist, the
 * resolver is ours to fix. Used by the DNS sanity stop (probe/dns-sanity-guard.ts) and `hygiene doctor`.
 *
 * A canary that fails is evidence, never proof on its own: a private resolver may simply not know
 * public names, so callers decide from the list's own domains plus these answers.
 */
import type { MxResolution, MxResolver } from './mx-resolver.ts';

export interface CanaryAnswers {
  /** Names that got a real answer (MX hosts, null MX, or "exists without mail"). */
  resolved: string[];
  /** Names that failed (NXDOMAIN, SERVFAIL, REFUSED, timeouts), with what the resolver said. */
  failed: Array<{ name: string; detail: string }>;
}

/** A real answer from the domain's own zone, as opposed to "no such domain" or a lookup failure. */
export function isResolved(resolution: MxResolution): boolean {
  return resolution.kind === 'hosts' || resolution.reason === 'null_mx' || resolution.reason === 'no_mail_server';
}

export async function askCanaries(resolver: MxResolver, names: readonly string[]): Promise<CanaryAnswers> {
  const answers = await Promise.all(
    names.map(async (name): Promise<{ name: string; resolution?: MxResolution; error?: string }> => {
      try {
        return { name, resolution: await resolver.resolve(name) };
      } catch (err) {
        return { name, error: (err as Error).message };
      }
    }),
  );
  const result: CanaryAnswers = { resolved: [], failed: [] };
  for (const { name, resolution, error } of answers) {
    if (resolution !== undefined && isResolved(resolution)) result.resolved.push(name);
    else result.failed.push({ name, detail: resolution?.kind === 'none' ? resolution.detail : (error ?? 'the lookup failed') });
  }
  return result;
}
