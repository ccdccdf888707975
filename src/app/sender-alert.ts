/**
 * A sender block as stored for the user (report.json `alerts`, the CLI's SENDER BLOCKED lines, the
 * HTML alert box, the `sender.blocked` webhook): the engine's SenderBlockEvent (probe/
 * mx-session-pool.ts) turned into a SenderAlert value. Pure. The words: report/alert-text.ts.
 */
import type { SenderAlert } from '../collector/report.ts';
import type { SenderBlockEvent } from '../probe/mx-session-pool.ts';

/**
 * The provider's own code in a block reply, when it has one: Microsoft's `S3140` /
 * `AS(201806281)`-style ids and enhanced codes like `5.7.606`, Yahoo's `[TSS04]` / `[BL21]`, Google's
 * `4.7.28`. Bracketed provider ids are preferred over enhanced status codes (they are what the
 * provider's support pages are indexed by); otherwise the most specific enhanced code (not the
 * generic x.0.0 / x.7.1).
 */
export function providerCodeOf(reply: string): string | null {
  const bracketed = /\[([A-Z]{2,4}\d{2,5})\]/.exec(reply);
  if (bracketed) return bracketed[1]!;
  const microsoft = /\b(S\d{4})\b/.exec(reply) ?? /\b(AS\(\d{3,12}\))/.exec(reply);
  if (microsoft) return microsoft[1]!;
  const enhanced = [...reply.matchAll(/\b([245]\.\d{1,3}\.\d{1,3})\b/g)].map((m) => m[1]!);
  const specific = enhanced.find((code) => !/\.(0\.0|7\.1|7\.0)$/.test(code));
  return specific ?? enhanced[0] ?? null;
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
