/**
 * Provider identification, table-tested: real MX names of every built-in provider match with the
 * right slug and segment; hostile look-alikes match nothing; the greeting decides only when no MX
 * name does; a domain's provider is its most preferred MX hosts'. Then what replies mean at a
 * provider (the real texts, parsed by our reply parser) and which are block signatures.
 */
import { describe, expect, it } from 'vitest';
import { ReplyParser } from '../../src/smtp/reply-parser.ts';
import type { SmtpReply } from '../../src/domain/smtp-reply.ts';
import { builtInProviders } from '../../src/providers/provider-file.ts';
import { compileProviderMatcher, normaliseHostName } from '../../src/providers/provider-matcher.ts';
import { acceptsAllOf, blockSignatureOf, replyMeaningOf } from '../../src/providers/provider-replies.ts';

const { table } = builtInProviders();
const matcher = compileProviderMatcher(table);

/** One reply as a server sends it, through the real parser. */
function reply(text: string): SmtpReply {
  const parser = new ReplyParser();
  const replies = parser.push(Buffer.from(`${text.split('\n').join('\r\n')}\r\n`));
  if (replies.length !== 1) throw new Error(`expected one reply, got ${replies.length}`);
  return replies[0]!;
}

describe('providerOf: MX host names', () => {
  it.each([
    ['gmail-smtp-in.l.google.com', 'google', 'consumer'],
    ['ALT4.GMAIL-SMTP-IN.L.GOOGLE.COM.', 'google', 'consumer'],
    ['aspmx.l.google.com', 'google', 'workspace'],
    ['alt2.aspmx.l.google.com', 'google', 'workspace'],
    ['aspmx3.googlemail.com', 'google', 'workspace'],
    ['smtp.google.com', 'google', 'workspace'],
    ['mx.google.com', 'google', null],
    ['contoso-com.mail.protection.outlook.com', 'microsoft', 'business'],
    ['contoso-com.o-v1.mx.microsoft', 'microsoft', 'business'],
    ['agency-gov.mail.protection.office365.us', 'microsoft', 'business'],
    ['hotmail-com.olc.protection.outlook.com', 'microsoft', 'consumer'],
    ['eur.olc.protection.outlook.com', 'microsoft', 'consumer'],
    ['802679870.pamx1.hotmail.com', 'microsoft', 'consumer'],
    ['mta7.am0.yahoodns.net', 'yahoo', null],
    ['mx-aol.mail.gm0.yahoodns.net', 'yahoo', null],
    ['mx01.mail.icloud.com', 'apple', null],
    ['mx.zoho.eu', 'zoho', null],
    ['mx.yandex.net', 'yandex', null],
    ['mxs.mail.ru', 'mailru', 'consumer'],
    ['emx.mail.ru', 'mailru', 'business'],
    ['mx00.emig.gmx.net', 'gmx', null],
    ['mx-ha03.web.de', 'gmx', null],
    ['in1-smtp.messagingengine.com', 'fastmail', null],
    ['mail.protonmail.ch', 'proton', null],
    ['smtp.secureserver.net', 'godaddy', null],
    ['mx1.emailsrvr.com', 'rackspace', null],
    ['mx1.mail.ovh.net', 'ovh', null],
    ['mx1.privateemail.com', 'namecheap', null],
    ['mx00.ionos.de', 'ionos', null],
    ['mx0a-00112233.pphosted.com', 'proofpoint', null],
    ['mx1-us1.ppe-hosted.com', 'proofpoint', null],
    ['us-smtp-inbound-1.mimecast.com', 'mimecast', null],
    ['d123456a.ess.barracudanetworks.com', 'barracuda', null],
    ['mx1.hc1234-56.iphmx.com', 'cisco', null],
    ['mx.eu.etd.cisco.com', 'cisco', null],
    ['acme-com.in.tmes.trendmicro.com', 'trendmicro', null],
    ['in.tmes.trendmicro.eu', 'trendmicro', null],
    ['mx-01-eu-west-1.prod.hydra.sophos.com', 'sophos', null],
    ['mx01.hornetsecurity.com', 'hornetsecurity', null],
    ['cluster1.eu.messagelabs.com', 'symantec', null],
    ['mx.antispamcloud.com', 'spamexperts', null],
  ])('%s → %s (%s)', (host, slug, segment) => {
    const match = matcher.providerOf([host]);
    expect(match?.provider.slug).toBe(slug);
    expect(match?.segment).toBe(segment);
    expect(match?.via).toBe('mx');
    expect(match?.host).toBe(host.toLowerCase().replace(/\.$/, ''));
  });

  it.each([
    'evilgoogle.com',
    'google.com.evil.test',
    'gmail-smtp-in.l.google.com.attacker.io',
    'aspmx.l.google.co',
    'googlemail.com-mx.test',
    'notoutlook.com',
    'mail.protection.outlook.com.evil.net',
    'xyahoodns.net',
    'yahoodns.net.evil',
    'fakepphosted.com',
    'pphosted.com.evil.test',
    'icloud.com.cn',
    'mx.microsoft.evil',
    'mimecast.co.evil',
    '..google.com',
    'google..com',
    'google.com..',
    'gmail smtp-in.l.google.com',
    'gmail-smtp-in.l.g\u043e\u043egle.com',
    'xn--ggle-55da.com',
    'google.com\u0000.evil.test',
    '-bad-.google.com',
    `${'a'.repeat(64)}.google.com`,
    `${'a.'.repeat(130)}google.com`,
    '',
    '.',
    'localhost',
  ])('look-alike %j matches nothing', (host) => {
    expect(matcher.providerOf([host])).toBeNull();
  });

  it('takes the first name that matches, in the order given', () => {
    expect(matcher.providerOf(['mx.corp.test', 'aspmx.l.google.com', 'mx1.emailsrvr.com'])?.provider.slug).toBe('google');
    expect(matcher.providerOf([])).toBeNull();
  });

  it('normalises host names: lower case, one trailing dot, valid labels only', () => {
    expect(normaliseHostName(' MX.Example.TEST. ')).toBe('mx.example.test');
    expect(normaliseHostName('a..b')).toBeNull();
    expect(normaliseHostName('a_b.test')).toBe('a_b.test');
  });
});

