/**
 * The provider world (samples/world-providers.json): hosts under Google's, Microsoft's, Yahoo's,
 * Apple's and the gateways' real MX names, answered by the world's private DNS on loopback and
 * driven here with the raw SMTP client. Asserts the exact reply texts, the 452 on the 2nd RCPT of a
 * Microsoft transaction, the ban after N RCPTs and its duration, provider-wide rate windows and
 * counters across all of a provider's names and addresses, and that the provider table recognises
 * every text the world sends. Real DNS is forbidden for the whole file.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDnsMxResolver } from '../../src/dns/mx-resolver.ts';
import type { SmtpReply } from '../../src/domain/smtp-reply.ts';
import { builtInProviders } from '../../src/providers/provider-file.ts';
import { compileProviderMatcher } from '../../src/providers/provider-matcher.ts';
import { blockSignatureOf, replyMeaningOf } from '../../src/providers/provider-replies.ts';
import { ReplyParser } from '../../src/smtp/reply-parser.ts';
import { loadWorldSpecFile, startMailWorld, type MailWorld } from '../../src/world/mail-world.ts';
import type { WorldSpec } from '../../src/world/world-spec.ts';
import { forbidRealDns, type RealDnsGuard } from '../helpers/no-real-dns.ts';
import { providerOfDomain } from './provider-expectations.ts';
import { connectRaw, type RawSmtpClient } from './raw-smtp-client.ts';

const { table } = builtInProviders();
const matcher = compileProviderMatcher(table);

let spec: WorldSpec;
let guard: RealDnsGuard;
let world: MailWorld | null = null;
const clients: RawSmtpClient[] = [];

beforeAll(async () => {
  guard = forbidRealDns();
  spec = await loadWorldSpecFile('samples/world-providers.json');
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await world?.stop();
  world = null;
});
afterAll(() => {
  guard.restore();
  expect(guard.attempts).toEqual([]);
});

function ipOf(host: string, index = 0): string {
  const h = spec.mxHosts[host];
  if (!h) throw new Error(`no host ${host}`);
  const ip = [h.ip, ...h.extraIps][index];
  if (!ip) throw new Error(`${host} has no address #${index}`);
  return ip;
}

async function open(host: string, index = 0): Promise<{ c: RawSmtpClient; greeting: string }> {
  if (!world) throw new Error('no world');
  const c = await connectRaw(ipOf(host, index), world.smtpPort);
  clients.push(c);
  return { c, greeting: await c.reply() };
}

async function ask(c: RawSmtpClient, line: string): Promise<string> {
  c.send(line);
  return c.reply();
}

/** A session after EHLO and MAIL FROM. */
async function transaction(host: string, index = 0): Promise<RawSmtpClient> {
  const { c } = await open(host, index);
  expect(await ask(c, 'EHLO verifier.example.test')).toMatch(/^250[ -]/);
  expect(await ask(c, 'MAIL FROM:<verify@example.test>')).toMatch(/^250 /);
  return c;
}

/** A reply text as the engine's parser reads it. */
function parsed(text: string): SmtpReply {
  const replies = new ReplyParser().push(`${text.split('\n').join('\r\n')}\r\n`);
  expect(replies).toHaveLength(1);
  return replies[0]!;
}

const SID = '[0-9a-z]+si[0-9a-z]+\\.\\d+';

describe('provider world: DNS', () => {
  it('answers the real MX names on loopback only, several addresses per provider', async () => {
    world = await startMailWorld(spec);
    const resolver = createDnsMxResolver({ servers: world.dnsServers, timeoutMs: 500, tries: 1 });
    const gmail = await resolver.resolve('gmail.com');
    if (gmail.kind !== 'hosts') throw new Error('expected hosts');
    expect(gmail.hosts.map((h) => h.exchange)).toEqual(['gmail-smtp-in.l.google.com', ...[1, 2, 3, 4].map((i) => `alt${i}.gmail-smtp-in.l.google.com`)]);
    expect(gmail.hosts[0]?.addresses).toEqual(['127.0.14.10', '127.0.14.11']);
    const workspace = await resolver.resolve('wideworld.test');
    expect(workspace).toMatchObject({ kind: 'hosts', hosts: [{ exchange: 'smtp.google.com', addresses: ['127.0.14.26', '127.0.14.27', '127.0.14.28', '127.0.14.29'] }] });
    for (const domain of Object.keys(spec.domains)) {
      const r = await resolver.resolve(domain);
      if (r.kind !== 'hosts') throw new Error(`${domain}: ${r.kind}`);
      for (const h of r.hosts) for (const a of h.addresses) expect(a).toMatch(/^127\.0\.14\./);
      // The world's domains are at the providers their MX names say.
      expect(matcher.providerForDomain(r)?.provider.slug ?? '').toBe(providerOfDomain(domain));
    }
    // A name the world does not know is NXDOMAIN from the world, never a question to real DNS.
    expect(await resolver.resolve('google.com')).toMatchObject({ kind: 'none', reason: 'no_such_domain' });
  });
});

