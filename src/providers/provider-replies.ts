/**
 * What a reply means at the provider that sent it, read from the provider table: a
 * provider-specific meaning (Microsoft 365's "550 5.4.1 ... Access denied" is "no such user" only on
 * its business hosts) or a block signature (ours is the fault: our IP is listed, our rate is too
 * high). Pure. The reply classifier stays the judge of ordinary replies; these functions only say
 * what the table knows, for the engine to use before or beside it.
 */
import type { SmtpReply } from '../domain/smtp-reply.ts';
import type { ProviderMatch } from './provider-matcher.ts';
import type { AcceptsAll, BlockSignature, ProviderTable, ReplyMeaning, ReplyPattern } from './provider-table.ts';

type ReplyText = Pick<SmtpReply, 'code' | 'enhanced' | 'lines'>;

/** Lines joined by spaces, lower case, runs of white space folded (multi-line replies repeat their code inside the text). */
function replyText(reply: ReplyText): string {
  return reply.lines.join(' ').toLowerCase().replace(/\s+/g, ' ');
}

function matches(pattern: ReplyPattern, reply: ReplyText, text: string): boolean {
  if (pattern.code !== null && pattern.code !== reply.code) return false;
  if (pattern.enhanced !== null && pattern.enhanced !== reply.enhanced) return false;
  return pattern.textIncludes.every((s) => text.includes(s));
}

/** The provider-specific meaning of this reply at this provider (and segment), if the table has one. */
export function replyMeaningOf(match: ProviderMatch | null, reply: ReplyText): ReplyMeaning | null {
  if (match === null) return null;
  const text = replyText(reply);
  for (const meaning of match.provider.replyMeanings) {
    if (meaning.segments !== null && (match.segment === null || !meaning.segments.includes(match.segment))) continue;
    if (matches(meaning.match, reply, text)) return meaning;
  }
  return null;
}

/** The block signature this reply carries: the provider's own first, then those any host may send. */
export function blockSignatureOf(table: ProviderTable, match: ProviderMatch | null, reply: ReplyText): BlockSignature | null {
  const text = replyText(reply);
  for (const signature of match?.provider.blockSignatures ?? []) if (matches(signature.match, reply, text)) return signature;
  for (const signature of table.anyHost.blockSignatures) if (matches(signature.match, reply, text)) return signature;
  return null;
}

/** Why this provider (at this segment) accepts every RCPT, when the table says it does. */
export function acceptsAllOf(match: ProviderMatch | null): AcceptsAll | null {
  const all = match?.provider.acceptsAll ?? null;
  if (all === null || all.segments === null) return all;
  return match !== null && match.segment !== null && all.segments.includes(match.segment) ? all : null;
}
