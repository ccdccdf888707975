/**
 * The address a mail server saw us connect from, when its replies show it: through a SOCKS5 proxy it
 * is the proxy's (PROVIDERS.md: the remote sees the proxy's IP, so HELO, PTR and per-IP limits belong
 * to it), behind NAT it is the public one. Servers print it in the first line of the EHLO reply:
 * Gmail "250-mx.google.com at your service, [203.0.113.5]", Exim "250-mx.example.com Hello
 * name [203.0.113.5]", Microsoft "250-...outlook.com Hello [203.0.113.5]"; a few in the greeting.
 * Postfix shows nothing. Pure.
 */
import { isIP } from 'node:net';
import type { SmtpReply } from '../domain/smtp-reply.ts';

/** "[203.0.113.5]", "[IPv6:2001:db8::5]" or "[2001:db8::5]". */
const BRACKETED = /\[(?:ipv6:)?([0-9a-f:.]+)\]/gi;

/**
 * The client address in the EHLO reply's first line, else in the greeting; never `serverAddress`
 * (a banner may show the server's own). undefined when neither shows one.
 */
export function seenClientAddress(greeting: SmtpReply | undefined, hello: SmtpReply | undefined, serverAddress?: string): string | undefined {
  const candidates = [hello?.lines[0] ?? '', ...(greeting?.lines ?? [])];
  const server = serverAddress?.toLowerCase();
  for (const line of candidates) {
    for (const match of line.matchAll(BRACKETED)) {
      const address = (match[1] ?? '').toLowerCase();
      if (isIP(address) !== 0 && address !== server) return address;
    }
  }
  return undefined;
}