describe('provider world: Google', () => {
  it('answers with Gmail texts, multi-line where Gmail is', async () => {
    world = await startMailWorld(spec);
    const { c, greeting } = await open('gmail-smtp-in.l.google.com');
    expect(greeting).toMatch(new RegExp(`^220 mx\\.google\\.com ESMTP ${SID} - gsmtp$`));
    expect(matcher.providerOf(['mx.vanity.test'], greeting)?.provider.slug).toBe('google');
    const ehlo = await ask(c, 'EHLO verifier.example.test');
    expect(ehlo.split('\n')[0]).toBe('250-mx.google.com at your service, [127.0.0.1]');
    expect(ehlo).toContain('250-PIPELINING');
    expect(await ask(c, 'MAIL FROM:<verify@example.test>')).toMatch(new RegExp(`^250 2\\.1\\.0 OK ${SID} - gsmtp$`));
    expect(await ask(c, 'RCPT TO:<john.smith@gmail.com>')).toMatch(new RegExp(`^250 2\\.1\\.5 OK ${SID} - gsmtp$`));

    const unknown = await ask(c, 'RCPT TO:<no.such.user@gmail.com>');
    const sid = /NoSuchUser (\S+) - gsmtp$/.exec(unknown)?.[1];
    expect(unknown).toBe(
      [
        '550-5.1.1 The email account that you tried to reach does not exist. Please try',
        "550-5.1.1 double-checking the recipient's email address for typos or",
        '550-5.1.1 unnecessary spaces. For more information, go to',
        `550 5.1.1  https://support.google.com/mail/?p=NoSuchUser ${sid} - gsmtp`,
      ].join('\n'),
    );
    const gmail = matcher.providerOf(['gmail-smtp-in.l.google.com']);
    expect(replyMeaningOf(gmail, parsed(unknown))?.meaning).toBe('mailbox_not_found');
    const disabled = await ask(c, 'RCPT TO:<old.account@gmail.com>');
    expect(disabled).toMatch(/^550-5\.2\.1 The email account that you tried to reach is disabled\./);
    expect(replyMeaningOf(gmail, parsed(disabled))?.meaning).toBe('mailbox_disabled');
    const full = await ask(c, 'RCPT TO:<busy.person@gmail.com>');
    expect(full.split('\n')[0]).toBe('552-5.2.2 The email account that you tried to reach is over quota and inactive.');
    expect(replyMeaningOf(gmail, parsed(full))?.meaning).toBe('mailbox_full');
    const throttled = await ask(c, 'RCPT TO:<popular.person@gmail.com>');
    expect(throttled.split('\n')[0]).toBe('450-4.2.1 The user you are trying to contact is receiving mail at a rate that');
    expect(replyMeaningOf(gmail, parsed(throttled))?.meaning).toBe('throttled');
    expect(await ask(c, 'QUIT')).toMatch(new RegExp(`^221 2\\.0\\.0 closing connection ${SID} - gsmtp$`));
  });

  it('throttles a client past 40 RCPTs a minute counted across every Google name and address', async () => {
    world = await startMailWorld(spec);
    const first = await transaction('gmail-smtp-in.l.google.com', 0);
    const second = await transaction('gmail-smtp-in.l.google.com', 1);
    const workspace = await transaction('alt3.aspmx.l.google.com');
    for (let i = 0; i < 15; i++) expect(await ask(first, 'RCPT TO:<jane.doe@gmail.com>')).toMatch(/^250 2\.1\.5 OK/);
    for (let i = 0; i < 15; i++) expect(await ask(second, 'RCPT TO:<jane.doe@gmail.com>')).toMatch(/^250 2\.1\.5 OK/);
    for (let i = 0; i < 10; i++) expect(await ask(workspace, 'RCPT TO:<alice@northwind.test>')).toMatch(/^250 2\.1\.5 OK/);
    // The 41st, on yet another name: Workspace wording, and the session is closed.
    const throttled = await ask(workspace, 'RCPT TO:<alice@northwind.test>');
    expect(throttled.split('\n')[0]).toBe('421-4.7.28 [127.0.0.1      15] Our system has detected an unusual rate of');
    expect(throttled.split('\n').at(-1)).toMatch(new RegExp(`^421 4\\.7\\.28 review our Bulk Email Senders Guidelines\\. ${SID} - gsmtp$`));
    await workspace.closed;
    expect(blockSignatureOf(table, matcher.providerOf(['alt3.aspmx.l.google.com']), parsed(throttled))).toMatchObject({ id: 'google-unusual-rate', severity: 'throttle' });
    // The consumer hosts say the same in Gmail's words.
    const gmail = await ask(first, 'RCPT TO:<jane.doe@gmail.com>');
    expect(gmail.split('\n')[0]).toBe('421-4.7.0 [127.0.0.1      15] Our system has detected an unusual rate of');
    await first.closed;
    const google = world.operatorStats().google;
    expect(google).toMatchObject({ rcptCount: 42, rateLimited: 2, maxConcurrentSessions: 3, blocksServed: 0, dataSeen: 0 });
    expect(world.stats()['gmail-smtp-in.l.google.com']).toMatchObject({ sessionsOpened: 2, maxConcurrentSessions: 2, rcptCount: 31 });
    expect(world.stats()['alt3.aspmx.l.google.com']).toMatchObject({ sessionsOpened: 1, rcptCount: 11, rateLimited: 1 });
  });
});