describe('providerOf: greeting banner', () => {
  it('decides only when no MX name matches', () => {
    const google = matcher.providerOf(['mx.vanity.test'], '220 mx.google.com ESMTP f188si464031wme.109 - gsmtp');
    expect(google).toMatchObject({ provider: { slug: 'google' }, via: 'greeting', host: 'mx.google.com' });
    const ms = matcher.providerOf(['mail.contoso.test'], '220 BN8NAM11FT066.mail.protection.outlook.com Microsoft ESMTP MAIL Service ready at Sun, 22 Jun 2025 05:58:00 +0000');
    expect(ms?.provider.slug).toBe('microsoft');
    expect(ms?.segment).toBeNull();
    expect(matcher.providerOf([], '220 iCloud iscream SMTP proxy - p00-iscream-smtp-d759469dd-ss5bd 3.5.0 (2403B23-529c1e05a5df)')?.provider.slug).toBe('apple');
    expect(matcher.providerOf(['mx1.emailsrvr.com'], '220 mx.google.com ESMTP x - gsmtp')?.provider.slug).toBe('rackspace');
  });

  it('does not take an on-premises Exchange or a banner that only mentions a provider', () => {
    expect(matcher.providerOf([], '220 mail.contoso.test Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2026')).toBeNull();
    expect(matcher.providerOf([], '220 evil.test ESMTP gsmtp')).toBeNull();
    expect(matcher.providerOf([], '220 google.com.evil.test ESMTP gsmtp')).toBeNull();
    expect(matcher.providerOf([], '')).toBeNull();
  });
});

describe('providerForDomain', () => {
  const hosts = (...h: Array<[string, number]>) => ({ kind: 'hosts' as const, hosts: h.map(([exchange, preference]) => ({ exchange, preference })) });

  it("is the most preferred hosts' provider; a backup at a big provider does not count", () => {
    expect(matcher.providerForDomain(hosts(['aspmx.l.google.com', 1], ['alt1.aspmx.l.google.com', 5]))?.provider.slug).toBe('google');
    expect(matcher.providerForDomain(hosts(['mx.corp.test', 10], ['aspmx.l.google.com', 20]))).toBeNull();
    expect(matcher.providerForDomain(hosts(['mx0a-1.pphosted.com', 10], ['corp-com.mail.protection.outlook.com', 20]))?.provider.slug).toBe('proofpoint');
    expect(matcher.providerForDomain({ kind: 'none' })).toBeNull();
    expect(matcher.providerForDomain(hosts())).toBeNull();
  });

  it('gives the same answer whatever the order of equal preferences', () => {
    const a = matcher.providerForDomain(hosts(['us-smtp-inbound-1.mimecast.com', 10], ['mx0a-1.pphosted.com', 10]));
    const b = matcher.providerForDomain(hosts(['mx0a-1.pphosted.com', 10], ['us-smtp-inbound-1.mimecast.com', 10]));
    expect(a?.provider.slug).toBe(b?.provider.slug);
  });
});

