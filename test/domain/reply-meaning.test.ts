/**
 * What a reply means (src/domain/reply-meaning.ts), the one place that reads a reply: for the
 * address (classifyReply), for us (judgeReply), and both at once (readReply), as tables of real
 * reply texts.
 */
import { describe, expect, it } from 'vitest';
import { classifyReply, judgeReply, readReply, type ReplyClass, type ReplyStage } from '../../src/domain/reply-meaning.ts';
import type { SmtpCommand, SmtpReply } from '../../src/domain/smtp-reply.ts';
import { createReplyParser } from '../../src/smtp/reply-parser.ts';

/** Build the reply the way the session does: through the real parser, from the wire text. */
function reply(wire: string): SmtpReply {
  const replies = createReplyParser().push(wire.endsWith('\n') ? wire : `${wire}\r\n`);
  expect(replies).toHaveLength(1);
  return replies[0] as SmtpReply;
}

type Expected = ReplyClass['kind'] | `temporary:${string}` | `${'undeliverable' | 'risky' | 'unknown' | 'deliverable'}/${string}`;

function summary(c: ReplyClass): string {
  if (c.kind === 'verdict') return `${c.status}/${c.reason}`;
  if (c.kind === 'temporary') return `temporary:${c.reason}`;
  return c.kind;
}

const GMAIL_NO_SUCH_USER =
  '550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n' +
  "550-5.1.1 double-checking the recipient's email address for typos or\r\n" +
  '550-5.1.1 unnecessary spaces. For more information, go to\r\n' +
  '550 5.1.1  https://support.google.com/mail/?p=NoSuchUser d2-20020a05600c34c200b0040e3b5e8b57si1234567wmq.123 - gsmtp\r\n';
const GMAIL_RATE =
  '450-4.2.1 The user you are trying to contact is receiving mail at a rate that\r\n' +
  '450-4.2.1 prevents additional messages from being delivered. Please resend your\r\n' +
  '450-4.2.1 message at a later time. If the user is able to receive mail at that\r\n' +
  '450-4.2.1 time, your message will be delivered. For more information, go to\r\n' +
  '450 4.2.1  https://support.google.com/mail/?p=ReceivingRate a1si123 - gsmtp\r\n';
const GMAIL_OVER_QUOTA =
  '552-5.2.2 The recipient\'s inbox is out of storage space and inactive. Please\r\n' +
  '552-5.2.2 direct the recipient to\r\n' +
  '552 5.2.2  https://support.google.com/mail/?p=OverQuotaPerm a1si123 - gsmtp\r\n';
const GMAIL_OVER_QUOTA_TEMP =
  '452-4.2.2 The email account that you tried to reach is over quota. Please direct\r\n' +
  '452 4.2.2 the recipient to https://support.google.com/mail/?p=OverQuotaTemp a1si123 - gsmtp\r\n';
const GMAIL_DISABLED =
  '550-5.2.1 The email account that you tried to reach is disabled. Learn more at\r\n' +
  '550 5.2.1  https://support.google.com/mail/?p=DisabledUser a1si123 - gsmtp\r\n';

