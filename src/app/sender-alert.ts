/**
 * A sender block as stored for the user (report.json `alerts`, the CLI's SENDER BLOCKED lines, the
 * HTML alert box, the `sender.blocked` webhook): the engine's SenderBlockEvent (probe/
 * mx-session-pool.ts) turned into a SenderAlert value. Pure. The words: report/alert-text.ts.
 */
import type { SenderAlert } from '../collector/report.ts';
import type { SenderBlockEvent } from '../probe/mx-session-pool.ts';

/**
 * The provider's own code in a block reply, when it has one: Yahoo's `[TSS04]` / `[BL21]`,
 * Microsoft's `S3140`, then the most specific enhanced status code (`5.7.606`, Google's `4.7.28`; not
 * the generic x.0.0 / x.7.0 / x.7.1), then Microsoft's rule id `AS(nnnn)`, then any enhanced code.
 * Provider ids come first: they are what the providers' support pages are indexed by.
 */
export function providerCodeOf(reply: string): string | null {
  const bracketed = /\[([A-Z]{2,4}\d{2,5})\]/.exec(reply) ?? /\b(S\d{4})\b/.exec(reply);
  if (bracketed) return bracketed[1]!;
  const enhanced = [...reply.matchAll(/\b([245]\.\d{1,3}\.\d{1,3})\b/g)].map((m) => m[1]!);
  const specific = enhanced.find((code) => !/\.(0\.0|7\.1|7\.0)$/.test(code));
  if (specific) return specific;
  // Microsoft's AS(nnnn) only says which of its rules fired; an enhanced code says more when there is one.
  const rule = /\b(AS\(\d{3,12}\))/.exec(reply);
  return rule?.[1] ?? enhanced[0] ?? null;
}

export function senderAlert(event: SenderBlockEvent): SenderAlert {
  return {
    provider: event.provider,
    mx: event.mx,
    identity: event.identity,
    blocklist: event.blocklist,
    code: providerCodeOf(event.reply),
    signature: event.signature,
    about: event.about,
    severity: event.severity,
    reply: event.reply.slice(0, 1000),
    means: event.means,
    action: event.action,
    level: event.level,
    cooldownUntil: new Date(event.cooldownUntil).toISOString(),
  };
}
