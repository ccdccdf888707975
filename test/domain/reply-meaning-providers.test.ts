/**
 * Replies read with their provider (issue 14): readReply with a ProviderContext (the built-in
 * provider table and the match of the MX host's name). Provider-specific meanings apply only at
 * their provider (and segment); block signatures are about us, never about the mailbox; a mailbox
 * named like a blocklist is the list's data, not the server's words.
 */
import { describe, expect, it } from 'vitest';
import { readReply, type ProviderContext } from '../../src/domain/reply-meaning.ts';
import type { SmtpReply } from '../../src/domain/smtp-reply.ts';
import { builtInProviders } from '../../src/providers/provider-file.ts';
import { compileProviderMatcher } from '../../src/providers/provider-matcher.ts';
import { createReplyParser } from '../../src/smtp/reply-parser.ts';

const { table } = builtInProviders();
const matcher = compileProviderMatcher(table);
const at = (mx: string): ProviderContext => ({ table, match: matcher.providerOf([mx]) });
const nowhere: ProviderContext = { table, match: null };

function reply(wire: string): SmtpReply {
  const replies = createReplyParser().push(wire.endsWith('\n') ? wire : `${wire}\r\n`);
  expect(replies).toHaveLength(1);
  return replies[0] as SmtpReply;
}

function read(text: string, ctx: ProviderContext, recipient = 'x@example.test') {
  const m = readReply('rcpt', reply(text), { recipient, sender: 'verify@example.test' }, ctx);
  const c = m.replyClass;
  return { summary: c.kind === 'verdict' ? `${c.status}/${c.reason}` : c.kind, pause: m.pause, block: m.senderBlock?.id ?? null, severity: m.senderBlock?.severity ?? null, refusesUs: m.refusesUs, detail: 'detail' in c ? c.detail : '' };
}

const DBEB = '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]';
const BANNED = '550 5.7.606 Access denied, banned sending IP [127.0.0.1]. To request removal from this list please visit https://sender.office.com/ and follow the directions.';
const SPAMHAUS = '554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1';
const GMAIL_RATE =
  '450-4.2.1 The user you are trying to contact is receiving mail at a rate that\r\n' +
  '450-4.2.1 prevents additional messages from being delivered. Please resend your\r\n' +
  '450 4.2.1  https://support.google.com/mail/?p=ReceivingRate a1si123 - gsmtp\r\n';
const REGIONS = '452 4.5.3 Recipients belong to multiple regions ATTR38 [AM7EUR06FT068.eop-eur06.prod.protection.outlook.com]';

describe('provider-specific reply meanings', () => {
  it("Microsoft 365 DBEB's 5.4.1 Access denied is 'no such user' only at Microsoft business hosts", () => {
    expect(read(DBEB, at('contoso-test.mail.protection.outlook.com')).summary).toBe('undeliverable/mailbox_not_found');
    expect(read(DBEB, at('mx.example.test')).summary).not.toBe('undeliverable/mailbox_not_found');
    expect(read(DBEB, nowhere).summary).not.toBe('undeliverable/mailbox_not_found');
  });

  it("Gmail's 450 4.2.1 per-mailbox rate is a retry of that address, not a pause of the server", () => {
    const r = read(GMAIL_RATE, at('gmail-smtp-in.l.google.com'));
    expect(r.summary).toBe('temporary');
    expect(r.pause).toBe(false);
    expect(r.refusesUs).toBe(false);
  });

  it("Outlook.com's 'Recipients belong to multiple regions' starts a new transaction", () => {
    expect(read(REGIONS, at('outlook-com.olc.protection.outlook.com')).summary).toBe('too_many_recipients');
  });
});

describe('block signatures: about us, never the mailbox', () => {
  it("Microsoft's 5.7.606 banned sending IP is unknown/policy_block with its meaning, a block", () => {
    const r = read(BANNED, at('contoso-test.mail.protection.outlook.com'));
    expect(r).toMatchObject({ summary: 'unknown/policy_block', block: 'microsoft-banned-sending-ip', severity: 'block', refusesUs: true, pause: false });
    expect(r.detail).toMatch(/refused us, not the mailbox/);
  });

  it('Spamhaus through any host is a block naming the list', () => {
    expect(read(SPAMHAUS, nowhere)).toMatchObject({ summary: 'unknown/policy_block', block: 'spamhaus-zen', severity: 'block' });
  });

  it('a mailbox called spamhaus@ that does not exist is mailbox_not_found, not a block', () => {
    const r = read('550 5.1.1 <spamhaus@acme.test>: Recipient address rejected: User unknown in local recipient table', nowhere, 'spamhaus@acme.test');
    expect(r).toMatchObject({ summary: 'undeliverable/mailbox_not_found', block: null });
  });
});