describe('what replies mean at a provider', () => {
  const business = matcher.providerOf(['contoso-com.mail.protection.outlook.com']);
  const consumer = matcher.providerOf(['outlook-com.olc.protection.outlook.com']);
  const gmail = matcher.providerOf(['gmail-smtp-in.l.google.com']);
  const dbeb = reply('550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR01FT088.eop-EUR01.prod.protection.outlook.com 2023-06-22T08:26:31.592Z 08DB72B25E50380B]');

  it("reads Microsoft 365's 5.4.1 Access denied as no such user only on its business hosts", () => {
    expect(replyMeaningOf(business, dbeb)?.meaning).toBe('mailbox_not_found');
    expect(replyMeaningOf(consumer, dbeb)).toBeNull();
    expect(replyMeaningOf(matcher.providerOf(['mx.corp.test']), dbeb)).toBeNull();
    expect(replyMeaningOf(gmail, dbeb)).toBeNull();
  });

  it('knows the refusal of a second RCPT and the consumer unknown-user reply', () => {
    expect(replyMeaningOf(business, reply('452 4.5.3 Too many recipients (AS780090) [SN1NAM02FT003.eop-nam02.prod.protection.outlook.com]'))?.meaning).toBe('too_many_recipients');
    expect(replyMeaningOf(consumer, reply('452 4.5.3 Recipients belong to multiple regions ATTR38 [AM7EUR06FT068.eop-eur06.prod.protection.outlook.com]'))?.meaning).toBe('too_many_recipients');
    const s2017 = reply('550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [BN2PEPF000055E0.namprd21.prod.outlook.com 2026-08-05T12:37:17.626Z 08DEEF08480B4F2B]');
    expect(replyMeaningOf(consumer, s2017)?.id).toBe('microsoft-consumer-mailbox-unavailable');
    expect(replyMeaningOf(business, s2017)).toBeNull();
  });

  it("reads Gmail's multi-line replies through the parser", () => {
    const noSuchUser = reply(
      [
        '550-5.1.1 The email account that you tried to reach does not exist. Please try',
        "550-5.1.1 double-checking the recipient's email address for typos or",
        '550-5.1.1 unnecessary spaces. For more information, go to',
        '550 5.1.1  https://support.google.com/mail/?p=NoSuchUser d9443c01a7336-2d0aa22cdbdsi54919075ad.35 - gsmtp',
      ].join('\n'),
    );
    expect(replyMeaningOf(gmail, noSuchUser)?.id).toBe('google-no-such-user');
    const rate = reply(
      [
        '421-4.7.28 [192.0.2.1      4] Our system has detected an unusual rate of',
        '421-4.7.28 unsolicited mail originating from your IP address. To protect our',
        '421-4.7.28 users from spam, mail sent from your IP address has been temporarily',
        '421 4.7.28 rate limited. z1si9679476pln.401 - gsmtp',
      ].join('\n'),
    );
    expect(blockSignatureOf(table, gmail, rate)).toMatchObject({ id: 'google-unusual-rate', severity: 'throttle', about: 'ip' });
  });

  it('finds block signatures: the provider first, then any host', () => {
    const banned = reply(
      '550 5.7.606 Access denied, banned sending IP [192.0.2.1]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609)',
    );
    expect(blockSignatureOf(table, business, banned)).toMatchObject({ id: 'microsoft-banned-sending-ip', about: 'ip', severity: 'block' });
    const zen = reply('554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1');
    expect(blockSignatureOf(table, null, zen)).toMatchObject({ id: 'spamhaus-zen', blocklist: 'zen.spamhaus.org' });
    const msSpamhaus = reply('550 5.7.1 Service unavailable, Client host [192.0.2.1] blocked using Spamhaus. To request removal from this list see https://www.spamhaus.org/query/ip/192.0.2.1 (AS3130).');
    expect(blockSignatureOf(table, business, msSpamhaus)?.id).toBe('microsoft-spamhaus');
    const s3140 = reply(
      "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors.",
    );
    expect(blockSignatureOf(table, consumer, s3140)).toMatchObject({ id: 'microsoft-s3140', about: 'network' });
    const yahoo = matcher.providerOf(['mta5.am0.yahoodns.net']);
    const tss04 = reply('421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes');
    expect(blockSignatureOf(table, yahoo, tss04)).toMatchObject({ id: 'yahoo-tss04', severity: 'throttle' });
    expect(blockSignatureOf(table, yahoo, reply("553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list; see https://postmaster.yahooinc.com/error-codes"))?.id).toBe('yahoo-bl21');
    expect(blockSignatureOf(table, null, reply('450 4.7.1 Error: too many recipients from 192.0.2.1'))?.id).toBe('postfix-anvil-recipient-rate');
    expect(blockSignatureOf(table, null, reply('421 4.7.0 mx.corp.test Error: too many connections from 192.0.2.1'))?.id).toBe('postfix-anvil-connections');
    expect(blockSignatureOf(table, null, reply('554 5.7.0 Blocked - see https://support.proofpoint.com/dnsbl-lookup.cgi?ip=192.0.2.1'))?.id).toBe('proofpoint-dnsbl');
    // A mailbox answer is not a block, even with "blocked" in the address the server echoes.
    expect(blockSignatureOf(table, gmail, reply('550 5.1.1 <blocked@acme.test>: Recipient address rejected: User unknown in virtual mailbox table'))).toBeNull();
  });

  it('says which providers accept every RCPT, and where', () => {
    expect(acceptsAllOf(matcher.providerOf(['mta5.am0.yahoodns.net']))?.reason).toMatch(/250 to every RCPT/);
    expect(acceptsAllOf(matcher.providerOf(['mxs.mail.ru']))).not.toBeNull();
    expect(acceptsAllOf(matcher.providerOf(['emx.mail.ru']))).toBeNull();
    expect(acceptsAllOf(gmail)).toBeNull();
    expect(acceptsAllOf(null)).toBeNull();
  });
});