const RCPT_TABLE: Array<[string, string, Expected]> = [
  // Other common MTAs' "no such mailbox" answers, without an enhanced code or with a misleading one.
  ['Exim unrouteable', '550 Unrouteable address', 'undeliverable/mailbox_not_found'],
  ['qmail no mailbox', '553 sorry, no mailbox here by that name. (#5.7.1)', 'undeliverable/mailbox_not_found'],
  ['cPanel Exim', '550 No Such User Here', 'undeliverable/mailbox_not_found'],
  ['Office 365 RecipientNotFound (5.1.10 is not null MX here)', '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', 'undeliverable/mailbox_not_found'],
  ['Exim unknown local part', '550 Unknown local part x in <x@d>', 'undeliverable/mailbox_not_found'],
  ['Postfix local table', '550 5.1.1 <x@d>: Recipient address rejected: User unknown in local recipient table', 'undeliverable/mailbox_not_found'],
  ['Postfix virtual table', '550 5.1.1 <x@d>: Recipient address rejected: User unknown in virtual mailbox table', 'undeliverable/mailbox_not_found'],
  ['Postfix relay table', '550 5.1.1 <x@d>: Recipient address rejected: User unknown in relay recipient table', 'undeliverable/mailbox_not_found'],
  ['Gmail no such user (multi-line)', GMAIL_NO_SUCH_USER, 'undeliverable/mailbox_not_found'],
  ['text only: user unknown', '550 <x@d>... User unknown', 'undeliverable/mailbox_not_found'],
  ['text only: no such user', '550 No such user here', 'undeliverable/mailbox_not_found'],
  ['text only: does not exist', '553 sorry, that mailbox does not exist', 'undeliverable/mailbox_not_found'],
  ['Office 365 DBEB', '550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [DB5EUR03FT012.eop-EUR03.prod.protection.outlook.com]', 'undeliverable/mailbox_not_found'],
  ['Postfix null MX', '556 5.1.10 <x@d>: Recipient address rejected: Domain d does not accept mail (nullMX)', 'undeliverable/null_mx'],
  ['bad destination system', '550 5.1.2 <x@d>: Recipient address rejected: Domain not found', 'undeliverable/no_mail_server'],
  ['Gmail disabled', GMAIL_DISABLED, 'undeliverable/mailbox_disabled'],
  ['Gmail over quota (552 5.2.2)', GMAIL_OVER_QUOTA, 'risky/mailbox_full'],
  ['Gmail over quota (452 4.2.2)', GMAIL_OVER_QUOTA_TEMP, 'risky/mailbox_full'],
  ['bare 552', '552 Mailbox full', 'risky/mailbox_full'],
  ['Gmail rate limit 4.2.1', GMAIL_RATE, 'temporary:smtp_error'],
  ['postgrey', '450 4.2.0 <x@d>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/d.html', 'greylisted'],
  ['greylist wording 451', '451 Greylisting in action, please come back later', 'greylisted'],
  ['4.7.1 try again', '451 4.7.1 Please try again later', 'greylisted'],
  ['Postfix too many recipients', '452 4.5.3 Error: too many recipients', 'too_many_recipients'],
  ['Office 365 too many recipients', '452 4.5.3 Too many recipients (AS780090) [AM0PR01MB1234.eurprd01.prod.exchangelabs.com]', 'too_many_recipients'],
  ['Postfix too many errors', '421 4.7.0 mx.d Error: too many errors', 'service_closing'],
  ['Postfix relay denied 554', '554 5.7.1 <x@d>: Relay access denied', 'unknown/policy_block'],
  ['Postfix relay denied 454', '454 4.7.1 <x@d>: Relay access denied', 'unknown/policy_block'],
  ['Spamhaus', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1', 'unknown/policy_block'],
  ['Spamhaus without enhanced code', '550 Your IP 192.0.2.1 is listed at zen.spamhaus.org', 'unknown/policy_block'],
  ['blocklist wording', '550 Rejected: 192.0.2.1 is listed in a DNSBL', 'unknown/policy_block'],
  ['client host rejected 450', '450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]', 'unknown/policy_block'],
  ['helo rejected', '504 5.5.2 <probe>: Helo command rejected: need fully-qualified hostname', 'unknown/policy_block'],
  ['sender rejected (5.1.1 about OUR sender)', '550 5.1.1 <bounce@probe.example.org>: Sender address rejected: User unknown in local recipient table', 'unknown/policy_block'],
  ['Gmail policy 5.7.1', '550 5.7.1 The user or domain that you are sending to (or from) has a policy that prohibited the mail', 'unknown/policy_block'],
  ['5.7.26 unauthenticated', '550 5.7.26 This mail has been blocked because the sender is unauthenticated. - gsmtp', 'unknown/policy_block'],
  ['4.7.x without try-again', '450 4.7.25 Client host rejected: cannot find your hostname', 'unknown/policy_block'],
  ['4.7.x vague', '451 4.7.0 Temporary server error', 'temporary:policy_block'],
  ['other 5xx', '554 5.0.0 Service unavailable', 'unknown/smtp_error'],
  ['other 5xx no enhanced', '550 Requested action not taken', 'unknown/smtp_error'],
  ['other 4xx', '451 4.3.0 Error: queue file write error', 'temporary:smtp_error'],
  ['4xx user unknown is not a verdict', '450 4.1.1 <x@d>: Recipient address rejected: unverified address: host mx.d said: 550 User unknown', 'temporary:smtp_error'],
  ['accepted', '250 2.1.5 Ok', 'accepted'],
];

describe('classifyReply(RCPT, ...)', () => {
  it.each(RCPT_TABLE)('%s', (_name, wire, expected) => {
    const c = classifyReply('RCPT', reply(wire));
    expect(summary(c)).toBe(expected);
    expect(c.detail).toMatch(/^The mail server .+\(\d{3}( \d\.\d{1,3}\.\d{1,3})?\)\.$|^The (domain|mailbox) .+\(\d{3}( \d\.\d{1,3}\.\d{1,3})?\)\.$/);
  });

  it('writes details a person understands', () => {
    expect(classifyReply('RCPT', reply('550 5.1.1 <x@d>: Recipient address rejected: User unknown in local recipient table')).detail).toBe(
      'The mail server says this mailbox does not exist (550 5.1.1).',
    );
  });

  it('never calls a policy rejection undeliverable', () => {
    for (const [, wire, expected] of RCPT_TABLE) {
      if (expected === 'unknown/policy_block') expect(summary(classifyReply('RCPT', reply(wire)))).not.toMatch(/^undeliverable/);
    }
  });
});

describe('classifyReply for other commands', () => {
  const cases: Array<[SmtpCommand, string, string]> = [
    ['MAIL', '250 2.1.0 Ok', 'accepted'],
    ['MAIL', '550 5.1.1 <bounce@probe.example.org>: Sender address rejected: User unknown in local recipient table', 'unknown/policy_block'],
    ['MAIL', '553 5.1.8 <bounce@probe.example.org>: Sender address rejected: Domain not found', 'unknown/policy_block'],
    ['MAIL', '550 5.7.1 Sender rejected', 'unknown/policy_block'],
    ['MAIL', '451 4.1.8 <bounce@probe.example.org>: Sender address rejected: Domain not found', 'temporary:policy_block'],
    ['MAIL', '451 4.3.0 Temporary failure', 'temporary:smtp_error'],
    ['MAIL', '421 4.7.0 mx.d Error: too many errors', 'service_closing'],
    ['MAIL', '450 4.2.0 Greylisted, please retry', 'greylisted'],
    ['CONNECT', '554 5.7.1 mx.d Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 'unknown/policy_block'],
    ['EHLO', '550 5.7.1 <probe>: Helo command rejected: Host not found', 'unknown/policy_block'],
    ['RSET', '250 2.0.0 Ok', 'accepted'],
    ['RSET', '500 5.5.1 Error: unknown command', 'unknown/smtp_error'],
    ['RSET', '421 4.4.2 mx.d Error: timeout exceeded', 'service_closing'],
  ];
  it.each(cases)('%s %s', (command, wire, expected) => {
    expect(summary(classifyReply(command, reply(wire)))).toBe(expected);
  });
});

/**
 * The server echoes the address back (Postfix `<x@d>:`, Exim `local part x in <x@d>`, bare
 * addresses, the domain alone in null-MX replies). A local part or a domain is the list owner's data,
 * not the server's words: none of them may turn a mailbox answer into a block of the whole host.
 */
describe('echoed addresses never decide', () => {
  const HOSTILE_LOCAL_PARTS = ['blocked', 'spamhaus', 'relay', 'rbl', 'blacklist', 'blocklist', 'listed-in', 'dnsbl', 'spamcop', 'barracuda', 'sorbs', 'your.ip', 'ptr', 'client.host.rejected', '"blocked by spamhaus"', '"relay access denied"', '"client host rejected"', '"sender address rejected"', '"is listed in"', '"greylisted"', '"user unknown"', '"too many recipients"', '"over quota"'];
  const HOSTILE_DOMAINS = ['acme.test', 'blocked.test', 'spamhaus.org', 'rbl.blocklist.test', 'relay-denied.test', 'listed-in.test'];
  /** (name, reply with {a} = the address, {l} = its local part, {d} = its domain, expected). */
  const TEMPLATES: Array<[string, string, Expected]> = [
    ['Postfix 5.1.1', '550 5.1.1 <{a}>: Recipient address rejected: User unknown in virtual mailbox table', 'undeliverable/mailbox_not_found'],
    ['Postfix 5.1.1 bare address first', '550 5.1.1 {a}: Recipient address rejected: User unknown', 'undeliverable/mailbox_not_found'],
    ['sendmail style, no enhanced code', '550 <{a}>... User unknown', 'undeliverable/mailbox_not_found'],
    ['address at the end, no enhanced code', '550 No such user here: {a}', 'undeliverable/mailbox_not_found'],
    ['Exim local part echoed alone', '550 Unknown local part {l} in <{a}>', 'undeliverable/mailbox_not_found'],
    ['qmail', '553 sorry, no mailbox here by that name: {a} (#5.7.1)', 'undeliverable/mailbox_not_found'],
    ['multi-line, address in the second line', '550-5.1.1 The email account that you tried to reach does not exist.\r\n550 5.1.1 Recipient: <{a}>', 'undeliverable/mailbox_not_found'],
    ['Office 365 5.1.10', '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {a} not found by SMTP address lookup', 'undeliverable/mailbox_not_found'],
    ['Postfix null MX (domain echoed alone)', '556 5.1.10 <{a}>: Recipient address rejected: Domain {d} does not accept mail (nullMX)', 'undeliverable/null_mx'],
    ['domain not found', '550 5.1.2 <{a}>: Recipient address rejected: Domain {d} not found', 'undeliverable/no_mail_server'],
    ['disabled', '550 5.2.1 <{a}>: Recipient address rejected: Mailbox disabled, not accepting messages', 'undeliverable/mailbox_disabled'],
    ['full', '552 5.2.2 <{a}>: Recipient address rejected: Mailbox full', 'risky/mailbox_full'],
    ['full, 4xx', '452 4.2.2 <{a}>: Recipient address rejected: Mailbox full', 'risky/mailbox_full'],
    ['postgrey', '450 4.2.0 <{a}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{d}.html', 'greylisted'],
    ['unverified (4xx)', '450 4.1.1 <{a}>: Recipient address rejected: unverified address: host mx.{d}[192.0.2.7] said: 550 5.1.1 <{a}>: User unknown', 'temporary:smtp_error'],
    ['generic 4xx', '451 4.3.0 <{a}>: Temporary lookup failure', 'temporary:smtp_error'],
    ['Exim local part echoed alone, 4xx', '450 Unknown local part {l} in <{a}>', 'temporary:smtp_error'],
    ['generic 5xx', '550 5.0.0 <{a}>: Requested action not taken', 'unknown/smtp_error'],
    ['accepted', '250 2.1.5 <{a}>... Recipient ok', 'accepted'],
    // Real blocks stay blocks whatever the address is called.
    ['relay denied', '554 5.7.1 <{a}>: Relay access denied', 'unknown/policy_block'],
    ['Spamhaus', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; <{a}>', 'unknown/policy_block'],
    ['client host rejected with 5.1.1-looking text', '450 4.7.1 <{a}>: Client host rejected: cannot find your hostname, [192.0.2.1]', 'unknown/policy_block'],
  ];
  const cases: Array<[string, string, Expected, string]> = [];
  for (const [name, template, expected] of TEMPLATES) {
    for (const local of HOSTILE_LOCAL_PARTS) {
      for (const domain of local === 'blocked' || local === 'relay' ? HOSTILE_DOMAINS : ['acme.test']) {
        const address = `${local}@${domain}`;
        cases.push([`${name} / ${address}`, template.replaceAll('{a}', address).replaceAll('{l}', local).replaceAll('{d}', domain), expected, address]);
      }
    }
  }

  it.each(cases)('%s', (_name, wire, expected, address) => {
    expect(summary(classifyReply('RCPT', reply(wire), { recipient: address, sender: 'verify@probe.example.org' }))).toBe(expected);
  });

  it('strips angle-bracketed, quoted and bare addresses even when the recipient is not given', () => {
    for (const [, wire, expected, address] of cases) {
      if (wire.includes(` ${address.slice(address.lastIndexOf('@') + 1)} `) || /Unknown local part/.test(wire)) continue; // echoes only the context can name
      expect(summary(classifyReply('RCPT', reply(wire))), wire).toBe(expected);
    }
  });

  it('says whether a block is about our client or the domain', () => {
    const relay = classifyReply('RCPT', reply('554 5.7.1 <x@d>: Relay access denied'), { recipient: 'x@d' });
    expect(relay.kind === 'verdict' && relay.refuses).toBe('domain');
    const spamhaus = classifyReply('RCPT', reply('554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org'));
    expect(spamhaus.kind === 'verdict' && spamhaus.refuses).toBe('client');
    const mailbox = classifyReply('RCPT', reply('550 5.1.1 <blocked@d>: Recipient address rejected: User unknown'), { recipient: 'blocked@d' });
    expect(mailbox.kind === 'verdict' && mailbox.refuses).toBe(undefined);
  });

  it('the enhanced code decides before the words: x.7.x is about us, x.1.1 about the mailbox', () => {
    expect(summary(classifyReply('RCPT', reply('550 5.7.1 Recipient address rejected: user unknown')))).toBe('unknown/policy_block');
    expect(summary(classifyReply('RCPT', reply('550 5.1.1 Recipient address rejected: mailbox blocked')))).toBe('undeliverable/mailbox_not_found');
    expect(summary(classifyReply('RCPT', reply('550 5.2.1 This account is blocked')))).toBe('undeliverable/mailbox_disabled');
    // Generic codes leave it to the words.
    expect(summary(classifyReply('RCPT', reply('550 5.0.0 Your IP is listed at bl.example')))).toBe('unknown/policy_block');
    expect(summary(classifyReply('RCPT', reply('550 5.5.0 No such user')))).toBe('undeliverable/mailbox_not_found');
  });
});

type Row = [stage: ReplyStage, reply: string, owner: 'address' | 'remote' | 'us', pause: boolean, refusesUs: boolean];

const rows: Row[] = [
  // Rate limits aimed at our client: pause the MX fleet-wide.
  ['rcpt', '450 4.7.1 Error: too many recipients from 127.0.0.1', 'us', true, false],
  ['rcpt', '450 4.7.1 <a@d.test>: Recipient address rejected: Error: too many recipients from [192.0.2.1]', 'us', true, false],
  ['greeting', '421 4.7.0 mx.d.test Error: too many connections from 192.0.2.1', 'us', true, false],
  ['ehlo', '421 4.7.0 mx.d.test Error: too many connections from 192.0.2.1', 'us', true, false],
  ['rcpt', '421 4.7.28 [192.0.2.1] Our system has detected an unusual rate of unsolicited mail originating from your IP address. - gsmtp', 'us', true, false],
  ['rcpt', '421 4.7.0 Try again later, closing connection. (RCPT) - gsmtp', 'us', true, false],
  ['mail', '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints', 'us', true, false],
  ['mail', '451 4.7.1 Please try again later', 'remote', true, false],
  ['mail', '450 4.7.1 Sending rate limit exceeded, try again later', 'us', true, false],
  ['rcpt', '550 5.7.1 Message rate limit exceeded', 'us', true, false],
  // A greeting or EHLO that says "busy, later" pauses the MX too (reconnecting at once is hammering).
  ['greeting', '421 Service not available, closing transmission channel', 'remote', true, false],
  ['greeting', '450 4.3.2 Service currently unavailable', 'remote', true, false],
  // Not a rate: the per-message recipient limit (new transaction), greylisting, per-mailbox rate.
  ['rcpt', '452 4.5.3 Error: too many recipients', 'remote', false, false],
  ['rcpt', '450 4.2.0 <a@d.test>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/d.test.html', 'remote', false, false],
  ['rcpt', '451 4.7.1 Please try again later', 'us', false, false],
  ['rcpt', '450 4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages from being delivered. - gsmtp', 'remote', false, false],
  ['rcpt', '421 4.7.0 mx.d.test Error: too many errors', 'remote', false, false],
  ['rcpt', '452 4.2.2 <a@d.test>: mailbox full', 'remote', false, false],
  // Refusals of us: our IP, HELO name, sender.
  ['greeting', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 'us', false, true],
  ['greeting', '554 mx.d.test ESMTP not accepting messages', 'us', false, true],
  ['ehlo', '550 5.7.1 <vm>: Helo command rejected: Host not found', 'us', false, true],
  ['mail', '553 5.1.8 <verify@vm.localdomain>: Sender address rejected: Domain not found', 'us', false, true],
  ['mail', '450 4.1.8 <verify@vm.localdomain>: Sender address rejected: Domain not found', 'us', false, false],
  ['rcpt', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1', 'us', false, true],
  ['rcpt', '504 5.5.2 <vm>: Helo command rejected: need fully-qualified hostname', 'us', false, true],
  ['rcpt', '550 5.7.606 Access denied, banned sending IP [192.0.2.1]', 'us', false, true],
  ['rcpt', '553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1', 'us', false, true],
  ['rcpt', '450 4.7.1 Client host rejected: cannot find your hostname, [192.0.2.1]', 'us', false, false],
  // About the domain's mail set-up, not us and not the mailbox.
  ['rcpt', '554 5.7.1 <a@elsewhere.test>: Relay access denied', 'remote', false, false],
  ['rcpt', '454 4.7.1 <a@elsewhere.test>: Relay access denied', 'remote', false, false],
  // About the mailbox: verdicts.
  ['rcpt', '550 5.1.1 <a@d.test>: Recipient address rejected: User unknown in virtual mailbox table', 'address', false, false],
  ['rcpt', '550 5.1.1 The email account that you tried to reach does not exist. - gsmtp', 'address', false, false],
  ['rcpt', '550 5.4.1 Recipient address rejected: Access denied. AS(201806281)', 'address', false, false],
  ['rcpt', '550 5.2.1 <a@d.test>: mailbox disabled', 'address', false, false],
  ['rcpt', '250 2.1.5 Ok', 'address', false, false],
];

describe('judgeReply: whose fault a reply is, and whether it pauses the MX (real texts: Postfix anvil, postscreen and restrictions, Gmail, Yahoo, Microsoft, greylisting)', () => {
  it.each(rows)('%s %j → %s (pause %s, refuses us %s)', (stage, text, owner, pause, refusesUs) => {
    expect(judgeReply(stage, reply(text))).toEqual({ owner, pause, refusesUs });
  });
});

/** readReply: one reading per reply, every field decided in one place, and the two readings agree. */
type Reading = [stage: ReplyStage, reply: string, meaning: string, owner: 'address' | 'remote' | 'us', pause: boolean];
const readings: Reading[] = [
  ['rcpt', '550 5.1.1 <a@d.test>: Recipient address rejected: User unknown in local recipient table', 'undeliverable/mailbox_not_found', 'address', false],
  // Relay refusals: one answer in every reading, whatever the wording (issue 13: "550 Unable to relay"
  // was smtp_error for the classifier and relay-denied for the pool).
  ['rcpt', '550 Unable to relay for a@elsewhere.test', 'unknown/policy_block', 'remote', false],
  ['rcpt', '554 5.7.1 <a@elsewhere.test>: Relay access denied', 'unknown/policy_block', 'remote', false],
  ['rcpt', '550 5.7.1 Relaying denied', 'unknown/policy_block', 'remote', false],
  ['rcpt', '454 4.7.1 <a@elsewhere.test>: Relay access denied', 'unknown/policy_block', 'remote', false],
  // Anvil's per-client rate: the pause decides (the engine reads `pause` first), not the class.
  ['rcpt', '450 4.7.1 Error: too many recipients from [192.0.2.1]', 'too_many_recipients', 'us', true],
  ['rcpt', '452 4.5.3 Error: too many recipients', 'too_many_recipients', 'remote', false],
  ['rcpt', '421 4.7.0 mx.d.test Error: too many errors', 'service_closing', 'remote', false],
  ['rcpt', '450 4.2.0 <a@d.test>: Recipient address rejected: Greylisted', 'greylisted', 'remote', false],
  ['rcpt', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 'unknown/policy_block', 'us', false],
  ['mail', '553 5.1.8 <verify@vm.localdomain>: Sender address rejected: Domain not found', 'unknown/policy_block', 'us', false],
  ['greeting', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 'unknown/policy_block', 'us', false],
  ['greeting', '421 4.7.0 mx.d.test Error: too many connections from 192.0.2.1', 'service_closing', 'us', true],
];

describe('readReply: status, reason, owner and pause from one call', () => {
  it.each(readings)('%s %j → %s, %s, pause %s', (stage, text, meaning, owner, pause) => {
    const read = readReply(stage, reply(text));
    expect(summary(read.replyClass)).toBe(meaning);
    expect(read.owner).toBe(owner);
    expect(read.pause).toBe(pause);
    expect(read).toEqual({ ...judgeReply(stage, reply(text)), replyClass: read.replyClass });
  });
});