describe('provider world: Microsoft', () => {
  it('Microsoft 365 with DBEB: 250 Recipient OK, 452 4.5.3 on the 2nd RCPT, 550 5.4.1 for unknown users', async () => {
    world = await startMailWorld(spec);
    const { c, greeting } = await open('contoso-test.mail.protection.outlook.com');
    expect(greeting).toMatch(/^220 BN8NAM11FT066\.mail\.protection\.outlook\.com Microsoft ESMTP MAIL Service ready at \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
    expect((await ask(c, 'EHLO verifier.example.test')).split('\n')[0]).toBe('250-BN8NAM11FT066.mail.protection.outlook.com Hello [127.0.0.1]');
    expect(await ask(c, 'MAIL FROM:<verify@example.test>')).toBe('250 2.1.0 Sender OK');
    expect(await ask(c, 'RCPT TO:<ivan@contoso.test>')).toBe('250 2.1.5 Recipient OK');
    const second = await ask(c, 'RCPT TO:<judy@contoso.test>');
    expect(second).toBe('452 4.5.3 Too many recipients (AS780090) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]');
    const business = matcher.providerOf(['contoso-test.mail.protection.outlook.com']);
    expect(replyMeaningOf(business, parsed(second))?.meaning).toBe('too_many_recipients');
    // A new transaction starts the count again.
    expect(await ask(c, 'RSET')).toBe('250 2.0.0 Ok');
    expect(await ask(c, 'MAIL FROM:<verify@example.test>')).toBe('250 2.1.0 Sender OK');
    const ghost = await ask(c, 'RCPT TO:<ghost@contoso.test>');
    expect(ghost).toBe('550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]');
    expect(replyMeaningOf(business, parsed(ghost))?.meaning).toBe('mailbox_not_found');
    expect(await ask(c, 'RCPT TO:<judy@contoso.test>')).toMatch(/^452 4\.5\.3 Too many recipients \(AS780090\)/);
    expect(world.stats()['contoso-test.mail.protection.outlook.com']?.tooManyRecipients).toBe(2);
  });

  it('a tenant without DBEB accepts everyone; Outlook.com words unknown users and the 2nd RCPT its own way', async () => {
    world = await startMailWorld(spec);
    const open365 = await transaction('tailspin-test.mail.protection.outlook.com');
    expect(await ask(open365, 'RCPT TO:<nobody-at-all@tailspin.test>')).toBe('250 2.1.5 Recipient OK');
    const consumer = await transaction('outlook-com.olc.protection.outlook.com', 1);
    const unknown = await ask(consumer, 'RCPT TO:<not.a.user@outlook.com>');
    expect(unknown).toBe('550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [AM7EUR06FT068.eop-eur06.prod.protection.outlook.com]');
    const outlook = matcher.providerOf(['outlook-com.olc.protection.outlook.com']);
    expect(replyMeaningOf(outlook, parsed(unknown))?.meaning).toBe('mailbox_not_found');
    const second = await ask(consumer, 'RCPT TO:<grace.lee@outlook.com>');
    expect(second).toBe('452 4.5.3 Recipients belong to multiple regions ATTR38 [AM7EUR06FT068.eop-eur06.prod.protection.outlook.com]');
    expect(replyMeaningOf(outlook, parsed(second))?.meaning).toBe('too_many_recipients');
  });

  it('bans a client after 30 RCPTs a minute across every Microsoft host, for an hour, then forgets', async () => {
    let now = Date.UTC(2026, 11, 1, 9, 0, 0);
    world = await startMailWorld(spec, { now: () => now });
    const hosts = ['contoso-test.mail.protection.outlook.com', 'tailspin-test.mail.protection.outlook.com'];
    const sessions = [await transaction(hosts[0]!, 0), await transaction(hosts[1]!, 1)];
    for (let i = 0; i < 30; i++) {
      const c = sessions[i % 2]!;
      expect(await ask(c, `RCPT TO:<${i % 2 === 0 ? 'ivan@contoso.test' : 'kim@tailspin.test'}>`)).toBe('250 2.1.5 Recipient OK');
      expect(await ask(c, 'RSET')).toBe('250 2.0.0 Ok');
      expect(await ask(c, 'MAIL FROM:<verify@example.test>')).toBe('250 2.1.0 Sender OK');
      now += 1000;
    }
    const banned = await ask(sessions[0]!, 'RCPT TO:<ivan@contoso.test>');
    expect(banned).toBe(
      '550 5.7.606 Access denied, banned sending IP [127.0.0.1]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609) [BN8NAM11FT066.eop-nam11.prod.protection.outlook.com]',
    );
    expect(blockSignatureOf(table, matcher.providerOf([hosts[0]!]), parsed(banned))).toMatchObject({ id: 'microsoft-banned-sending-ip', about: 'ip', severity: 'block' });
    // The ban holds on every Microsoft host: the other tenant at RCPT, Outlook.com already at MAIL.
    expect(await ask(sessions[1]!, 'RCPT TO:<kim@tailspin.test>')).toMatch(/^550 5\.7\.606 Access denied, banned sending IP \[127\.0\.0\.1\]/);
    const { c: consumer } = await open('hotmail-com.olc.protection.outlook.com');
    await ask(consumer, 'EHLO verifier.example.test');
    const s3140 = await ask(consumer, 'MAIL FROM:<verify@example.test>');
    expect(s3140).toBe(
      "550 5.7.1 Unfortunately, messages from [127.0.0.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. [AM7EUR06FT068.eop-eur06.prod.protection.outlook.com]",
    );
    expect(blockSignatureOf(table, matcher.providerOf(['hotmail-com.olc.protection.outlook.com']), parsed(s3140))?.id).toBe('microsoft-s3140');
    expect(world.operatorStats().microsoft).toMatchObject({ rcptCount: 32, blocksServed: 3, rcptsWhileBlocked: 1, sessionsWhileBlocked: 1, firstBlockAt: Date.UTC(2026, 11, 1, 9, 0, 30) });
    // An hour later the ban is over.
    now += 3_600_000;
    expect(await ask(sessions[0]!, 'RCPT TO:<ivan@contoso.test>')).toBe('250 2.1.5 Recipient OK');
  });
});

describe('provider world: Yahoo, Apple, gateways, a blocklist', () => {
  it('Yahoo accepts every RCPT and defers a client past 10 MAILs a minute with [TSS04]', async () => {
    world = await startMailWorld(spec);
    const { c, greeting } = await open('mta6.am0.yahoodns.net');
    expect(greeting).toBe('220 mtaproxy511.free.mail.bf1.yahoo.com ESMTP ready');
    expect((await ask(c, 'EHLO verifier.example.test')).split('\n')[0]).toBe('250-mtaproxy511.free.mail.bf1.yahoo.com');
    for (let i = 0; i < 10; i++) {
      expect(await ask(c, 'MAIL FROM:<verify@example.test>')).toBe('250 sender <verify@example.test> ok');
      expect(await ask(c, `RCPT TO:<made.up.${i}@yahoo.com>`)).toBe(`250 recipient <made.up.${i}@yahoo.com> ok`);
      expect(await ask(c, 'RSET')).toBe('250 2.0.0 Ok');
    }
    const tss04 = await ask(c, 'MAIL FROM:<verify@example.test>');
    expect(tss04).toBe('421 4.7.0 [TSS04] Messages from 127.0.0.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes');
    await c.closed;
    expect(blockSignatureOf(table, matcher.providerOf(['mta6.am0.yahoodns.net']), parsed(tss04))?.id).toBe('yahoo-tss04');
    expect(world.operatorStats().yahoo).toMatchObject({ rateLimited: 1, rcptCount: 10 });
  });

  it('iCloud, Proofpoint, Mimecast and Barracuda answer in their own ways', async () => {
    world = await startMailWorld(spec);
    const { c: icloud, greeting } = await open('mx02.mail.icloud.com');
    expect(greeting).toBe('220 iCloud iscream SMTP proxy - p00-iscream-smtp-d759469dd-ss5bd 3.5.0 (2403B23-529c1e05a5df)');
    expect((await ask(icloud, 'EHLO verifier.example.test')).split('\n')[0]).toBe('250-p00-iscream-smtp-d759469dd-ss5bd');
    await ask(icloud, 'MAIL FROM:<verify@example.test>');
    expect(await ask(icloud, 'RCPT TO:<mike.ross@icloud.com>')).toBe('250 2.1.5 Ok');
    const unknown = await ask(icloud, 'RCPT TO:<unknown.person@icloud.com>');
    expect(unknown).toBe('550 5.1.1 <unknown.person@icloud.com>: user does not exist');
    expect(replyMeaningOf(matcher.providerOf(['mx02.mail.icloud.com']), parsed(unknown))?.meaning).toBe('mailbox_not_found');
    expect(await ask(icloud, 'RCPT TO:<rachel.zane@icloud.com>')).toBe('552 5.2.2 <rachel.zane@icloud.com>: user is over quota');

    const proofpoint = await transaction('mx0b-00112233.pphosted.com');
    expect(await ask(proofpoint, 'RCPT TO:<nobody@initech-corp.test>')).toBe('250 2.1.5 Ok');
    const barracuda = await transaction('d123456a.ess.barracudanetworks.com');
    expect(await ask(barracuda, 'RCPT TO:<nobody@umbrella-corp.test>')).toBe('250 2.1.5 Ok');
    const mimecast = await transaction('us-smtp-inbound-1.mimecast.com');
    expect(await ask(mimecast, 'RCPT TO:<hank@globex-corp.test>')).toBe('250 2.1.5 Ok');
    expect(await ask(mimecast, 'RCPT TO:<nobody@globex-corp.test>')).toMatch(/^550 Invalid Recipient - https:\/\/community\.mimecast\.com\/docs\/DOC-1369#550 \[\S+\.us123\]$/);
    // A gateway only answers for the domains it fronts.
    expect(await ask(proofpoint, 'RCPT TO:<someone@gmail.com>')).toBe('554 5.7.1 <someone@gmail.com>: Relay access denied');
  });

  it('a host that finds our IP on Spamhaus refuses every RCPT with the Postfix RBL text', async () => {
    world = await startMailWorld(spec);
    const c = await transaction('mx.regional-isp.test');
    const blocked = await ask(c, 'RCPT TO:<customer@regional-isp.test>');
    expect(blocked).toBe('554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1');
    expect(blockSignatureOf(table, null, parsed(blocked))).toMatchObject({ id: 'spamhaus-zen', blocklist: 'zen.spamhaus.org' });
    expect(await ask(c, 'RCPT TO:<customer@regional-isp.test>')).toBe(blocked);
    expect(world.stats()['mx.regional-isp.test']).toMatchObject({ blocksServed: 2, rcptCount: 2 });
  });

  it('counts sessions at once per provider across names and addresses, and DATA', async () => {
    world = await startMailWorld(spec);
    await open('smtp.google.com', 0);
    await open('smtp.google.com', 3);
    const { c } = await open('alt1.gmail-smtp-in.l.google.com');
    expect(world.operatorStats().google).toMatchObject({ currentSessions: 3, maxConcurrentSessions: 3, sessionsOpened: 3, hosts: expect.arrayContaining(['smtp.google.com', 'aspmx5.googlemail.com']) });
    expect(world.stats()['smtp.google.com']?.maxConcurrentSessions).toBe(2);
    await ask(c, 'EHLO verifier.example.test');
    await ask(c, 'MAIL FROM:<verify@example.test>');
    await ask(c, 'RCPT TO:<jane.doe@gmail.com>');
    expect(await ask(c, 'DATA')).toMatch(/^554 /);
    expect(await ask(c, 'QUIT')).toMatch(/^221 /);
    await c.closed;
    expect(world.operatorStats().google).toMatchObject({ currentSessions: 2, dataSeen: 1 });
  });
});
